package baton_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonhq/baton/packages/go/baton"
	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

type empty struct{}

func TestFlowControlNeverExceedsConcurrency(t *testing.T) {
	const limit, total = 3, 12
	f := newFakeTasks(30 * time.Second)
	f.expectLimit("work", limit)
	srv := startServer(t, f, nil)
	for range total {
		f.enqueue("work", `{}`)
	}

	var running, peak atomic.Int32
	started := make(chan struct{}, total)
	release := make(chan struct{})
	w := newWorker(t, srv.addr)
	baton.Handle(w, "work", func(ctx context.Context, _ empty) (empty, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		started <- struct{}{}
		<-release
		return empty{}, nil
	}, baton.Concurrency(limit))
	runWorker(t, w)

	for range limit {
		recv(t, started, "a handler to start")
	}
	// The worker granted exactly its free slots, so the server holds the rest.
	if got := f.readyCount("work"); got != total-limit {
		t.Fatalf("ready tasks left = %d, want %d", got, total-limit)
	}
	close(release)
	for id, r := range results(t, f, total) {
		if r.GetStatus() != batonv1.TaskStatus_TASK_STATUS_COMPLETED {
			t.Errorf("%s: status %v", id, r.GetStatus())
		}
	}
	if p := peak.Load(); p > limit {
		t.Errorf("peak concurrent handlers = %d, limit %d", p, limit)
	}
	if m := f.maxInFlight("work"); m != limit {
		t.Errorf("server saw at most %d in flight, want %d", m, limit)
	}
	if v := f.violations(); len(v) > 0 {
		t.Errorf("credits exceeded the limit: %v", v)
	}
}

type flakyIn struct {
	Mode string `json:"mode"`
}

type flakyOut struct {
	Mode string `json:"mode"`
}

func TestOutcomes(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	baton.Handle(w, "outcome", func(ctx context.Context, in flakyIn) (flakyOut, error) {
		switch in.Mode {
		case "fail":
			return flakyOut{}, errors.New("disk full")
		case "terminal":
			return flakyOut{}, fmt.Errorf("validate: %w", baton.Terminal(errors.New("no such customer")))
		case "panic":
			panic("kaboom")
		case "later":
			return flakyOut{Mode: "half done"}, baton.InProgress(1500 * time.Millisecond)
		}
		return flakyOut{Mode: in.Mode}, nil
	}, baton.Concurrency(2))
	runWorker(t, w)

	cases := []struct {
		input  string
		status batonv1.TaskStatus
		reason string
		output string
		after  int64
	}{
		{`{"mode":"ok"}`, batonv1.TaskStatus_TASK_STATUS_COMPLETED, "", `{"mode":"ok"}`, 0},
		{`{"mode":"fail"}`, batonv1.TaskStatus_TASK_STATUS_FAILED, "disk full", "", 0},
		{`{"mode":"terminal"}`, batonv1.TaskStatus_TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, "validate: no such customer", "", 0},
		{`{"mode":"panic"}`, batonv1.TaskStatus_TASK_STATUS_FAILED, "panic: kaboom", "", 0},
		{`{"mode":"later"}`, batonv1.TaskStatus_TASK_STATUS_IN_PROGRESS, "", `{"mode":"half done"}`, 2},
		{`{"mode": 7}`, batonv1.TaskStatus_TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, "decode input of outcome", "", 0},
		{`[not json`, batonv1.TaskStatus_TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, "decode input of outcome", "", 0},
		{``, batonv1.TaskStatus_TASK_STATUS_COMPLETED, "", `{"mode":""}`, 0},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = f.enqueue("outcome", c.input)
	}
	got := results(t, f, len(cases))
	for i, c := range cases {
		r := got[ids[i]]
		if r.GetStatus() != c.status || !strings.Contains(r.GetReasonForIncompletion(), c.reason) ||
			r.GetOutputJson() != c.output || r.GetCallbackAfterSeconds() != c.after {
			t.Errorf("input %q: got status=%v reason=%q output=%q after=%d; want %v %q %q %d", c.input,
				r.GetStatus(), r.GetReasonForIncompletion(), r.GetOutputJson(), r.GetCallbackAfterSeconds(),
				c.status, c.reason, c.output, c.after)
		}
		if r.GetWorkerId() != "test-worker" || r.GetLeaseToken() == "" {
			t.Errorf("input %q: worker id %q, lease token %q", c.input, r.GetWorkerId(), r.GetLeaseToken())
		}
	}
	// The panic left the worker serving.
	id := f.enqueue("outcome", `{"mode":"after panic"}`)
	if r := recv(t, f.results, "the task after the panic"); r.GetTaskId() != id || r.GetStatus() != batonv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Errorf("after panic: %v", r)
	}
}

func TestHandlerSeesTask(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	seen := make(chan baton.Task, 1)
	baton.Handle(w, "meta", func(ctx context.Context, _ empty) (empty, error) {
		task, _ := baton.TaskFromContext(ctx)
		seen <- task
		return empty{}, nil
	})
	runWorker(t, w)
	id := f.enqueue("meta", "{}")
	task := recv(t, seen, "the handler")
	if task.ID != id || task.WorkflowID != "wf-1" || task.Type != "meta" || task.ReferenceName != "meta_ref" || task.WorkerID != "test-worker" {
		t.Errorf("task = %+v", task)
	}
}

func TestLeaseIsExtendedWhileHandlerRuns(t *testing.T) {
	// A short lease, so that extensions happen within the test; the handler
	// ends only once the server saw two of them, so no timing is assumed.
	f := newFakeTasks(600 * time.Millisecond)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	extended := make(chan *batonv1.ExtendLeaseRequest, 2)
	baton.Handle(w, "slow", func(ctx context.Context, _ empty) (empty, error) {
		for range 2 {
			select {
			case req := <-f.extends:
				extended <- req
			case <-time.After(patience):
				return empty{}, errors.New("lease never extended")
			}
		}
		return empty{}, nil
	})
	runWorker(t, w)
	id := f.enqueue("slow", "{}")
	r := recv(t, f.results, "the slow task's result")
	if r.GetStatus() != batonv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Fatalf("status %v: %s", r.GetStatus(), r.GetReasonForIncompletion())
	}
	for range 2 {
		req := <-extended
		if req.GetTaskId() != id || req.GetLeaseToken() != r.GetLeaseToken() || req.GetExtendSeconds() != 0 {
			t.Errorf("extend request = %v", req)
		}
	}
}

// A server whose clock is ahead of ours: its lease times are far in our
// future, yet the lease lasts only its responseTimeout. The worker must pace
// extensions by the lease's length, not by the server's expiry time.
func TestLeaseIsExtendedWhenServerClockIsAhead(t *testing.T) {
	f := newFakeTasks(time.Second)
	f.skew = time.Hour
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	baton.Handle(w, "slow", func(ctx context.Context, _ empty) (empty, error) {
		for range 2 {
			select {
			case <-f.extends:
			case <-time.After(patience):
				return empty{}, errors.New("lease never extended")
			}
		}
		return empty{}, nil
	})
	runWorker(t, w)
	f.enqueue("slow", "{}")
	r := recv(t, f.results, "the slow task's result")
	if r.GetStatus() != batonv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Fatalf("status %v: %s", r.GetStatus(), r.GetReasonForIncompletion())
	}
}

// A server whose clock is behind ours: every lease it hands out looks
// expired already. The worker must not call ExtendLease in a tight loop.
func TestLeaseExtensionDoesNotSpinWhenServerClockIsBehind(t *testing.T) {
	f := newFakeTasks(2 * time.Second)
	f.skew = -time.Hour
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	baton.Handle(w, "slow", func(ctx context.Context, _ empty) (empty, error) {
		time.Sleep(700 * time.Millisecond) // less than half the 2s lease
		return empty{}, nil
	})
	runWorker(t, w)
	f.enqueue("slow", "{}")
	recv(t, f.results, "the slow task's result")
	if n := len(f.extends); n > 1 {
		t.Errorf("%d ExtendLease calls during a 700ms task with a 2s lease; want at most 1", n)
	}
}

func TestLostLeaseCancelsHandler(t *testing.T) {
	f := newFakeTasks(600 * time.Millisecond)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	started := make(chan string, 1)
	cause := make(chan error, 1)
	baton.Handle(w, "stolen", func(ctx context.Context, _ empty) (empty, error) {
		task, _ := baton.TaskFromContext(ctx)
		started <- task.ID
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return empty{}, ctx.Err()
	})
	runWorker(t, w)
	f.enqueue("stolen", "{}")
	f.revoke(recv(t, started, "the handler"))
	if err := recv(t, cause, "the handler's cancellation"); !errors.Is(err, baton.ErrLeaseLost) {
		t.Errorf("cause = %v, want ErrLeaseLost", err)
	}
}

func TestReconnectsAndDeliversResultAfterServerRestart(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	started := make(chan string, 10)
	release := make(chan struct{})
	baton.Handle(w, "durable", func(ctx context.Context, in flakyIn) (flakyOut, error) {
		task, _ := baton.TaskFromContext(ctx)
		started <- task.ID
		if in.Mode == "wait" {
			<-release
		}
		return flakyOut{Mode: in.Mode}, nil
	}, baton.Concurrency(2))
	runWorker(t, w)

	recv(t, f.subscribes, "the first subscription")
	first := f.enqueue("durable", `{"mode":"wait"}`)
	if got := recv(t, started, "the first task"); got != first {
		t.Fatalf("started %s, want %s", got, first)
	}

	srv.stop()
	close(release) // the result now has nowhere to go until the server is back
	second := f.enqueue("durable", `{"mode":"fresh"}`)
	srv.start()

	recv(t, f.subscribes, "a new subscription after the restart")
	got := results(t, f, 2)
	if r := got[first]; r == nil || r.GetOutputJson() != `{"mode":"wait"}` {
		t.Errorf("result of the task that outlived the server: %v", r)
	}
	if r := got[second]; r == nil || r.GetStatus() != batonv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Errorf("result of the task queued while down: %v", r)
	}
}

func TestResultRetriedWhileUnavailable(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	f.failUpdates(3)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	baton.Handle(w, "retry", func(ctx context.Context, in flakyIn) (flakyOut, error) {
		return flakyOut{Mode: in.Mode}, nil
	})
	runWorker(t, w)
	id := f.enqueue("retry", `{"mode":"eventually"}`)
	r := recv(t, f.results, "the result")
	if r.GetTaskId() != id || r.GetOutputJson() != `{"mode":"eventually"}` {
		t.Errorf("result = %v", r)
	}
	if n := f.refusedUpdates(); n != 3 {
		t.Errorf("refused updates = %d, want 3", n)
	}
}

func TestStaleLeaseResultIsDroppedAndSlotFreed(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	started := make(chan string, 2)
	release := make(chan struct{})
	baton.Handle(w, "stale", func(ctx context.Context, in flakyIn) (flakyOut, error) {
		task, _ := baton.TaskFromContext(ctx)
		started <- task.ID
		if in.Mode == "wait" {
			<-release
		}
		return flakyOut{Mode: in.Mode}, nil
	}) // concurrency 1: the second task runs only once the first slot is free
	runWorker(t, w)

	f.enqueue("stale", `{"mode":"wait"}`)
	f.revoke(recv(t, started, "the first task"))
	close(release) // its UpdateTask now gets FAILED_PRECONDITION
	second := f.enqueue("stale", `{"mode":"next"}`)
	if got := recv(t, started, "the second task"); got != second {
		t.Fatalf("started %s, want %s", got, second)
	}
	if r := recv(t, f.results, "the second result"); r.GetTaskId() != second {
		t.Errorf("result = %v (the stale one must not be applied)", r)
	}
}

func TestGracefulDrainOnCancel(t *testing.T) {
	f := newFakeTasks(30 * time.Second)
	srv := startServer(t, f, nil)
	w := newWorker(t, srv.addr)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var handlerCtxErr error
	var mu sync.Mutex
	baton.Handle(w, "drain", func(ctx context.Context, _ empty) (flakyOut, error) {
		started <- struct{}{}
		<-release
		mu.Lock()
		handlerCtxErr = ctx.Err()
		mu.Unlock()
		return flakyOut{Mode: "finished"}, nil
	}, baton.Concurrency(2))
	cancel, done := runWorker(t, w)

	id := f.enqueue("drain", "{}")
	recv(t, started, "the handler")
	cancel()
	if got := recv(t, f.halfClosed, "the worker to half-close its stream"); got != "drain" {
		t.Fatalf("half-closed %q", got)
	}
	// Nothing new is taken once draining.
	f.enqueue("drain", "{}")
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a handler still running", err)
	case <-time.After(50 * time.Millisecond):
	}

	close(release)
	if err := recv(t, done, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The in-flight result was delivered before Run returned.
	select {
	case r := <-f.results:
		if r.GetTaskId() != id || r.GetOutputJson() != `{"mode":"finished"}` {
			t.Errorf("result = %v", r)
		}
	default:
		t.Fatal("Run returned before the in-flight result was delivered")
	}
	if n := f.readyCount("drain"); n != 1 {
		t.Errorf("ready tasks = %d, want 1 (untouched)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if handlerCtxErr != nil {
		t.Errorf("handler context was cancelled by the drain: %v", handlerCtxErr)
	}
}

func TestRunNeedsHandlers(t *testing.T) {
	w := newWorker(t, "127.0.0.1:1")
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("Run with no handlers succeeded")
	}
}
