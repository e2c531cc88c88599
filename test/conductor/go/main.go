// Conductor's Go SDK (github.com/conductor-sdk/conductor-go, unchanged, from
// the Go module proxy) against Baton's REST API: its TaskRunner runs workers
// for a Conductor fixture flow (a retry after a failure, a task that comes
// back after callbackAfterSeconds, a long task, a terminal error), and its
// metadata client and WorkflowExecutor register, start, start-and-wait, read,
// search, rerun, restart, retry, pause, resume, terminate runs, skip and complete their tasks,
// write task logs and manage event handlers,
// logged in with a Baton key's id and secret. Prints one line
// "RESULT <json>" for the Node test (test/conductor/sdk-go.test.ts).
// Usage: conductor-go-check <server api url> <key id> <key secret> <fixture.json>
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
	"github.com/conductor-sdk/conductor-go/sdk/worker"
	"github.com/conductor-sdk/conductor-go/sdk/workflow/executor"
)

var (
	ctx       = context.Background()
	workflows *executor.WorkflowExecutor
	// The last hand-out of each task, as the TaskRunner gave it to the worker.
	handedMu sync.Mutex
	handed   = map[string]model.Task{}
)

func keep(t *model.Task) {
	handedMu.Lock()
	defer handedMu.Unlock()
	handed[t.TaskId] = *t
}

// Each worker behaves by its run's param1, so one flow shows a retry after a
// failure ("long": t1 fails its first attempt), a task that comes back later
// (t2 answers IN_PROGRESS with a callback once), a long task (t3 works for
// 3 s) and a terminal error ("terminal").
func task1(t *model.Task) (interface{}, error) {
	keep(t)
	switch scenario := t.InputData["p1"]; {
	case scenario == "terminal":
		return nil, model.NewNonRetryableError(errors.New("this input can never work"))
	case scenario == "long" && t.RetryCount == 0:
		return nil, errors.New("flaky the first time")
	default:
		return map[string]interface{}{"op": fmt.Sprintf("t1 of %v", scenario)}, nil
	}
}

func task2(t *model.Task) (interface{}, error) {
	keep(t)
	if t.InputData["tp1"] == "long" && t.PollCount <= 1 {
		result := model.NewTaskResultFromTask(t)
		result.Status = model.InProgressTask
		result.CallbackAfterSeconds = 1
		result.OutputData = map[string]interface{}{"waiting": true}
		return result, nil
	}
	return map[string]interface{}{"polls": t.PollCount}, nil
}

func task3(t *model.Task) (interface{}, error) {
	keep(t)
	if t.InputData["tp1"] == "long" {
		time.Sleep(3 * time.Second)
	}
	return map[string]interface{}{"done": true}, nil
}

func main() {
	if len(os.Args) != 5 {
		fail(errors.New("usage: conductor-go-check <server api url> <key id> <key secret> <fixture.json>"))
	}
	url, keyID, keySecret, fixture := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	api := client.NewAPIClient(settings.NewAuthenticationSettings(keyID, keySecret), settings.NewHttpSettings(url))
	metadata := client.NewMetadataClient(api)
	workflows = executor.NewWorkflowExecutor(api)
	seen := map[string]interface{}{}

	var defs []model.TaskDef
	for _, name := range []string{"integration_task_1", "integration_task_2", "integration_task_3", "integration_task_4"} {
		// The SDK's TaskDef leaves out a zero retryDelaySeconds (omitempty), and Conductor's
		// default is 60 s: 1 s keeps the retry prompt.
		def := model.TaskDef{Name: name, RetryLogic: "FIXED", RetryDelaySeconds: 1, TimeoutSeconds: 120, ResponseTimeoutSeconds: 60}
		if name == "integration_task_1" {
			def.RetryCount = 1
		}
		defs = append(defs, def)
	}
	must(metadata.RegisterTaskDef(ctx, defs))
	raw, err := os.ReadFile(fixture)
	check(err)
	var flow model.WorkflowDef
	check(json.Unmarshal(raw, &flow))
	check(workflows.RegisterWorkflow(true, &flow))
	stored, _, err := metadata.Get(ctx, flow.Name, nil)
	check(err)
	seen["registered"] = map[string]interface{}{"name": stored.Name, "version": stored.Version, "tasks": len(stored.Tasks)}

	runner := worker.NewTaskRunnerWithApiClient(api)
	// A long poll of up to 1 s (Baton answers the moment a task is ready).
	check(runner.SetPollTimeout(time.Second))
	check(runner.StartWorker("integration_task_1", task1, 2, 10*time.Millisecond))
	check(runner.StartWorker("integration_task_2", task2, 2, 10*time.Millisecond))
	check(runner.StartWorker("integration_task_3", task3, 2, 10*time.Millisecond))

	longID := start(flow.Name, "long", "go-long", 7)
	longRun := finished(longID)
	seen["long"] = map[string]interface{}{"status": longRun.Status, "tasks": tasksOf(longRun)}
	var given []map[string]interface{}
	handedMu.Lock()
	for _, s := range longRun.Tasks {
		t, ok := handed[s.TaskId]
		if !ok {
			continue
		}
		given = append(given, map[string]interface{}{
			"workflowId": longRun.WorkflowId, "workflowInstanceId": t.WorkflowInstanceId, "workflowType": t.WorkflowType,
			"correlationId": t.CorrelationId, "workflowPriority": t.WorkflowPriority, "taskDefName": t.TaskDefName,
			"taskType": t.TaskType, "referenceTaskName": t.ReferenceTaskName, "status": t.Status,
			"seq": t.Seq, "storedSeq": s.Seq, "scheduledTime": t.ScheduledTime, "storedScheduledTime": s.ScheduledTime,
			"startTime": t.StartTime, "retryCount": t.RetryCount, "storedRetryCount": s.RetryCount,
			"responseTimeoutSeconds": t.ResponseTimeoutSeconds, "pollCount": t.PollCount, "inputData": t.InputData, "storedInputData": s.InputData,
		})
	}
	handedMu.Unlock()
	seen["handed"] = given
	seen["t2Output"] = longRun.Tasks[2].OutputData

	terminalID := start(flow.Name, "terminal", "go-terminal", 0)
	terminal := finished(terminalID)
	seen["terminal"] = map[string]interface{}{"status": terminal.Status, "tasks": tasksOf(terminal), "reason": terminal.Tasks[0].ReasonForIncompletion}
	// Retry runs the failed task again; it fails terminally again, so the run is FAILED once more.
	check(workflows.Retry(terminalID, false))
	retried := finished(terminalID)
	seen["terminalRetried"] = map[string]interface{}{"status": retried.Status, "attempts": len(retried.Tasks)}

	waited, err := workflows.ExecuteWorkflow(&model.StartWorkflowRequest{Name: flow.Name, Version: 1, CorrelationId: "go-sync", Input: map[string]interface{}{"param1": "sync"}}, "")
	check(err)
	seen["sync"] = map[string]interface{}{"status": waited.Status, "workflowId": waited.WorkflowId, "tasks": len(waited.Tasks)}
	found, err := workflows.Search(0, 10, fmt.Sprintf("workflowType = '%s' AND status IN (COMPLETED) AND correlationId = 'go-sync'", flow.Name), "*")
	check(err)
	var ids []string
	for _, r := range found {
		ids = append(ids, r.WorkflowId)
	}
	seen["search"] = ids
	state, err := workflows.GetWorkflowStatus(waited.WorkflowId, true, false)
	check(err)
	seen["state"] = map[string]interface{}{"workflowId": state.WorkflowId, "status": state.Status, "correlationId": state.CorrelationId}
	correlated, err := workflows.GetByCorrelationIds(flow.Name, true, false, "go-sync", "go-long")
	check(err)
	seen["correlated"] = map[string]interface{}{"go-sync": len(correlated["go-sync"]), "go-long": len(correlated["go-long"])}

	syncRun := finished(waited.WorkflowId)
	var t2ID string
	for _, t := range syncRun.Tasks {
		if t.ReferenceTaskName == "t2" {
			t2ID = t.TaskId
		}
	}
	rerunID, err := workflows.ReRun(waited.WorkflowId, model.RerunWorkflowRequest{ReRunFromTaskId: t2ID, TaskInput: map[string]interface{}{"tp1": "again"}})
	check(err)
	rerun := finished(waited.WorkflowId)
	var t2Input map[string]interface{}
	for _, t := range rerun.Tasks {
		if t.ReferenceTaskName == "t2" {
			t2Input = t.InputData
		}
	}
	seen["rerun"] = map[string]interface{}{"id": rerunID, "status": rerun.Status, "t2Input": t2Input}

	check(workflows.Restart(terminalID, false))
	restarted := finished(terminalID)
	seen["restart"] = map[string]interface{}{"status": restarted.Status, "tasks": tasksOf(restarted)}

	for _, name := range []string{"integration_task_1", "integration_task_2", "integration_task_3"} {
		runner.Shutdown(name)
	}

	// Operator actions on a run no worker serves (integration_task_4 is not polled).
	idle := model.WorkflowDef{Name: "go_idle_flow", Version: 1, SchemaVersion: 2, Tasks: []model.WorkflowTask{
		{Name: "integration_task_4", TaskReferenceName: "t4", Type_: "SIMPLE"},
		{Name: "integration_task_4", TaskReferenceName: "t5", Type_: "SIMPLE"},
	}}
	check(workflows.RegisterWorkflow(true, &idle))
	idleID, err := workflows.StartWorkflow(&model.StartWorkflowRequest{Name: "go_idle_flow", Version: 1, CorrelationId: "go-idle", Input: map[string]interface{}{}})
	check(err)
	running, _, err := client.NewWorkflowClient(api).GetRunningWorkflow(ctx, "go_idle_flow", nil)
	check(err)
	tasks := client.NewTaskClient(api)
	sizes, _, err := tasks.Size(ctx, &client.TaskResourceApiSizeOpts{TaskType: optional.NewInterface([]string{"integration_task_4"})})
	check(err)
	t4 := get(idleID).Tasks[0]
	must(tasks.Log(ctx, "looked at by the go client", t4.TaskId))
	logs, _, err := tasks.GetTaskLogs(ctx, t4.TaskId)
	check(err)
	var logLines []string
	for _, l := range logs {
		logLines = append(logLines, l.Log)
	}
	seen["queue"] = map[string]interface{}{"sizes": sizes, "logs": logLines}
	check(workflows.Pause(idleID))
	paused := get(idleID).Status
	check(workflows.Resume(idleID))
	resumed := get(idleID).Status
	check(workflows.Terminate(idleID, "stopped by the go client"))
	ended := get(idleID)
	check(workflows.Retry(idleID, false))
	retriedIdle := get(idleID).Status
	// t5, not yet scheduled, skipped ahead of time; then the retried t4 completed by its reference, as an external system would.
	check(workflows.SkipTasksFromWorkflow(idleID, "t5", model.SkipTaskRequest{}))
	check(workflows.UpdateTaskByRefName("t4", idleID, model.CompletedTask, map[string]interface{}{"by": "reference"}))
	completed := finished(idleID)
	for _, t := range completed.Tasks {
		if t.ReferenceTaskName == "t4" && t.Status == model.CompletedTask {
			seen["t4Output"] = t.OutputData
		}
	}
	seen["operate"] = map[string]interface{}{
		"running": running, "idleId": idleID, "paused": paused, "resumed": resumed, "ended": ended.Status, "reason": ended.ReasonForIncompletion,
		"retried": retriedIdle, "completed": completed.Status, "tasks": tasksOf(completed),
	}

	// Event handlers: registered, found by their event, changed and removed.
	events := client.NewEventHandlerClient(api)
	handler := model.EventHandler{
		Name: "go_handler", Event: "conductor:go_idle_flow:t4", Active: true,
		Actions: []model.Action{{Action: "complete_task", CompleteTask: &model.TaskDetails{WorkflowId: "${workflowInstanceId}", TaskRefName: "t4"}}},
	}
	must(events.AddEventHandler(ctx, handler))
	handler.Condition = "$.ok == true"
	must(events.UpdateEventHandler(ctx, handler))
	forEvent, _, err := events.GetEventHandlersForEvent(ctx, handler.Event, &client.EventResourceApiGetEventHandlersForEventOpts{ActiveOnly: optional.NewBool(true)})
	check(err)
	must(events.RemoveEventHandler(ctx, handler.Name))
	left, _, err := events.GetEventHandlers(ctx)
	check(err)
	seen["events"] = map[string]interface{}{"found": forEvent, "left": len(left)}

	// Removing definitions as Conductor does: the run already started on the removed version goes on.
	must(metadata.RegisterTaskDef(ctx, []model.TaskDef{{Name: "go_removed_task", TimeoutSeconds: 60, ResponseTimeoutSeconds: 30}}))
	for version := int32(1); version <= 2; version++ {
		removed := model.WorkflowDef{Name: "go_removed_flow", Version: version, SchemaVersion: 2, Tasks: []model.WorkflowTask{{Name: "go_removed_task", TaskReferenceName: "r", Type_: "SIMPLE"}}}
		check(workflows.RegisterWorkflow(true, &removed))
	}
	removedRun, err := workflows.StartWorkflow(&model.StartWorkflowRequest{Name: "go_removed_flow", Version: 2, Input: map[string]interface{}{}})
	check(err)
	check(workflows.UnRegisterWorkflow("go_removed_flow", 2))
	must(metadata.UnregisterTaskDef(ctx, "go_removed_task"))
	var refused []interface{}
	for _, again := range []func() error{
		func() error { return workflows.UnRegisterWorkflow("go_removed_flow", 2) },
		func() error { _, err := metadata.UnregisterTaskDef(ctx, "go_removed_task"); return err },
	} {
		var swagger client.GenericSwaggerError
		if err := again(); err == nil {
			refused = append(refused, nil)
		} else if errors.As(err, &swagger) {
			refused = append(refused, swagger.StatusCode())
		} else {
			refused = append(refused, err.Error())
		}
	}
	latest, _, err := metadata.Get(ctx, "go_removed_flow", nil)
	check(err)
	seen["removed"] = map[string]interface{}{"latest": latest.Version, "refused": refused, "run": get(removedRun).Status}
	// One task polled by hand under a worker name of its own, and its result made by the SDK's
	// helper, which names the host instead: the task was handed out once, so the result is its holder's.
	polled, _, err := tasks.Poll(ctx, "go_removed_task", &client.TaskResourceApiPollOpts{Workerid: optional.NewString("go-poller")})
	check(err)
	result := model.NewTaskResultFromTask(&polled)
	result.Status = model.CompletedTask
	result.OutputData = map[string]interface{}{"polled": polled.WorkerId}
	_, _, err = tasks.UpdateTask(ctx, result)
	check(err)
	single := finished(removedRun)
	seen["single"] = map[string]interface{}{"status": single.Status, "output": single.Tasks[0].OutputData, "resultWorker": result.WorkerId, "taskWorker": single.Tasks[0].WorkerId}

	out, err := json.Marshal(seen)
	check(err)
	fmt.Println("RESULT " + string(out))
}

func start(name, param1, correlationID string, priority int32) string {
	id, err := workflows.StartWorkflow(&model.StartWorkflowRequest{
		Name: name, Version: 1, CorrelationId: correlationID, Priority: priority,
		Input: map[string]interface{}{"param1": param1},
	})
	check(err)
	return id
}

func get(id string) *model.Workflow {
	run, err := workflows.GetWorkflow(id, true)
	check(err)
	return run
}

// finished reads the run until it is no longer RUNNING; a run still RUNNING after 60 s fails the check.
func finished(id string) *model.Workflow {
	deadline := time.Now().Add(60 * time.Second)
	for {
		run := get(id)
		if run.Status != model.RunningWorkflow {
			return run
		}
		if time.Now().After(deadline) {
			out, _ := json.Marshal(run)
			fail(fmt.Errorf("run %s still RUNNING after 60 s: %s", id, out))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tasksOf(run *model.Workflow) [][]interface{} {
	var out [][]interface{}
	for _, t := range run.Tasks {
		out = append(out, []interface{}{t.ReferenceTaskName, t.Status, t.RetryCount, t.WorkerId})
	}
	return out
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func must(_ interface{}, err error) { check(err) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "conductor-go-check:", err)
	os.Exit(1)
}
