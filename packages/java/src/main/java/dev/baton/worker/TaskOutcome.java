package dev.baton.worker;

import dev.baton.v1.TaskStatus;
import java.time.Duration;
import java.util.Objects;

/**
 * Returned by a handler that wants a status other than COMPLETED without throwing,
 * e.g. IN_PROGRESS to be handed the task again later (a poll-style external wait).
 * Any other return value means COMPLETED with that value as output.
 */
public final class TaskOutcome {
    private final TaskStatus status;
    private final Object output;
    private final String reason;
    private final long callbackAfterSeconds;

    private TaskOutcome(TaskStatus status, Object output, String reason, long callbackAfterSeconds) {
        this.status = status;
        this.output = output;
        this.reason = reason;
        this.callbackAfterSeconds = callbackAfterSeconds;
    }

    public static TaskOutcome completed(Object output) {
        return new TaskOutcome(TaskStatus.TASK_STATUS_COMPLETED, output, "", 0);
    }

    /** Not done yet: the server hands the task out again after {@code callbackAfter}. */
    public static TaskOutcome inProgress(Duration callbackAfter, Object output) {
        Objects.requireNonNull(callbackAfter, "callbackAfter");
        return new TaskOutcome(TaskStatus.TASK_STATUS_IN_PROGRESS, output, "", Math.max(0, callbackAfter.toSeconds()));
    }

    /** Failed, to be retried per the task definition. */
    public static TaskOutcome failed(String reason, Object output) {
        return new TaskOutcome(TaskStatus.TASK_STATUS_FAILED, output, Objects.requireNonNull(reason, "reason"), 0);
    }

    /** Failed for good (no retry). */
    public static TaskOutcome failedTerminal(String reason, Object output) {
        return new TaskOutcome(
                TaskStatus.TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, output, Objects.requireNonNull(reason, "reason"), 0);
    }

    TaskStatus status() {
        return status;
    }

    Object output() {
        return output;
    }

    String reason() {
        return reason;
    }

    long callbackAfterSeconds() {
        return callbackAfterSeconds;
    }
}
