package dev.baton.worker;

import dev.baton.internal.Backoff;
import dev.baton.internal.Channels;
import dev.baton.v1.TaskResult;
import dev.baton.v1.TaskServiceGrpc;
import dev.baton.v1.TaskStatus;
import dev.baton.v1.UpdateTaskRequest;
import dev.baton.v1.UpdateTaskResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Delivers a task's result with UpdateTask, retrying while the server is
 * unreachable. A result is the only record of work done, so it is worth waiting
 * for a restarting server; a refused lease or an ended task is final.
 */
final class ResultReporter {
    private static final System.Logger LOG = System.getLogger(ResultReporter.class.getName());

    enum Outcome { APPLIED, IGNORED, LEASE_LOST, DROPPED }

    private final TaskServiceGrpc.TaskServiceBlockingStub stub;
    private final ManagedChannel channel;
    private final Backoff backoff;
    private final long retryForNanos;
    private final Duration callTimeout;
    private volatile boolean abandoned;

    ResultReporter(TaskServiceGrpc.TaskServiceBlockingStub stub, ManagedChannel channel, Backoff backoff,
            Duration retryFor, Duration callTimeout) {
        this.stub = stub;
        this.channel = channel;
        this.backoff = backoff;
        this.retryForNanos = retryFor.toNanos();
        this.callTimeout = callTimeout;
    }

    /** Stops retrying (forced shutdown): results still failing are dropped. */
    void abandon() {
        abandoned = true;
    }

    Outcome report(TaskResult result) {
        UpdateTaskRequest request = UpdateTaskRequest.newBuilder().setResult(result).build();
        long giveUpAt = System.nanoTime() + retryForNanos;
        for (int attempt = 0; ; attempt++) {
            try {
                UpdateTaskResponse response = stub.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                        .updateTask(request);
                if (!response.getApplied()) {
                    LOG.log(Level.INFO, "task {0} had already ended; its result was ignored", result.getTaskId());
                    return Outcome.IGNORED;
                }
                return Outcome.APPLIED;
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code == Status.Code.INVALID_ARGUMENT && hasPayload(request.getResult())) {
                    // E.g. an output over the server's size limit: fail the task now, rather
                    // than leave it to time out, and say why.
                    LOG.log(Level.WARNING, "result of task {0} refused ({1}); reporting FAILED instead",
                            result.getTaskId(), e.getStatus().getDescription());
                    request = UpdateTaskRequest.newBuilder().setResult(result.toBuilder()
                            .setStatus(TaskStatus.TASK_STATUS_FAILED)
                            .setOutputJson("")
                            .clearLogs()
                            .setReasonForIncompletion("the server refused the task's result: "
                                    + e.getStatus().getDescription()))
                            .build();
                    continue;
                }
                if (code == Status.Code.FAILED_PRECONDITION) {
                    // The lease went stale: the task was timed out and handed to someone else.
                    LOG.log(Level.WARNING, "result of task {0} dropped, lease no longer held: {1}",
                            result.getTaskId(), e.getStatus().getDescription());
                    return Outcome.LEASE_LOST;
                }
                long delay = backoff.delayMillis(attempt);
                boolean retry = retryable(code) && !abandoned
                        && System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay) < giveUpAt;
                if (!retry) {
                    LOG.log(Level.ERROR, "result of task {0} dropped after {1} attempt(s): {2}",
                            result.getTaskId(), attempt + 1, e.getStatus());
                    return Outcome.DROPPED;
                }
                LOG.log(Level.DEBUG, "UpdateTask for {0} failed ({1}); retrying in {2} ms",
                        result.getTaskId(), code, delay);
                Channels.nudge(channel);
                if (!sleep(delay)) {
                    LOG.log(Level.ERROR, "result of task {0} dropped: interrupted while retrying", result.getTaskId());
                    return Outcome.DROPPED;
                }
            }
        }
    }

    /** Transient: the update may be sent again safely (an ended task ignores it). */
    private static boolean retryable(Status.Code code) {
        return code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED
                || code == Status.Code.RESOURCE_EXHAUSTED || code == Status.Code.ABORTED;
    }

    /** Whether a refused result had something besides its status that could be the cause. */
    private static boolean hasPayload(TaskResult result) {
        return !result.getOutputJson().isEmpty() || result.getLogsCount() > 0
                || result.getStatus() != TaskStatus.TASK_STATUS_FAILED;
    }

    private static boolean sleep(long millis) {
        try {
            Thread.sleep(millis);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
