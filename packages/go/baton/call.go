package baton

import (
	"context"
	"fmt"
	"runtime/debug"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

// call runs the handler for t while keeping its lease alive. A panic
// becomes a FAILED outcome so one bad task cannot take the worker down.
func (l *lane) call(base context.Context, t *batonv1.LeasedTask) (out outcome) {
	ctx, cancel := context.WithCancelCause(withTask(base, t, l.w.cfg.workerID))
	defer cancel(nil)
	stop := l.keepLease(base, t, cancel)
	defer stop()
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("baton: handler panicked", "task_id", t.GetTaskId(), "panic", p, "stack", string(debug.Stack()))
			out = outcome{status: batonv1.TaskStatus_TASK_STATUS_FAILED, reason: fmt.Sprintf("panic: %v", p)}
		}
	}()
	return l.reg.call(ctx, t.GetInputJson())
}
