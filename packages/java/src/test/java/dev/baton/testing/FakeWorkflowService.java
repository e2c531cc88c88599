package dev.baton.testing;

import dev.baton.v1.ExecuteWorkflowRequest;
import dev.baton.v1.ExecuteWorkflowResponse;
import dev.baton.v1.GetWorkflowRequest;
import dev.baton.v1.GetWorkflowResponse;
import dev.baton.v1.StartWorkflowRequest;
import dev.baton.v1.StartWorkflowResponse;
import dev.baton.v1.WaitWorkflowRequest;
import dev.baton.v1.WaitWorkflowResponse;
import dev.baton.v1.Workflow;
import dev.baton.v1.WorkflowServiceGrpc;
import dev.baton.v1.WorkflowStatus;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs that end when the test says so: start records the request and makes a
 * RUNNING run; {@link #complete} ends it; waits block until then or their wait_ms.
 * An idempotency key seen before returns the first run (created = false).
 */
public final class FakeWorkflowService extends WorkflowServiceGrpc.WorkflowServiceImplBase {
    private final Map<String, Workflow> runs = new HashMap<>();
    private final Map<String, String> byKey = new HashMap<>();
    private final List<StartWorkflowRequest> starts = new ArrayList<>();
    /** When set, each started run completes at once with this output. */
    private String autoCompleteOutput;

    public synchronized List<StartWorkflowRequest> starts() {
        return List.copyOf(starts);
    }

    public synchronized void autoComplete(String outputJson) {
        autoCompleteOutput = outputJson;
    }

    public synchronized void complete(String workflowId, String outputJson) {
        runs.put(workflowId, runs.get(workflowId).toBuilder()
                .setStatus(WorkflowStatus.WORKFLOW_STATUS_COMPLETED)
                .setOutputJson(outputJson)
                .build());
        notifyAll();
    }

    @Override
    public void startWorkflow(StartWorkflowRequest request, StreamObserver<StartWorkflowResponse> response) {
        StartWorkflowResponse reply;
        synchronized (this) {
            reply = start(request);
        }
        response.onNext(reply);
        response.onCompleted();
    }

    private StartWorkflowResponse start(StartWorkflowRequest request) {
        starts.add(request);
        if (!request.getIdempotencyKey().isEmpty() && byKey.containsKey(request.getIdempotencyKey())) {
            return StartWorkflowResponse.newBuilder().setWorkflowId(byKey.get(request.getIdempotencyKey())).build();
        }
        String id = "wf-" + starts.size();
        runs.put(id, Workflow.newBuilder()
                .setWorkflowId(id)
                .setWorkflowName(request.getName())
                .setWorkflowVersion(request.hasVersion() ? request.getVersion() : 1)
                .setStatus(WorkflowStatus.WORKFLOW_STATUS_RUNNING)
                .setInputJson(request.getInputJson())
                .setCorrelationId(request.getCorrelationId())
                .build());
        if (!request.getIdempotencyKey().isEmpty()) {
            byKey.put(request.getIdempotencyKey(), id);
        }
        if (autoCompleteOutput != null) {
            complete(id, autoCompleteOutput);
        }
        return StartWorkflowResponse.newBuilder().setWorkflowId(id).setCreated(true).build();
    }

    private synchronized Workflow awaitEnd(String id, long waitMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + waitMs;
        while (runs.get(id).getStatus() == WorkflowStatus.WORKFLOW_STATUS_RUNNING) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                break;
            }
            wait(left);
        }
        return runs.get(id);
    }

    @Override
    public void waitWorkflow(WaitWorkflowRequest request, StreamObserver<WaitWorkflowResponse> response) {
        synchronized (this) {
            if (!runs.containsKey(request.getWorkflowId())) {
                response.onError(Status.NOT_FOUND.withDescription("no run " + request.getWorkflowId()).asRuntimeException());
                return;
            }
        }
        try {
            Workflow run = awaitEnd(request.getWorkflowId(), request.getWaitMs());
            response.onNext(WaitWorkflowResponse.newBuilder()
                    .setWorkflow(run)
                    .setFinished(run.getStatus() != WorkflowStatus.WORKFLOW_STATUS_RUNNING)
                    .build());
            response.onCompleted();
        } catch (InterruptedException e) {
            response.onError(Status.CANCELLED.asRuntimeException());
        }
    }

    @Override
    public void getWorkflow(GetWorkflowRequest request, StreamObserver<GetWorkflowResponse> response) {
        Workflow run;
        synchronized (this) {
            run = runs.get(request.getWorkflowId());
        }
        if (run == null) {
            response.onError(Status.NOT_FOUND.withDescription("no run " + request.getWorkflowId()).asRuntimeException());
            return;
        }
        response.onNext(GetWorkflowResponse.newBuilder().setWorkflow(run).build());
        response.onCompleted();
    }

    @Override
    public void executeWorkflow(ExecuteWorkflowRequest request, StreamObserver<ExecuteWorkflowResponse> response) {
        StartWorkflowResponse started;
        synchronized (this) {
            started = start(request.getStart());
        }
        try {
            Workflow run = awaitEnd(started.getWorkflowId(), request.getWaitMs());
            response.onNext(ExecuteWorkflowResponse.newBuilder()
                    .setWorkflow(run)
                    .setCreated(started.getCreated())
                    .setFinished(run.getStatus() != WorkflowStatus.WORKFLOW_STATUS_RUNNING)
                    .build());
            response.onCompleted();
        } catch (InterruptedException e) {
            response.onError(Status.CANCELLED.asRuntimeException());
        }
    }
}
