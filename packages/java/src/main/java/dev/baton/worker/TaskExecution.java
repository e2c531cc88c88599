package dev.baton.worker;

import dev.baton.json.BatonJson;
import dev.baton.v1.LeasedTask;
import dev.baton.v1.TaskResult;
import dev.baton.v1.TaskStatus;
import java.lang.System.Logger.Level;

/**
 * Runs one leased task on a worker thread: binds the input, calls the handler
 * while its lease is kept alive, turns the return value or exception into a
 * TaskResult, delivers it, then frees the slot.
 */
final class TaskExecution implements Runnable {
    private static final System.Logger LOG = System.getLogger(TaskExecution.class.getName());

    private final LeasedTask task;
    private final HandlerRegistration registration;
    private final String workerId;
    private final LeaseKeeper leases;
    private final ResultReporter reporter;
    private final Runnable onFinished;

    TaskExecution(LeasedTask task, HandlerRegistration registration, String workerId, LeaseKeeper leases,
            ResultReporter reporter, Runnable onFinished) {
        this.task = task;
        this.registration = registration;
        this.workerId = workerId;
        this.leases = leases;
        this.reporter = reporter;
        this.onFinished = onFinished;
    }

    @Override
    public void run() {
        try {
            TaskResult result = execute(new TaskContext(task, workerId));
            // A forced shutdown interrupts handlers; the FAILED result must still go out.
            boolean interrupted = Thread.interrupted();
            reporter.report(result);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        } finally {
            onFinished.run();
        }
    }

    private TaskResult execute(TaskContext context) {
        TaskResult.Builder result = TaskResult.newBuilder()
                .setTaskId(task.getTaskId())
                .setLeaseToken(task.getLeaseToken())
                .setWorkerId(workerId);
        LeaseKeeper.Lease lease = leases.keep(context);
        try {
            Object returned = registration.invoker().invoke(context);
            return fromReturn(result, returned);
        } catch (TerminalException | TaskInvoker.InputBindingException e) {
            // Retrying cannot fix either: the same input would fail the same way.
            LOG.log(Level.WARNING, "task " + task.getTaskId() + " (" + task.getTaskType() + ") failed for good: "
                    + reason(e));
            return result.setStatus(TaskStatus.TASK_STATUS_FAILED_WITH_TERMINAL_ERROR)
                    .setReasonForIncompletion(reason(e))
                    .build();
        } catch (Throwable e) {
            LOG.log(Level.WARNING, "task " + task.getTaskId() + " (" + task.getTaskType() + ") failed", e);
            return result.setStatus(TaskStatus.TASK_STATUS_FAILED).setReasonForIncompletion(reason(e)).build();
        } finally {
            lease.cancel();
        }
    }

    private static TaskResult fromReturn(TaskResult.Builder result, Object returned) {
        if (returned instanceof TaskOutcome outcome) {
            return result.setStatus(outcome.status())
                    .setOutputJson(BatonJson.writeOutput(outcome.output()))
                    .setReasonForIncompletion(outcome.reason())
                    .setCallbackAfterSeconds(outcome.callbackAfterSeconds())
                    .build();
        }
        return result.setStatus(TaskStatus.TASK_STATUS_COMPLETED).setOutputJson(BatonJson.writeOutput(returned)).build();
    }

    /** Long enough for any useful message; short enough that the server never refuses it. */
    private static final int MAX_REASON_CHARS = 4000;

    /** The exception's message; its class name when it has none, so the reason is never blank. */
    static String reason(Throwable e) {
        String message = e.getMessage();
        String reason = message == null || message.isBlank() ? e.getClass().getName() : message;
        return reason.length() > MAX_REASON_CHARS ? reason.substring(0, MAX_REASON_CHARS) + "…" : reason;
    }
}
