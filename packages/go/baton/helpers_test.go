package baton_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/batonhq/baton/packages/go/baton"
	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// patience bounds every wait in these tests: long enough for a loaded CI
// machine, and only ever reached when something is broken.
const patience = 15 * time.Second

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := baton.Dial(addr, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           grpcbackoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 200 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newWorker(t *testing.T, addr string, opts ...baton.WorkerOption) *baton.Worker {
	t.Helper()
	base := []baton.WorkerOption{
		baton.WithWorkerID("test-worker"),
		baton.WithLogger(quietLogger()),
		baton.WithBackoff(10*time.Millisecond, 200*time.Millisecond),
	}
	return baton.NewWorker(dial(t, addr), append(base, opts...)...)
}

// runWorker runs w until cancel is called or the test ends; done yields
// Run's error.
func runWorker(t *testing.T, w *baton.Worker) (cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		ch <- w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(patience):
			t.Error("worker did not stop")
		}
	})
	return cancel, ch
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// results collects n results, keyed by task id.
func results(t *testing.T, f *fakeTasks, n int) map[string]*batonv1.TaskResult {
	t.Helper()
	out := map[string]*batonv1.TaskResult{}
	for range n {
		r := recv(t, f.results, "a task result")
		out[r.GetTaskId()] = r
	}
	return out
}
