package baton

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc"
)

// Worker serves registered task types over TaskService.Dispatch. Register
// handlers with Handle, then call Run.
type Worker struct {
	tasks batonv1.TaskServiceClient
	cfg   workerConfig

	mu       sync.Mutex
	regs     []*registration
	byType   map[string]bool
	running  bool
	finished bool
}

type workerConfig struct {
	workerID      string
	domain        string
	logger        *slog.Logger
	minBackoff    time.Duration
	maxBackoff    time.Duration
	resultTimeout time.Duration
	drainTimeout  time.Duration
}

// WorkerOption configures a Worker.
type WorkerOption func(*workerConfig)

// WithWorkerID names the worker in subscriptions and results (default
// "<hostname>-<pid>").
func WithWorkerID(id string) WorkerOption { return func(c *workerConfig) { c.workerID = id } }

// WithDomain subscribes in a task domain (Conductor's taskToDomain).
func WithDomain(domain string) WorkerOption { return func(c *workerConfig) { c.domain = domain } }

// WithLogger sets where the worker logs (default slog.Default()).
func WithLogger(l *slog.Logger) WorkerOption { return func(c *workerConfig) { c.logger = l } }

// WithBackoff sets the reconnect and retry backoff: it starts near min and
// doubles, with jitter, up to max (defaults 200ms and 15s).
func WithBackoff(min, max time.Duration) WorkerOption {
	return func(c *workerConfig) { c.minBackoff, c.maxBackoff = min, max }
}

// WithResultTimeout bounds how long a finished task's result is retried
// while the server is unreachable before it is dropped (default 10 minutes;
// the server re-queues the task when its lease runs out).
func WithResultTimeout(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.resultTimeout = d }
}

// WithDrainTimeout bounds how long, once Run's context is cancelled, the
// worker waits for the server to end a dispatch stream after it half-closed
// it (default 10s). In-flight handlers are always waited for.
func WithDrainTimeout(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.drainTimeout = d }
}

// NewWorker returns a worker using conn, e.g. from Dial.
func NewWorker(conn grpc.ClientConnInterface, opts ...WorkerOption) *Worker {
	cfg := workerConfig{
		logger:        slog.Default(),
		minBackoff:    200 * time.Millisecond,
		maxBackoff:    15 * time.Second,
		resultTimeout: 10 * time.Minute,
		drainTimeout:  10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.workerID == "" {
		host, _ := os.Hostname()
		cfg.workerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.maxBackoff < cfg.minBackoff {
		cfg.maxBackoff = cfg.minBackoff
	}
	return &Worker{
		tasks:  batonv1.NewTaskServiceClient(conn),
		cfg:    cfg,
		byType: map[string]bool{},
	}
}

// ID returns the worker id sent to the server.
func (w *Worker) ID() string { return w.cfg.workerID }

func (w *Worker) register(r *registration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.running || w.finished:
		panic("baton: Handle called after Run")
	case r.taskType == "":
		panic("baton: Handle: empty task type")
	case w.byType[r.taskType]:
		panic(fmt.Sprintf("baton: task type %q registered twice", r.taskType))
	}
	w.byType[r.taskType] = true
	w.regs = append(w.regs, r)
}

// Run serves the registered task types until ctx is cancelled, then drains:
// it stops granting credits, half-closes its streams, lets in-flight
// handlers finish and delivers their results before returning nil. Handler
// contexts are not cancelled by ctx (only by a lost lease); bound handlers
// yourself if they may run forever. Connection failures are retried, never
// returned. Run may be called once.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running || w.finished {
		w.mu.Unlock()
		return errors.New("baton: Worker.Run called twice")
	}
	if len(w.regs) == 0 {
		w.mu.Unlock()
		return errors.New("baton: no task types registered")
	}
	w.running = true
	regs := w.regs
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running, w.finished = false, true
		w.mu.Unlock()
	}()

	// One stream per task type: credits are per stream, and each type has its
	// own concurrency limit.
	var wg sync.WaitGroup
	for _, r := range regs {
		l := newLane(w, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}
