// Conductor's Java client, unchanged, against Baton's REST API: its
// TaskRunnerConfigurer runs workers for a Conductor fixture flow (a retry
// after a failure, a task that comes back later, a terminal error) and its
// workflow client starts, reads, searches, pauses, resumes, retries, reruns
// and terminates runs. Prints one line "RESULT <json>" for the Node test.
// Usage: SdkCheck <server api url> <fixture.json>
import com.fasterxml.jackson.databind.ObjectMapper;
import com.netflix.conductor.client.automator.TaskRunnerConfigurer;
import com.netflix.conductor.client.http.ConductorClient;
import com.netflix.conductor.client.http.MetadataClient;
import com.netflix.conductor.client.http.TaskClient;
import com.netflix.conductor.client.http.WorkflowClient;
import com.netflix.conductor.client.worker.Worker;
import com.netflix.conductor.common.metadata.tasks.Task;
import com.netflix.conductor.common.metadata.tasks.TaskDef;
import com.netflix.conductor.common.metadata.tasks.TaskResult;
import com.netflix.conductor.common.metadata.workflow.RerunWorkflowRequest;
import com.netflix.conductor.common.metadata.workflow.StartWorkflowRequest;
import com.netflix.conductor.common.metadata.workflow.WorkflowDef;
import com.netflix.conductor.common.run.Workflow;
import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

public class SdkCheck {
    static WorkflowClient workflows;
    /** The last hand-out of each task, as the client gave it to the worker. */
    static final Map<String, Task> handed = new ConcurrentHashMap<>();

    public static void main(String[] args) throws Exception {
        ConductorClient client = new ConductorClient(args[0]);
        MetadataClient metadata = new MetadataClient(client);
        workflows = new WorkflowClient(client);
        TaskClient tasks = new TaskClient(client);
        List<TaskDef> defs = new ArrayList<>();
        for (String name : List.of("integration_task_1", "integration_task_2", "integration_task_3", "integration_task_4")) {
            TaskDef def = new TaskDef(name);
            def.setRetryCount(name.equals("integration_task_1") ? 1 : 0);
            def.setRetryDelaySeconds(0);
            def.setTimeoutSeconds(120);
            def.setResponseTimeoutSeconds(60);
            defs.add(def);
        }
        metadata.registerTaskDefs(defs);
        ObjectMapper json = new ObjectMapper();
        WorkflowDef flow = json.readValue(new File(args[1]), WorkflowDef.class);
        metadata.registerWorkflowDef(flow);

        List<Worker> workers = List.of(
            Worker.create("integration_task_1", task -> {
                handed.put(task.getTaskId(), task);
                Object scenario = task.getInputData().get("p1");
                TaskResult result = new TaskResult(task);
                if ("terminal".equals(scenario) && task.getRetryCount() == 0 && !task.getInputData().containsKey("again")) {
                    result.setStatus(TaskResult.Status.FAILED_WITH_TERMINAL_ERROR);
                    result.setReasonForIncompletion("this input can never work");
                } else if ("long".equals(scenario) && task.getRetryCount() == 0) {
                    result.setStatus(TaskResult.Status.FAILED);
                    result.setReasonForIncompletion("flaky the first time");
                } else {
                    result.setStatus(TaskResult.Status.COMPLETED);
                    result.getOutputData().put("op", "t1 of " + scenario);
                }
                return result;
            }),
            Worker.create("integration_task_2", task -> {
                handed.put(task.getTaskId(), task);
                TaskResult result = new TaskResult(task);
                if ("long".equals(task.getInputData().get("tp1")) && task.getPollCount() <= 1) {
                    result.setStatus(TaskResult.Status.IN_PROGRESS);
                    result.setCallbackAfterSeconds(1);
                } else {
                    result.setStatus(TaskResult.Status.COMPLETED);
                    result.getOutputData().put("polls", task.getPollCount());
                }
                return result;
            }),
            Worker.create("integration_task_3", task -> {
                handed.put(task.getTaskId(), task);
                TaskResult result = new TaskResult(task);
                result.setStatus(TaskResult.Status.COMPLETED);
                return result;
            }));
        TaskRunnerConfigurer runner = new TaskRunnerConfigurer.Builder(tasks, workers)
            .withTaskThreadCount(Map.of("integration_task_1", 2, "integration_task_2", 2, "integration_task_3", 2))
            .build();
        runner.init();
        Map<String, Object> seen = new LinkedHashMap<>();
        try {
            Workflow longRun = finished(start(flow.getName(), "long", "java-long", 7));
            seen.put("long", Map.of("status", longRun.getStatus().name(), "tasks", tasksOf(longRun)));
            // Each task as the worker was handed it, beside the task as the run holds it.
            List<Map<String, Object>> given = new ArrayList<>();
            for (Task stored : longRun.getTasks()) {
                Task t = handed.get(stored.getTaskId());
                if (t == null) continue;
                Map<String, Object> pair = new LinkedHashMap<>();
                pair.put("workflowId", longRun.getWorkflowId());
                pair.put("workflowInstanceId", t.getWorkflowInstanceId());
                pair.put("workflowType", t.getWorkflowType());
                pair.put("correlationId", t.getCorrelationId());
                pair.put("workflowPriority", t.getWorkflowPriority());
                pair.put("taskDefName", t.getTaskDefName());
                pair.put("referenceTaskName", t.getReferenceTaskName());
                pair.put("seq", t.getSeq());
                pair.put("storedSeq", stored.getSeq());
                pair.put("scheduledTime", t.getScheduledTime());
                pair.put("storedScheduledTime", stored.getScheduledTime());
                pair.put("startTime", t.getStartTime());
                pair.put("retryCount", t.getRetryCount());
                pair.put("storedRetryCount", stored.getRetryCount());
                pair.put("responseTimeoutSeconds", t.getResponseTimeoutSeconds());
                pair.put("pollCount", t.getPollCount());
                pair.put("status", t.getStatus().name());
                given.add(pair);
            }
            seen.put("handed", given);

            String terminalId = start(flow.getName(), "terminal", "java-terminal");
            Workflow terminal = finished(terminalId);
            seen.put("terminal", Map.of("status", terminal.getStatus().name(), "tasks", tasksOf(terminal)));

            var found = workflows.search(0, 10, "", "*", "workflowType = '" + flow.getName() + "' AND correlationId = 'java-long' AND status IN (COMPLETED)");
            List<String> ids = new ArrayList<>();
            found.getResults().forEach(r -> ids.add(r.getWorkflowId()));
            seen.put("search", Map.of("ids", ids, "expected", longRun.getWorkflowId()));

            RerunWorkflowRequest rerun = new RerunWorkflowRequest();
            rerun.setReRunFromTaskId(longRun.getTasks().get(2).getTaskId());
            workflows.rerunWorkflow(longRun.getWorkflowId(), rerun);
            seen.put("rerun", finished(longRun.getWorkflowId()).getStatus().name());
        } finally {
            runner.shutdown();
        }
        StartWorkflowRequest idle = new StartWorkflowRequest();
        idle.setName(flow.getName());
        idle.setVersion(1);
        idle.setInput(Map.of("param1", "idle"));
        String idleId = workflows.startWorkflow(idle);
        workflows.pauseWorkflow(idleId);
        String paused = workflows.getWorkflow(idleId, false).getStatus().name();
        workflows.resumeWorkflow(idleId);
        String resumed = workflows.getWorkflow(idleId, false).getStatus().name();
        workflows.terminateWorkflow(idleId, "stopped by the java client");
        Workflow ended = workflows.getWorkflow(idleId, true);
        workflows.retryLastFailedTask(idleId);
        String retried = workflows.getWorkflow(idleId, false).getStatus().name();
        seen.put("operate", Map.of("paused", paused, "resumed", resumed, "ended", ended.getStatus().name(), "reason", ended.getReasonForIncompletion(), "retried", retried));

        // Removing definitions as Conductor does: a run already started on the removed version goes on.
        metadata.registerTaskDefs(List.of(new TaskDef("java_removed_task")));
        for (int version = 1; version <= 2; version++) {
            WorkflowDef removed = json.readValue(
                "{\"name\":\"java_removed_flow\",\"version\":" + version + ",\"schemaVersion\":2,\"tasks\":[{\"name\":\"java_removed_task\",\"taskReferenceName\":\"r\",\"type\":\"SIMPLE\"}]}",
                WorkflowDef.class);
            metadata.registerWorkflowDef(removed);
        }
        StartWorkflowRequest onTwo = new StartWorkflowRequest();
        onTwo.setName("java_removed_flow");
        onTwo.setVersion(2);
        onTwo.setInput(Map.of());
        String removedRun = workflows.startWorkflow(onTwo);
        metadata.unregisterWorkflowDef("java_removed_flow", 2);
        metadata.unregisterTaskDef("java_removed_task");
        String refused;
        try {
            metadata.unregisterTaskDef("java_removed_task");
            refused = "accepted";
        } catch (Exception e) {
            refused = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        seen.put("removed", Map.of(
            "latest", metadata.getWorkflowDef("java_removed_flow", null).getVersion(),
            "refused", refused,
            "run", workflows.getWorkflow(removedRun, false).getStatus().name()));
        workflows.terminateWorkflow(removedRun, "done");
        // A definition carrying Baton's own fields (fairnessKey, fairnessWeights, retentionSeconds, rateLimitConfig.strategy),
        // registered by the test: Conductor's reader takes it, ignoring what it does not know.
        WorkflowDef keyed = metadata.getWorkflowDef("java_baton_fields", null);
        seen.put("batonFields", Map.of(
            "name", keyed.getName(),
            "rateLimitKey", keyed.getRateLimitConfig().getRateLimitKey(),
            "concurrentExecLimit", keyed.getRateLimitConfig().getConcurrentExecLimit(),
            "tasks", keyed.getTasks().size()));
        System.out.println("RESULT " + json.writeValueAsString(seen));
        client.shutdown();
        System.exit(0);
    }

    static String start(String name, String param1, String correlationId) {
        return start(name, param1, correlationId, 0);
    }

    static String start(String name, String param1, String correlationId, int priority) {
        StartWorkflowRequest request = new StartWorkflowRequest();
        request.setPriority(priority);
        request.setName(name);
        request.setVersion(1);
        request.setCorrelationId(correlationId);
        request.setInput(Map.of("param1", param1));
        return workflows.startWorkflow(request);
    }

    static Workflow finished(String id) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        for (;;) {
            Workflow run = workflows.getWorkflow(id, true);
            if (run.getStatus() != Workflow.WorkflowStatus.RUNNING || System.currentTimeMillis() > deadline) return run;
            Thread.sleep(50);
        }
    }

    static List<List<Object>> tasksOf(Workflow run) {
        List<List<Object>> out = new ArrayList<>();
        for (Task t : run.getTasks()) out.add(List.of(t.getReferenceTaskName(), t.getStatus().name(), t.getRetryCount()));
        return out;
    }
}
