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

// keepLease extends t's lease at half its remaining time until the returned
// stop is called. If the server refuses (the task timed out or went to
// another worker) it cancels the handler with ErrLeaseLost. stop waits for
// the keeper to exit.
func (l *lane) keepLease(base context.Context, t *batonv1.LeasedTask, lost context.CancelCauseFunc) (stop func()) {
	expires := time.UnixMilli(t.GetLeaseExpiresMs())
	if t.GetLeaseExpiresMs() == 0 {
		if t.GetResponseTimeoutSeconds() <= 0 {
			return func() {} // no lease to keep
		}
		expires = time.Now().Add(time.Duration(t.GetResponseTimeoutSeconds()) * time.Second)
	}
	ctx, cancel := context.WithCancel(base)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		retry := backoff{min: l.w.cfg.minBackoff, max: l.w.cfg.maxBackoff}
		wait := max(time.Until(expires)/2, minLeaseWait)
		for sleep(ctx, wait) {
			// A call that outlives the lease is pointless; give it at least 1s.
			cctx, cancelCall := context.WithTimeout(ctx, max(time.Until(expires), time.Second))
			resp, err := l.w.tasks.ExtendLease(cctx, &batonv1.ExtendLeaseRequest{
				TaskId:     t.GetTaskId(),
				LeaseToken: t.GetLeaseToken(),
			})
			cancelCall()
			switch code := status.Code(err); {
			case err == nil:
				retry.reset()
				expires = time.UnixMilli(resp.GetLeaseExpiresMs())
				wait = max(time.Until(expires)/2, minLeaseWait)
			case ctx.Err() != nil:
				return
			case code == codes.FailedPrecondition || code == codes.NotFound:
				l.log.Warn("baton: lease lost, cancelling handler", "task_id", t.GetTaskId(), "err", err)
				lost(ErrLeaseLost)
				return
			default:
				// Try again soon, but never sleep past the lease's end.
				wait = max(min(retry.next(), time.Until(expires)/2), minLeaseWait)
				l.log.Warn("baton: extend lease failed", "task_id", t.GetTaskId(), "err", err, "retry_in", wait)
			}
		}
	}()
	return func() {
		cancel()
		<-exited
	}
}
