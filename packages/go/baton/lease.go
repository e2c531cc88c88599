package baton

import (
	"context"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// minLeaseWait keeps a nearly expired lease from turning into a busy loop.
const minLeaseWait = 50 * time.Millisecond

// leaseLength is how long t's lease lasts from its hand-out or from an
// extension, measured on our clock alone: the server's expiry times are on
// its clock, which need not agree with ours (one that is ahead would have us
// wait past the lease, one that is behind would have us spin). 0: no lease.
func leaseLength(t *batonv1.LeasedTask) time.Duration {
	if s := t.GetResponseTimeoutSeconds(); s > 0 {
		return time.Duration(s) * time.Second
	}
	if ms := t.GetLeaseExpiresMs(); ms > 0 {
		// No length given: the time left as handed out, assumed again for each
		// extension, and at least a second, so that skew cannot make it spin.
		return max(time.Until(time.UnixMilli(ms)), time.Second)
	}
	return 0
}

// keepLease extends t's lease at half its length until the returned stop is
// called. If the server refuses (the task timed out or went to another
// worker) it cancels the handler with ErrLeaseLost. stop waits for the keeper
// to exit.
func (l *lane) keepLease(base context.Context, t *batonv1.LeasedTask, lost context.CancelCauseFunc) (stop func()) {
	length := leaseLength(t)
	if length <= 0 {
		return func() {} // no lease to keep
	}
	ctx, cancel := context.WithCancel(base)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		retry := backoff{min: l.w.cfg.minBackoff, max: l.w.cfg.maxBackoff}
		expires := time.Now().Add(length) // our estimate, on our clock
		wait := max(length/2, minLeaseWait)
		for sleep(ctx, wait) {
			// A call that outlives the lease is pointless; give it at least 1s.
			cctx, cancelCall := context.WithTimeout(ctx, max(time.Until(expires), time.Second))
			sent := time.Now()
			_, err := l.w.tasks.ExtendLease(cctx, &batonv1.ExtendLeaseRequest{
				TaskId:     t.GetTaskId(),
				LeaseToken: t.GetLeaseToken(),
			})
			cancelCall()
			switch code := status.Code(err); {
			case err == nil:
				retry.reset()
				expires = sent.Add(length)
				wait = max(time.Until(expires)/2, minLeaseWait)
			case ctx.Err() != nil:
				return
			case code == codes.FailedPrecondition || code == codes.NotFound:
				l.log.Warn("baton: lease lost, cancelling handler", "task_id", t.GetTaskId(), "err", err)
				lost(ErrLeaseLost)
				return
			default:
				// Try again soon, but never sleep past the lease's end; once
				// past it (the server unreachable all along), back off.
				if left := time.Until(expires); left > 0 {
					wait = max(min(retry.next(), left/2), minLeaseWait)
				} else {
					wait = retry.next()
				}
				l.log.Warn("baton: extend lease failed", "task_id", t.GetTaskId(), "err", err, "retry_in", wait)
			}
		}
	}()
	return func() {
		cancel()
		<-exited
	}
}
