package baton_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeTasks is an in-memory TaskService: a ready queue per task type, a
// lease per handed-out task, and channels that let tests observe what the
// worker did without sleeping.
type fakeTasks struct {
	batonv1.UnimplementedTaskServiceServer

	lease time.Duration // how long a lease lasts when handed out or extended
	skew  time.Duration // the fake's clock minus ours, for the lease times it sends

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every state change
	ready     map[string][]*batonv1.LeasedTask
	leased    map[string]*batonv1.LeasedTask
	inFlight  map[string]int // per task type: leased, no result yet
	limit     map[string]int // per task type: the worker's concurrency
	maxSeen   map[string]int
	violation []string
	nextID    int
	failNext  int // UpdateTask calls still to refuse with UNAVAILABLE
	refused   int

	results    chan *batonv1.TaskResult
	extends    chan *batonv1.ExtendLeaseRequest
	subscribes chan *batonv1.Subscribe
	halfClosed chan string // task type of a stream the worker half-closed
}

func newFakeTasks(lease time.Duration) *fakeTasks {
	return &fakeTasks{
		lease:      lease,
		changed:    make(chan struct{}),
		ready:      map[string][]*batonv1.LeasedTask{},
		leased:     map[string]*batonv1.LeasedTask{},
		inFlight:   map[string]int{},
		limit:      map[string]int{},
		maxSeen:    map[string]int{},
		results:    make(chan *batonv1.TaskResult, 1000),
		extends:    make(chan *batonv1.ExtendLeaseRequest, 1000),
		subscribes: make(chan *batonv1.Subscribe, 100),
		halfClosed: make(chan string, 100),
	}
}

// broadcast must be called with mu held.
func (f *fakeTasks) broadcast() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// enqueue makes a task of taskType ready and returns its id.
func (f *fakeTasks) enqueue(taskType, inputJSON string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("task-%d", f.nextID)
	f.ready[taskType] = append(f.ready[taskType], &batonv1.LeasedTask{
		TaskId:                 id,
		WorkflowId:             "wf-1",
		TaskType:               taskType,
		ReferenceTaskName:      taskType + "_ref",
		InputJson:              inputJSON,
		ResponseTimeoutSeconds: int64(f.lease / time.Second),
	})
	f.broadcast()
	return id
}

// expectLimit makes the fake check that credits never let more than n
// tasks of taskType be in flight.
func (f *fakeTasks) expectLimit(taskType string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit[taskType] = n
}

func (f *fakeTasks) violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violation...)
}

func (f *fakeTasks) maxInFlight(taskType string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxSeen[taskType]
}

// dispatchStream is one worker stream's state, guarded by fakeTasks.mu.
type dispatchStream struct {
	taskType string
	credits  int
	closed   bool
}

func (f *fakeTasks) Dispatch(stream batonv1.TaskService_DispatchServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	sub := first.GetSubscribe()
	if sub == nil || len(sub.GetTaskTypes()) != 1 {
		return status.Error(codes.InvalidArgument, "first message must subscribe to one task type")
	}
	f.subscribes <- sub
	s := &dispatchStream{taskType: sub.GetTaskTypes()[0]}

	go func() {
		for {
			req, err := stream.Recv()
			f.mu.Lock()
			if err != nil {
				s.closed = true
				if errors.Is(err, io.EOF) {
					f.halfClosed <- s.taskType
				}
				f.broadcast()
				f.mu.Unlock()
				return
			}
			s.credits += int(req.GetCredits())
			if lim, ok := f.limit[s.taskType]; ok && s.credits+f.inFlight[s.taskType] > lim {
				f.violation = append(f.violation, fmt.Sprintf("%s: %d credits + %d in flight > %d",
					s.taskType, s.credits, f.inFlight[s.taskType], lim))
			}
			f.broadcast()
			f.mu.Unlock()
		}
	}()

	for {
		f.mu.Lock()
		if s.closed {
			f.mu.Unlock()
			return nil // half-closed: end the stream cleanly
		}
		if q := f.ready[s.taskType]; s.credits > 0 && len(q) > 0 {
			t := q[0]
			f.ready[s.taskType] = q[1:]
			s.credits--
			t.LeaseToken = fmt.Sprintf("%s-lease-%d", t.TaskId, t.PollCount)
			t.PollCount++
			t.LeaseExpiresMs = time.Now().Add(f.skew + f.lease).UnixMilli()
			f.leased[t.TaskId] = t
			f.inFlight[s.taskType]++
			f.maxSeen[s.taskType] = max(f.maxSeen[s.taskType], f.inFlight[s.taskType])
			msg := &batonv1.DispatchResponse{Task: cloneTask(t)}
			f.mu.Unlock()
			if err := stream.Send(msg); err != nil {
				return err
			}
			continue
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// cloneTask copies t so the stream never shares a message the fake mutates.
func cloneTask(t *batonv1.LeasedTask) *batonv1.LeasedTask {
	return proto.Clone(t).(*batonv1.LeasedTask)
}

// revoke gives a leased task's lease to "someone else", as a server does
// when the lease timed out.
func (f *fakeTasks) revoke(taskID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.leased[taskID]; ok {
		t.LeaseToken += "-revoked"
	}
}

// failUpdates makes the next n UpdateTask calls fail with UNAVAILABLE.
func (f *fakeTasks) failUpdates(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = n
}

func (f *fakeTasks) refusedUpdates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

func (f *fakeTasks) readyCount(taskType string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ready[taskType])
}

func (f *fakeTasks) UpdateTask(_ context.Context, req *batonv1.UpdateTaskRequest) (*batonv1.UpdateTaskResponse, error) {
	r := req.GetResult()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		f.refused++
		return nil, status.Error(codes.Unavailable, "try again")
	}
	t, ok := f.leased[r.GetTaskId()]
	if !ok {
		return &batonv1.UpdateTaskResponse{Applied: false}, nil
	}
	if t.LeaseToken != r.GetLeaseToken() {
		return nil, status.Error(codes.FailedPrecondition, "stale lease")
	}
	delete(f.leased, r.GetTaskId())
	f.inFlight[t.TaskType]--
	f.results <- r
	f.broadcast()
	return &batonv1.UpdateTaskResponse{Applied: true}, nil
}

func (f *fakeTasks) ExtendLease(_ context.Context, req *batonv1.ExtendLeaseRequest) (*batonv1.ExtendLeaseResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.leased[req.GetTaskId()]
	if !ok || t.LeaseToken != req.GetLeaseToken() {
		return nil, status.Error(codes.FailedPrecondition, "stale lease")
	}
	f.extends <- req
	t.LeaseExpiresMs = time.Now().Add(f.skew + f.lease).UnixMilli()
	return &batonv1.ExtendLeaseResponse{LeaseExpiresMs: t.LeaseExpiresMs}, nil
}

// testServer serves the fakes on a fixed loopback port that survives
// stop/start, so tests can take the server away and bring it back.
type testServer struct {
	t     *testing.T
	tasks *fakeTasks
	flows batonv1.WorkflowServiceServer
	addr  string
	srv   *grpc.Server
}

func startServer(t *testing.T, tasks *fakeTasks, flows batonv1.WorkflowServiceServer) *testServer {
	t.Helper()
	ts := &testServer{t: t, tasks: tasks, flows: flows, addr: "127.0.0.1:0"}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	var lis net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if lis, err = net.Listen("tcp", ts.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		ts.t.Fatalf("listen %s: %v", ts.addr, err)
	}
	ts.addr = lis.Addr().String()
	ts.srv = grpc.NewServer()
	if ts.tasks != nil {
		batonv1.RegisterTaskServiceServer(ts.srv, ts.tasks)
	}
	if ts.flows != nil {
		batonv1.RegisterWorkflowServiceServer(ts.srv, ts.flows)
	}
	go ts.srv.Serve(lis) //nolint:errcheck // Serve returns when stopped
}

func (ts *testServer) stop() {
	if ts.srv != nil {
		ts.srv.Stop()
		ts.srv = nil
	}
}
