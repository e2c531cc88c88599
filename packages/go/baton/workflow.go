package baton

import (
	"encoding/json"
	"strings"
	"time"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

// WorkflowStatus is a run's status as Conductor names it, e.g. "COMPLETED".
type WorkflowStatus string

const (
	WorkflowRunning    WorkflowStatus = "RUNNING"
	WorkflowCompleted  WorkflowStatus = "COMPLETED"
	WorkflowFailed     WorkflowStatus = "FAILED"
	WorkflowTimedOut   WorkflowStatus = "TIMED_OUT"
	WorkflowTerminated WorkflowStatus = "TERMINATED"
	WorkflowPaused     WorkflowStatus = "PAUSED"
)

// Ended reports whether the run is over (nothing more will happen to it
// unless it is retried or restarted).
func (s WorkflowStatus) Ended() bool {
	switch s {
	case WorkflowCompleted, WorkflowFailed, WorkflowTimedOut, WorkflowTerminated:
		return true
	}
	return false
}

// TaskStatus is a task instance's status as Conductor names it.
type TaskStatus string

// Workflow is a run as the admin client returns it. JSON payloads are kept
// raw so that numbers stay exact; decode them with DecodeOutput or
// encoding/json.
type Workflow struct {
	ID                       string
	Name                     string
	Version                  int
	Status                   WorkflowStatus
	CorrelationID            string
	IdempotencyKey           string
	Input                    json.RawMessage
	Output                   json.RawMessage
	Variables                json.RawMessage
	ReasonForIncompletion    string
	FailedReferenceTaskNames []string
	FailedTaskID             string
	ParentWorkflowID         string
	Priority                 int
	CreateTime               time.Time
	UpdateTime               time.Time
	EndTime                  time.Time // zero while running
	Tasks                    []TaskRun // only from GetWorkflow

	// Proto is the message as received, for fields not mapped above.
	Proto *batonv1.Workflow
}

// TaskRun is one task instance of a run.
type TaskRun struct {
	ID                    string
	Type                  string
	ReferenceName         string
	Status                TaskStatus
	Input                 json.RawMessage
	Output                json.RawMessage
	ReasonForIncompletion string
	RetryCount            int
	WorkerID              string
	ScheduledTime         time.Time
	StartTime             time.Time
	EndTime               time.Time
}

// DecodeOutput decodes the run's output into v (numbers in interface values
// become json.Number, so large integers stay exact).
func (w *Workflow) DecodeOutput(v any) error { return decodeJSON(string(w.Output), v) }

func workflowFromProto(p *batonv1.Workflow) *Workflow {
	if p == nil {
		return nil
	}
	w := &Workflow{
		ID:                       p.GetWorkflowId(),
		Name:                     p.GetWorkflowName(),
		Version:                  int(p.GetWorkflowVersion()),
		Status:                   WorkflowStatus(strings.TrimPrefix(p.GetStatus().String(), "WORKFLOW_STATUS_")),
		CorrelationID:            p.GetCorrelationId(),
		IdempotencyKey:           p.GetIdempotencyKey(),
		Input:                    rawJSON(p.GetInputJson()),
		Output:                   rawJSON(p.GetOutputJson()),
		Variables:                rawJSON(p.GetVariablesJson()),
		ReasonForIncompletion:    p.GetReasonForIncompletion(),
		FailedReferenceTaskNames: p.GetFailedReferenceTaskNames(),
		FailedTaskID:             p.GetFailedTaskId(),
		ParentWorkflowID:         p.GetParentWorkflowId(),
		Priority:                 int(p.GetPriority()),
		CreateTime:               msTime(p.GetCreateTimeMs()),
		UpdateTime:               msTime(p.GetUpdateTimeMs()),
		EndTime:                  msTime(p.GetEndTimeMs()),
		Proto:                    p,
	}
	for _, t := range p.GetTasks() {
		w.Tasks = append(w.Tasks, TaskRun{
			ID:                    t.GetTaskId(),
			Type:                  t.GetTaskType(),
			ReferenceName:         t.GetReferenceTaskName(),
			Status:                TaskStatus(strings.TrimPrefix(t.GetStatus().String(), "TASK_STATUS_")),
			Input:                 rawJSON(t.GetInputJson()),
			Output:                rawJSON(t.GetOutputJson()),
			ReasonForIncompletion: t.GetReasonForIncompletion(),
			RetryCount:            int(t.GetRetryCount()),
			WorkerID:              t.GetWorkerId(),
			ScheduledTime:         msTime(t.GetScheduledTimeMs()),
			StartTime:             msTime(t.GetStartTimeMs()),
			EndTime:               msTime(t.GetEndTimeMs()),
		})
	}
	return w
}

// rawJSON maps an empty payload field to nil rather than invalid JSON.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
