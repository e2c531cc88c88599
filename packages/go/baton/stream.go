package baton

import (
	"context"
	"errors"
	"io"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

// stream runs one Dispatch stream: subscribe, grant a credit per free slot,
// start each pushed task, grant again as tasks finish. When ctx is done it
// stops granting, half-closes and runs what still arrives until the server
// ends the stream (or the drain timeout passes). delivered tells whether any
// task came through.
func (l *lane) stream(ctx context.Context) (delivered bool, err error) {
	// The stream outlives ctx so that it can be half-closed cleanly.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	st, err := l.w.tasks.Dispatch(sctx)
	if err != nil {
		return false, err
	}
	sub := &batonv1.Subscribe{TaskTypes: []string{l.reg.taskType}, WorkerId: l.w.cfg.workerID, Domain: l.w.cfg.domain}
	if err := st.Send(&batonv1.DispatchRequest{Kind: &batonv1.DispatchRequest_Subscribe{Subscribe: sub}}); err != nil {
		return false, recvError(st, err)
	}

	pushed := make(chan *batonv1.LeasedTask)
	ended := make(chan error, 1)
	go func() {
		for {
			resp, err := st.Recv()
			if err != nil {
				ended <- err
				return
			}
			if resp.GetTask() == nil {
				continue
			}
			select {
			case pushed <- resp.GetTask():
			case <-sctx.Done():
				ended <- sctx.Err()
				return
			}
		}
	}()

	// Invariant: running + queued + outstanding credits <= concurrency.
	outstanding := 0
	sendable := true // false once Send failed; the reason then comes from Recv
	var sendErr error
	grant := func() {
		n := l.free() - outstanding
		if n <= 0 || !sendable {
			return
		}
		if err := st.Send(&batonv1.DispatchRequest{Kind: &batonv1.DispatchRequest_Credits{Credits: int32(n)}}); err != nil {
			if !errors.Is(err, io.EOF) {
				sendErr = err
				cancel() // ends Recv too
			}
			sendable = false
			return
		}
		outstanding += n
	}
	grant()

	done := ctx.Done()
	var drainTimeout <-chan time.Time
	for {
		select {
		case t := <-pushed:
			delivered = true
			outstanding = max(outstanding-1, 0)
			l.start(ctx, t)
		case <-l.freed:
			if done != nil {
				grant()
			}
		case <-done:
			done = nil
			if !sendable || st.CloseSend() != nil {
				return delivered, nil
			}
			timer := time.NewTimer(l.w.cfg.drainTimeout)
			defer timer.Stop()
			drainTimeout = timer.C
		case <-drainTimeout:
			l.log.Warn("baton: server did not end the dispatch stream after half-close")
			return delivered, nil
		case err := <-ended:
			if done == nil {
				return delivered, nil // draining: the server said goodbye
			}
			if sendErr != nil {
				return delivered, sendErr
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("server ended the dispatch stream")
			}
			return delivered, err
		}
	}
}

// recvError turns a failed Send into the stream's real status: gRPC reports
// io.EOF from Send and leaves the reason to Recv.
func recvError(st batonv1.TaskService_DispatchClient, err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	for {
		if _, rerr := st.Recv(); rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return errors.New("server ended the dispatch stream")
			}
			return rerr
		}
	}
}
