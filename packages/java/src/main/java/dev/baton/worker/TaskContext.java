package dev.baton.worker;

import dev.baton.v1.LeasedTask;

/** What a handler may want to know about the task it runs for. */
public final class TaskContext {
    private final LeasedTask task;
    private final String workerId;
    private volatile boolean leaseLost;

    TaskContext(LeasedTask task, String workerId) {
        this.task = task;
        this.workerId = workerId;
    }

    public String taskId() {
        return task.getTaskId();
    }

    public String workflowId() {
        return task.getWorkflowId();
    }

    public String taskType() {
        return task.getTaskType();
    }

    public String referenceTaskName() {
        return task.getReferenceTaskName();
    }

    public String workflowName() {
        return task.getWorkflowName();
    }

    public String correlationId() {
        return task.getCorrelationId();
    }

    public int retryCount() {
        return task.getRetryCount();
    }

    public int pollCount() {
        return task.getPollCount();
    }

    public String workerId() {
        return workerId;
    }

    /** The raw input JSON text ("" when the task has no input). */
    public String inputJson() {
        return task.getInputJson();
    }

    /**
     * True once the server refused to extend the lease: the task was timed out and
     * may run elsewhere, so this result will be refused. Long handlers may check it
     * to stop early.
     */
    public boolean leaseLost() {
        return leaseLost;
    }

    void markLeaseLost() {
        leaseLost = true;
    }

    LeasedTask task() {
        return task;
    }
}
