// The bench's Temporal worker, in Go as Temporal's own load tests are: the
// bench's three workflows (a 3-step sequence, a windowed fan-out, a run that
// waits for a signal) and their no-op activities on one task queue.
//
// It talks to the bench driver over stdio: every few milliseconds it prints
// "C <a> <b> <c> <item>" (activity completions so far, per type) when they
// changed; "stamps on" on stdin makes each activity print "S <ms>" (its
// handler holding it, minus the attempt's scheduled time, both ns clocks of
// this machine); "flush" answers "F" once everything before it is printed.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The retry policy a user would write: the SDK's defaults spelled out (1 s, doubling, at most 100 s apart,
// no attempt limit), so an attempt lost to a starved machine is retried instead of failing the run.
var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    100 * time.Second,
		MaximumAttempts:    0,
	},
}

// Seq3 runs bench_a, bench_b and bench_c one after another.
func Seq3(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	for _, name := range []string{"bench_a", "bench_b", "bench_c"} {
		if err := workflow.ExecuteActivity(ctx, name, n).Get(ctx, &n); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// FanoutWindow keeps pending activities under the server's limit of 2,000 per workflow.
const FanoutWindow = 1000

// Fanout runs count bench_item activities, at most FanoutWindow pending at once, and waits for all.
func Fanout(ctx workflow.Context, count int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	selector := workflow.NewSelector(ctx)
	var failed error
	next, pending := 0, 0
	schedule := func() {
		f := workflow.ExecuteActivity(ctx, "bench_item", next)
		next++
		pending++
		selector.AddFuture(f, func(f workflow.Future) {
			pending--
			if err := f.Get(ctx, nil); err != nil && failed == nil {
				failed = err
			}
		})
	}
	for next < count && pending < FanoutWindow {
		schedule()
	}
	for pending > 0 {
		selector.Select(ctx)
		if failed != nil {
			return 0, failed
		}
		if next < count {
			schedule()
		}
	}
	return count, nil
}

// Waiting holds until it is signalled "release" (the memory scenario).
func Waiting(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, "release").Receive(ctx, nil)
	return nil
}

type out struct {
	mu     sync.Mutex
	w      *bufio.Writer
	stamps atomic.Bool
}

func (o *out) printf(format string, args ...any) {
	o.mu.Lock()
	fmt.Fprintf(o.w, format, args...)
	o.mu.Unlock()
}

func (o *out) flush() {
	o.mu.Lock()
	_ = o.w.Flush()
	o.mu.Unlock()
}

func main() {
	address := flag.String("address", "127.0.0.1:7233", "frontend host:port")
	namespace := flag.String("namespace", "default", "namespace")
	taskQueue := flag.String("task-queue", "bench", "task queue")
	activitySlots := flag.Int("activity-slots", 192, "MaxConcurrentActivityExecutionSize")
	workflowSlots := flag.Int("workflow-slots", 64, "MaxConcurrentWorkflowTaskExecutionSize")
	activityPollers := flag.Int("activity-pollers", 8, "MaxConcurrentActivityTaskPollers")
	workflowPollers := flag.Int("workflow-pollers", 8, "MaxConcurrentWorkflowTaskPollers")
	flag.Parse()

	c, err := client.Dial(client.Options{HostPort: *address, Namespace: *namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		log.Fatalf("dial %s: %v", *address, err)
	}
	defer c.Close()

	o := &out{w: bufio.NewWriterSize(os.Stdout, 1<<16)}
	var counts [4]atomic.Int64
	noop := func(index int) func(ctx context.Context, n int) (int, error) {
		return func(ctx context.Context, n int) (int, error) {
			if o.stamps.Load() {
				info := activity.GetInfo(ctx)
				o.printf("S %.3f\n", float64(time.Since(info.ScheduledTime).Microseconds())/1000)
			}
			counts[index].Add(1)
			return n + 1, nil
		}
	}

	w := worker.New(c, *taskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize:     *activitySlots,
		MaxConcurrentWorkflowTaskExecutionSize: *workflowSlots,
		MaxConcurrentActivityTaskPollers:       *activityPollers,
		MaxConcurrentWorkflowTaskPollers:       *workflowPollers,
	})
	w.RegisterWorkflowWithOptions(Seq3, workflow.RegisterOptions{Name: "seq3"})
	w.RegisterWorkflowWithOptions(Fanout, workflow.RegisterOptions{Name: "fanout"})
	w.RegisterWorkflowWithOptions(Waiting, workflow.RegisterOptions{Name: "waiting"})
	for i, name := range []string{"bench_a", "bench_b", "bench_c", "bench_item"} {
		w.RegisterActivityWithOptions(noop(i), activity.RegisterOptions{Name: name})
	}
	if err := w.Start(); err != nil {
		log.Fatalf("worker start: %v", err)
	}
	defer w.Stop()
	o.printf("READY\n")
	o.flush()

	go func() {
		var last [4]int64
		for range time.Tick(5 * time.Millisecond) {
			var now [4]int64
			for i := range counts {
				now[i] = counts[i].Load()
			}
			if now != last {
				o.printf("C %d %d %d %d\n", now[0], now[1], now[2], now[3])
				last = now
			}
			o.flush()
		}
	}()

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "stamps on":
			o.stamps.Store(true)
		case "stamps off":
			o.stamps.Store(false)
		case "flush":
			o.printf("F\n")
			o.flush()
		}
	}
	// stdin closed: the driver is done (or gone).
}
