package baton

import (
	"context"
	"errors"
	"fmt"
	"math"

	batonv1 "github.com/batonhq/baton/packages/go/gen/batonv1"
)

// HandlerOption configures one registered task type.
type HandlerOption func(*registration)

// Concurrency sets how many tasks of this type run at once (default 1). The
// worker never holds more tasks of the type than this.
func Concurrency(n int) HandlerOption {
	return func(r *registration) {
		if n < 1 {
			panic(fmt.Sprintf("baton: Concurrency(%d): must be at least 1", n))
		}
		r.concurrency = n
	}
}

// registration is one task type's handler with its input/output codec erased.
type registration struct {
	taskType    string
	concurrency int
	call        func(ctx context.Context, inputJSON string) outcome
}

// outcome is what a task run reports back.
type outcome struct {
	status        batonv1.TaskStatus
	outputJSON    string
	reason        string
	callbackAfter int64 // seconds
}

// Handle registers fn for taskType. The task's input JSON is decoded into In
// (numbers landing in interface values stay json.Number, so large integers
// survive) and the Out value is sent back as the task's output JSON.
//
// fn's error decides the status: nil → COMPLETED; a TerminalError anywhere in
// the chain → FAILED_WITH_TERMINAL_ERROR; an InProgressError → IN_PROGRESS
// (with the output); anything else → FAILED with err.Error() as the reason. A
// panic is recovered and reported as FAILED. Input that does not decode ends
// the task as FAILED_WITH_TERMINAL_ERROR: a retry would get the same input.
//
// Handle panics if the task type is already registered or the worker runs.
func Handle[In, Out any](w *Worker, taskType string, fn func(ctx context.Context, in In) (Out, error), opts ...HandlerOption) {
	r := &registration{taskType: taskType, concurrency: 1}
	for _, o := range opts {
		o(r)
	}
	r.call = func(ctx context.Context, inputJSON string) outcome {
		var in In
		if err := decodeJSON(inputJSON, &in); err != nil {
			return outcome{
				status: batonv1.TaskStatus_TASK_STATUS_FAILED_WITH_TERMINAL_ERROR,
				reason: fmt.Sprintf("decode input of %s: %v", taskType, err),
			}
		}
		out, err := fn(ctx, in)
		return outcomeOf(out, err)
	}
	w.register(r)
}

func outcomeOf(out any, err error) outcome {
	var inProgress *InProgressError
	var terminal *TerminalError
	switch {
	case err == nil, errors.As(err, &inProgress):
		text, encErr := encodeJSON(out)
		if encErr != nil {
			return outcome{status: batonv1.TaskStatus_TASK_STATUS_FAILED, reason: "encode output: " + encErr.Error()}
		}
		if err == nil {
			return outcome{status: batonv1.TaskStatus_TASK_STATUS_COMPLETED, outputJSON: text}
		}
		return outcome{
			status:        batonv1.TaskStatus_TASK_STATUS_IN_PROGRESS,
			outputJSON:    text,
			callbackAfter: int64(math.Ceil(max(inProgress.CallbackAfter, 0).Seconds())),
		}
	case errors.As(err, &terminal):
		return outcome{status: batonv1.TaskStatus_TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, reason: err.Error()}
	default:
		return outcome{status: batonv1.TaskStatus_TASK_STATUS_FAILED, reason: err.Error()}
	}
}
