package baton

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

// lane serves one task type: it keeps a dispatch stream open (reconnecting
// as needed) and runs at most `concurrency` tasks at once. In-flight tasks
// belong to the lane, not the stream, so they outlive reconnects.
type lane struct {
	w   *Worker
	reg *registration
	log *slog.Logger

	slots   chan struct{} // one token per running task; cap = concurrency
	waiting atomic.Int32  // tasks pushed beyond our credits, queued for a slot
	freed   chan struct{} // nudges the stream loop to grant credits again
	tasks   sync.WaitGroup
}

func newLane(w *Worker, r *registration) *lane {
	return &lane{
		w:     w,
		reg:   r,
		log:   w.cfg.logger.With("task_type", r.taskType, "worker_id", w.cfg.workerID),
		slots: make(chan struct{}, r.concurrency),
		freed: make(chan struct{}, 1),
	}
}

// healthyStream is how long a stream must last for the backoff to start
// over, when it delivered no task (the server may simply have had none).
const healthyStream = 30 * time.Second

// run keeps a stream open until ctx is done, then waits for in-flight tasks.
func (l *lane) run(ctx context.Context) {
	b := backoff{min: l.w.cfg.minBackoff, max: l.w.cfg.maxBackoff}
	for ctx.Err() == nil {
		began := time.Now()
		delivered, err := l.stream(ctx)
		if ctx.Err() != nil {
			break
		}
		if delivered || time.Since(began) > healthyStream {
			b.reset()
		}
		d := b.next()
		l.log.Warn("baton: dispatch stream ended, reconnecting", "err", err, "retry_in", d)
		sleep(ctx, d)
	}
	l.tasks.Wait()
}

// free is how many more tasks the lane can take right now.
func (l *lane) free() int {
	return cap(l.slots) - len(l.slots) - int(l.waiting.Load())
}

// start runs t in a free slot, or queues it for one when the server pushed
// more than it was granted: the limit holds either way.
func (l *lane) start(ctx context.Context, t *batonv1.LeasedTask) {
	l.tasks.Add(1)
	select {
	case l.slots <- struct{}{}:
		go l.execute(ctx, t)
	default:
		l.log.Warn("baton: server pushed a task beyond the granted credits", "task_id", t.GetTaskId())
		l.waiting.Add(1)
		go func() {
			l.slots <- struct{}{}
			l.waiting.Add(-1)
			l.execute(ctx, t)
		}()
	}
}

// execute runs one task, reports its result, then frees its slot (so a
// credit goes back only once the server knows the task is done).
func (l *lane) execute(ctx context.Context, t *batonv1.LeasedTask) {
	defer l.tasks.Done()
	defer func() {
		<-l.slots
		select {
		case l.freed <- struct{}{}:
		default:
		}
	}()
	base := context.WithoutCancel(ctx)
	out := l.call(base, t)
	l.report(base, t, out)
}
