package baton

import (
	"context"
	"fmt"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
	"google.golang.org/grpc"
)

// Client starts and observes runs. Errors are gRPC status errors as the
// server sent them (status.Code tells NOT_FOUND and the like).
type Client struct {
	workflows batonv1.WorkflowServiceClient
}

// NewClient returns a client using conn, e.g. from Dial.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{workflows: batonv1.NewWorkflowServiceClient(conn)}
}

// StartOption configures StartWorkflow and ExecuteWorkflow.
type StartOption func(*batonv1.StartWorkflowRequest)

// WithVersion runs that version of the definition instead of the latest.
func WithVersion(v int) StartOption {
	return func(r *batonv1.StartWorkflowRequest) { r.Version = ptr(int32(v)) }
}

// WithCorrelationID tags the run for searching.
func WithCorrelationID(id string) StartOption {
	return func(r *batonv1.StartWorkflowRequest) { r.CorrelationId = id }
}

// WithIdempotencyKey makes starting twice run once: the second start returns
// the first run's id with Created false.
func WithIdempotencyKey(key string) StartOption {
	return func(r *batonv1.StartWorkflowRequest) { r.IdempotencyKey = key }
}

// WithPriority sets the run's priority (0-99).
func WithPriority(p int) StartOption {
	return func(r *batonv1.StartWorkflowRequest) { r.Priority = int32(p) }
}

// WithDefinition runs an inline WorkflowDef (JSON) instead of a registered one.
func WithDefinition(definitionJSON string) StartOption {
	return func(r *batonv1.StartWorkflowRequest) { r.DefinitionJson = definitionJSON }
}

// Started is the answer to StartWorkflow.
type Started struct {
	WorkflowID string
	// False when an idempotency key matched an existing run.
	Created bool
}

func startRequest(name string, input any, opts []StartOption) (*batonv1.StartWorkflowRequest, error) {
	text, err := encodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("baton: encode workflow input: %w", err)
	}
	req := &batonv1.StartWorkflowRequest{Name: name, InputJson: text}
	for _, o := range opts {
		o(req)
	}
	return req, nil
}

// StartWorkflow starts a run of the named workflow with input (any value
// encoding/json accepts, or a json.RawMessage).
func (c *Client) StartWorkflow(ctx context.Context, name string, input any, opts ...StartOption) (Started, error) {
	req, err := startRequest(name, input, opts)
	if err != nil {
		return Started{}, err
	}
	resp, err := c.workflows.StartWorkflow(ctx, req)
	if err != nil {
		return Started{}, err
	}
	return Started{WorkflowID: resp.GetWorkflowId(), Created: resp.GetCreated()}, nil
}

// ExecuteWorkflow starts a run and waits up to timeout for it to end. It
// returns the run as it is then; finished is false when the wait ran out.
func (c *Client) ExecuteWorkflow(ctx context.Context, name string, input any, timeout time.Duration, opts ...StartOption) (wf *Workflow, finished bool, err error) {
	req, err := startRequest(name, input, opts)
	if err != nil {
		return nil, false, err
	}
	deadline := time.Now().Add(timeout)
	resp, err := c.workflows.ExecuteWorkflow(ctx, &batonv1.ExecuteWorkflowRequest{Start: req, WaitMs: waitChunk(timeout).Milliseconds()})
	if err != nil {
		return nil, false, err
	}
	wf = workflowFromProto(resp.GetWorkflow())
	if resp.GetFinished() || timeout <= 0 || !time.Now().Before(deadline) {
		return wf, resp.GetFinished(), nil
	}
	// The server caps one wait; keep waiting for the rest of ours.
	return c.WaitWorkflow(ctx, wf.ID, time.Until(deadline))
}

// maxWaitChunk bounds one wait call so that a long wait survives servers
// and proxies that cap or cut long calls.
const maxWaitChunk = 30 * time.Second

func waitChunk(remaining time.Duration) time.Duration {
	return max(min(remaining, maxWaitChunk), 0)
}

// WaitWorkflow waits up to timeout for the run to end (timeout <= 0: until
// ctx is done) and returns it as it is then; finished is false when the wait
// ran out.
func (c *Client) WaitWorkflow(ctx context.Context, id string, timeout time.Duration) (wf *Workflow, finished bool, err error) {
	forever := timeout <= 0
	deadline := time.Now().Add(timeout)
	for {
		chunk := maxWaitChunk
		if !forever {
			chunk = waitChunk(time.Until(deadline))
		}
		resp, err := c.workflows.WaitWorkflow(ctx, &batonv1.WaitWorkflowRequest{WorkflowId: id, WaitMs: chunk.Milliseconds()})
		if err != nil {
			return wf, false, err
		}
		wf = workflowFromProto(resp.GetWorkflow())
		if resp.GetFinished() || (!forever && !time.Now().Before(deadline)) {
			return wf, resp.GetFinished(), nil
		}
		if err := ctx.Err(); err != nil {
			return wf, false, err
		}
	}
}

// GetWorkflow returns the run with its tasks.
func (c *Client) GetWorkflow(ctx context.Context, id string) (*Workflow, error) {
	resp, err := c.workflows.GetWorkflow(ctx, &batonv1.GetWorkflowRequest{WorkflowId: id, IncludeTasks: true})
	if err != nil {
		return nil, err
	}
	return workflowFromProto(resp.GetWorkflow()), nil
}

// Raw returns the generated WorkflowService client, for calls not wrapped
// here (pause, terminate, retry, search...).
func (c *Client) Raw() batonv1.WorkflowServiceClient { return c.workflows }

func ptr[T any](v T) *T { return &v }
