package baton

import (
	"context"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const updateCallTimeout = 30 * time.Second

// report delivers a task's outcome, retrying while the server is
// unreachable (up to the result timeout): a result lost here would only come
// back as a lease timeout and a retry of work already done.
func (l *lane) report(base context.Context, t *batonv1.LeasedTask, out outcome) {
	req := &batonv1.UpdateTaskRequest{Result: &batonv1.TaskResult{
		TaskId:                t.GetTaskId(),
		LeaseToken:            t.GetLeaseToken(),
		Status:                out.status,
		OutputJson:            out.outputJSON,
		ReasonForIncompletion: out.reason,
		CallbackAfterSeconds:  out.callbackAfter,
		WorkerId:              l.w.cfg.workerID,
	}}
	ctx, cancel := context.WithTimeout(base, l.w.cfg.resultTimeout)
	defer cancel()
	log := l.log.With("task_id", t.GetTaskId(), "status", out.status.String())
	retry := backoff{min: l.w.cfg.minBackoff, max: l.w.cfg.maxBackoff}
	for {
		// A hung call must not eat the whole retry budget.
		cctx, cancelCall := context.WithTimeout(ctx, updateCallTimeout)
		resp, err := l.w.tasks.UpdateTask(cctx, req)
		cancelCall()
		switch status.Code(err) {
		case codes.OK:
			if !resp.GetApplied() {
				log.Info("baton: task had already ended, result ignored")
			}
			return
		case codes.FailedPrecondition:
			log.Warn("baton: lease is stale, result dropped", "err", err)
			return
		case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
			// Transient: retry below.
		default:
			log.Error("baton: result refused", "err", err)
			return
		}
		d := retry.next()
		log.Warn("baton: result not delivered, retrying", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			log.Error("baton: result dropped after retrying", "err", err)
			return
		}
	}
}
