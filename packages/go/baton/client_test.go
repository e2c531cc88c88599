package baton_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/packages/go/baton"
	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeFlows is a WorkflowService whose runs end on the second wait, so that
// clients have to keep waiting past the server's cap.
type fakeFlows struct {
	batonv1.UnimplementedWorkflowServiceServer

	mu      sync.Mutex
	starts  []*batonv1.StartWorkflowRequest
	byKey   map[string]string
	waits   map[string]int
	waitMs  []int64
	nextRun int
}

func newFakeFlows() *fakeFlows {
	return &fakeFlows{byKey: map[string]string{}, waits: map[string]int{}}
}

func (f *fakeFlows) start(req *batonv1.StartWorkflowRequest) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, req)
	if id, ok := f.byKey[req.GetIdempotencyKey()]; ok && req.GetIdempotencyKey() != "" {
		return id, false
	}
	f.nextRun++
	id := "wf-" + string(rune('0'+f.nextRun))
	f.byKey[req.GetIdempotencyKey()] = id
	return id, true
}

func (f *fakeFlows) run(id string, finished bool) *batonv1.Workflow {
	wf := &batonv1.Workflow{
		WorkflowId: id, WorkflowName: "greet", WorkflowVersion: 3,
		Status: batonv1.WorkflowStatus_WORKFLOW_STATUS_RUNNING, InputJson: `{"name":"Zoë"}`,
		CreateTimeMs: 1700000000000,
	}
	if finished {
		wf.Status = batonv1.WorkflowStatus_WORKFLOW_STATUS_COMPLETED
		wf.OutputJson = `{"greeting":"Hello, Zoë","count":9007199254740993}`
		wf.EndTimeMs = 1700000001000
	}
	return wf
}

func (f *fakeFlows) startRequests() []*batonv1.StartWorkflowRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*batonv1.StartWorkflowRequest(nil), f.starts...)
}

func (f *fakeFlows) waitsSent() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.waitMs...)
}

// wait counts a wait on id; the second one finds the run ended.
func (f *fakeFlows) wait(id string, ms int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits[id]++
	f.waitMs = append(f.waitMs, ms)
	return f.waits[id] >= 2
}

func (f *fakeFlows) StartWorkflow(_ context.Context, req *batonv1.StartWorkflowRequest) (*batonv1.StartWorkflowResponse, error) {
	id, created := f.start(req)
	return &batonv1.StartWorkflowResponse{WorkflowId: id, Created: created}, nil
}

func (f *fakeFlows) ExecuteWorkflow(_ context.Context, req *batonv1.ExecuteWorkflowRequest) (*batonv1.ExecuteWorkflowResponse, error) {
	id, created := f.start(req.GetStart())
	done := f.wait(id, req.GetWaitMs())
	return &batonv1.ExecuteWorkflowResponse{Workflow: f.run(id, done), Created: created, Finished: done}, nil
}

func (f *fakeFlows) WaitWorkflow(_ context.Context, req *batonv1.WaitWorkflowRequest) (*batonv1.WaitWorkflowResponse, error) {
	done := f.wait(req.GetWorkflowId(), req.GetWaitMs())
	return &batonv1.WaitWorkflowResponse{Workflow: f.run(req.GetWorkflowId(), done), Finished: done}, nil
}

func (f *fakeFlows) GetWorkflow(_ context.Context, req *batonv1.GetWorkflowRequest) (*batonv1.GetWorkflowResponse, error) {
	if req.GetWorkflowId() == "missing" {
		return nil, status.Error(codes.NotFound, "no such run")
	}
	wf := f.run(req.GetWorkflowId(), true)
	if req.GetIncludeTasks() {
		wf.Tasks = []*batonv1.Task{{
			TaskId: "t1", TaskType: "go_greet", ReferenceTaskName: "greet_ref",
			Status: batonv1.TaskStatus_TASK_STATUS_COMPLETED, OutputJson: `{"greeting":"Hello, Zoë"}`,
		}}
	}
	return &batonv1.GetWorkflowResponse{Workflow: wf}, nil
}

func TestClientStartWithOptions(t *testing.T) {
	flows := newFakeFlows()
	srv := startServer(t, nil, flows)
	c := baton.NewClient(dial(t, srv.addr))
	ctx := context.Background()

	input := map[string]any{"name": "Zoë", "n": json.Number("9007199254740993")}
	first, err := c.StartWorkflow(ctx, "greet", input,
		baton.WithVersion(3), baton.WithCorrelationID("order-7"), baton.WithIdempotencyKey("k1"), baton.WithPriority(5))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.StartWorkflow(ctx, "greet", input, baton.WithIdempotencyKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || again.Created || again.WorkflowID != first.WorkflowID {
		t.Errorf("first %+v, again %+v", first, again)
	}
	starts := flows.startRequests()
	req := starts[0]
	if req.GetName() != "greet" || req.Version == nil || req.GetVersion() != 3 || req.GetCorrelationId() != "order-7" ||
		req.GetIdempotencyKey() != "k1" || req.GetPriority() != 5 || req.GetInputJson() != `{"n":9007199254740993,"name":"Zoë"}` {
		t.Errorf("start request = %v", req)
	}
	if starts[1].Version != nil {
		t.Errorf("version sent without WithVersion: %v", starts[1].GetVersion())
	}
}

func TestClientExecuteKeepsWaitingPastTheServerCap(t *testing.T) {
	flows := newFakeFlows()
	srv := startServer(t, nil, flows)
	c := baton.NewClient(dial(t, srv.addr))

	wf, finished, err := c.ExecuteWorkflow(context.Background(), "greet", json.RawMessage(`{"name":"Zoë"}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !finished || wf.Status != baton.WorkflowCompleted || !wf.Status.Ended() {
		t.Fatalf("finished=%v status=%v", finished, wf.Status)
	}
	if wf.Name != "greet" || wf.Version != 3 || string(wf.Input) != `{"name":"Zoë"}` || !wf.EndTime.Equal(time.UnixMilli(1700000001000)) {
		t.Errorf("workflow = %+v", wf)
	}
	var out struct {
		Greeting string `json:"greeting"`
		Count    int64  `json:"count"`
	}
	if err := wf.DecodeOutput(&out); err != nil || out.Greeting != "Hello, Zoë" || out.Count != 9007199254740993 {
		t.Errorf("output %+v, err %v", out, err)
	}
	for _, ms := range flows.waitsSent() {
		if ms <= 0 || ms > 30_000 {
			t.Errorf("wait_ms %d outside (0, 30000]", ms)
		}
	}
}

func TestClientWaitAndGet(t *testing.T) {
	flows := newFakeFlows()
	srv := startServer(t, nil, flows)
	c := baton.NewClient(dial(t, srv.addr))
	ctx := context.Background()

	started, err := c.StartWorkflow(ctx, "greet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if in := flows.startRequests()[0].GetInputJson(); in != "" {
		t.Errorf("nil input sent as %q", in)
	}
	wf, finished, err := c.WaitWorkflow(ctx, started.WorkflowID, 0)
	if err != nil || !finished || wf.Status != baton.WorkflowCompleted {
		t.Fatalf("wait: %v %v %v", wf, finished, err)
	}

	got, err := c.GetWorkflow(ctx, started.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tasks) != 1 || got.Tasks[0].Status != "COMPLETED" || got.Tasks[0].Type != "go_greet" {
		t.Errorf("tasks = %+v", got.Tasks)
	}
	if _, err := c.GetWorkflow(ctx, "missing"); status.Code(err) != codes.NotFound {
		t.Errorf("missing run: %v", err)
	}
}
