package dev.baton.client;

import dev.baton.v1.WorkflowStatus;

/** A run's status, as Conductor names it. */
public enum WorkflowState {
    RUNNING, COMPLETED, FAILED, TIMED_OUT, TERMINATED, PAUSED, UNKNOWN;

    /** True once the run has ended (it may still be retried or restarted). */
    public boolean isTerminal() {
        return this == COMPLETED || this == FAILED || this == TIMED_OUT || this == TERMINATED;
    }

    static WorkflowState of(WorkflowStatus status) {
        return switch (status) {
            case WORKFLOW_STATUS_RUNNING -> RUNNING;
            case WORKFLOW_STATUS_COMPLETED -> COMPLETED;
            case WORKFLOW_STATUS_FAILED -> FAILED;
            case WORKFLOW_STATUS_TIMED_OUT -> TIMED_OUT;
            case WORKFLOW_STATUS_TERMINATED -> TERMINATED;
            case WORKFLOW_STATUS_PAUSED -> PAUSED;
            default -> UNKNOWN;
        };
    }
}
