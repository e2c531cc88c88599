package baton

import (
	"context"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

// Task describes the task a handler is running; see TaskFromContext.
type Task struct {
	ID              string
	WorkflowID      string
	WorkflowName    string
	Type            string
	ReferenceName   string
	CorrelationID   string
	RetryCount      int
	PollCount       int
	LeaseExpires    time.Time // as handed out; extensions are not reflected
	ResponseTimeout time.Duration
	WorkerID        string
}

type taskKey struct{}

// TaskFromContext returns the task a handler's context belongs to.
func TaskFromContext(ctx context.Context) (Task, bool) {
	t, ok := ctx.Value(taskKey{}).(Task)
	return t, ok
}

func withTask(ctx context.Context, lt *batonv1.LeasedTask, workerID string) context.Context {
	return context.WithValue(ctx, taskKey{}, Task{
		ID:              lt.GetTaskId(),
		WorkflowID:      lt.GetWorkflowId(),
		WorkflowName:    lt.GetWorkflowName(),
		Type:            lt.GetTaskType(),
		ReferenceName:   lt.GetReferenceTaskName(),
		CorrelationID:   lt.GetCorrelationId(),
		RetryCount:      int(lt.GetRetryCount()),
		PollCount:       int(lt.GetPollCount()),
		LeaseExpires:    time.UnixMilli(lt.GetLeaseExpiresMs()),
		ResponseTimeout: time.Duration(lt.GetResponseTimeoutSeconds()) * time.Second,
		WorkerID:        workerID,
	})
}
