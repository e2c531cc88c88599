package dev.baton.worker;

import dev.baton.v1.ExtendLeaseRequest;
import dev.baton.v1.ExtendLeaseResponse;
import dev.baton.v1.LeasedTask;
import dev.baton.v1.TaskServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Keeps a running task's lease alive: ExtendLease at half the time left, again
 * and again, until the handler ends. Without it a handler slower than the task's
 * responseTimeoutSeconds would be timed out and run twice.
 */
final class LeaseKeeper {
    private static final System.Logger LOG = System.getLogger(LeaseKeeper.class.getName());
    /** Pace of extensions when no lease time is left to halve. */
    private static final long RETRY_AFTER_EXPIRY_MILLIS = 1000;

    private final TaskServiceGrpc.TaskServiceStub stub;
    private final ScheduledExecutorService timers;
    private final long minDelayMillis;
    private final Duration callTimeout;

    LeaseKeeper(TaskServiceGrpc.TaskServiceStub stub, ScheduledExecutorService timers, Duration minDelay,
            Duration callTimeout) {
        this.stub = stub;
        this.timers = timers;
        this.minDelayMillis = minDelay.toMillis();
        this.callTimeout = callTimeout;
    }

    /** Starts extending the lease of {@code context}'s task; cancel the result when the handler ends. */
    Lease keep(TaskContext context) {
        Lease lease = new Lease(context);
        lease.scheduleNext();
        return lease;
    }

    final class Lease {
        private final TaskContext context;
        private final LeasedTask task;
        private long expiresMillis; // guarded by this
        private boolean done; // guarded by this
        private ScheduledFuture<?> next; // guarded by this
        private boolean attempted; // an extension was sent; guarded by this

        private Lease(TaskContext context) {
            this.context = context;
            this.task = context.task();
            this.expiresMillis = task.getLeaseExpiresMs() > 0 ? task.getLeaseExpiresMs() : fromTimeout();
        }

        /** Stops extending; the handler is done. */
        synchronized void cancel() {
            done = true;
            if (next != null) {
                next.cancel(false);
            }
        }

        private long fromTimeout() {
            long seconds = task.getResponseTimeoutSeconds();
            return seconds > 0 ? System.currentTimeMillis() + seconds * 1000 : 0;
        }

        private synchronized void scheduleNext() {
            if (done || expiresMillis == 0) {
                return; // no lease deadline known: nothing to extend
            }
            long left = expiresMillis - System.currentTimeMillis();
            long leaseMillis = task.getResponseTimeoutSeconds() * 1000;
            if (leaseMillis > 0) {
                left = Math.min(left, leaseMillis); // a clock behind the server's must not wait past the lease
            }
            // No time left (expired, or a clock ahead of the server's): try at once the
            // first time, then at most once a second rather than in a tight loop.
            long delay = left > 0 ? Math.max(minDelayMillis, left / 2)
                    : attempted ? RETRY_AFTER_EXPIRY_MILLIS : minDelayMillis;
            try {
                next = timers.schedule(this::extend, delay, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                done = true; // the worker is shutting down
            }
        }

        private void extend() {
            synchronized (this) {
                if (done) {
                    return;
                }
                attempted = true;
            }
            ExtendLeaseRequest request = ExtendLeaseRequest.newBuilder()
                    .setTaskId(task.getTaskId())
                    .setLeaseToken(task.getLeaseToken())
                    .setExtendSeconds(0) // the task definition's responseTimeoutSeconds
                    .build();
            stub.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .extendLease(request, new StreamObserver<>() {
                        @Override
                        public void onNext(ExtendLeaseResponse response) {
                            synchronized (Lease.this) {
                                expiresMillis = response.getLeaseExpiresMs() > 0 ? response.getLeaseExpiresMs() : fromTimeout();
                            }
                        }

                        @Override
                        public void onError(Throwable error) {
                            Status status = Status.fromThrowable(error);
                            if (status.getCode() == Status.Code.FAILED_PRECONDITION
                                    || status.getCode() == Status.Code.NOT_FOUND) {
                                LOG.log(Level.WARNING, "lease of task {0} lost: {1}", task.getTaskId(),
                                        status.getDescription());
                                context.markLeaseLost();
                                cancel();
                                return;
                            }
                            LOG.log(Level.DEBUG, "ExtendLease for {0} failed ({1}); retrying", task.getTaskId(), status);
                            scheduleNext();
                        }

                        @Override
                        public void onCompleted() {
                            scheduleNext();
                        }
                    });
        }
    }
}
