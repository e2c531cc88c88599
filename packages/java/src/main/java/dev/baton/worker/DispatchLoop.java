package dev.baton.worker;

import dev.baton.internal.Backoff;
import dev.baton.internal.Channels;
import dev.baton.v1.DispatchRequest;
import dev.baton.v1.DispatchResponse;
import dev.baton.v1.LeasedTask;
import dev.baton.v1.Subscribe;
import dev.baton.v1.TaskServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.lang.System.Logger.Level;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The Dispatch stream of one task type, kept open for the worker's lifetime.
 *
 * <p>Flow control: a new stream is granted as many credits as there are free slots
 * (concurrency minus tasks still running, even those from an earlier stream), and
 * each finished task gives one credit back. So running + credits outstanding never
 * exceeds the concurrency, across reconnects too. One stream per task type keeps
 * each type's limit exact: the server cannot spend one type's credits on another.
 */
final class DispatchLoop {
    private static final System.Logger LOG = System.getLogger(DispatchLoop.class.getName());

    /** Hands a task to a worker thread; {@code onFinished} must run once the result is delivered. */
    interface Launcher {
        void launch(LeasedTask task, Runnable onFinished);
    }

    private final HandlerRegistration registration;
    private final DispatchRequest subscribe;
    private final TaskServiceGrpc.TaskServiceStub stub;
    private final ManagedChannel channel;
    private final Backoff backoff;
    private final ScheduledExecutorService timers;
    private final Launcher launcher;

    private final Object lock = new Object();
    private int inFlight; // guarded by lock
    private Stream current; // the open stream, null between streams; guarded by lock
    private boolean stopping; // guarded by lock
    private int failures; // consecutive streams that ended without delivering anything; guarded by lock
    private long idleSinceNanos; // when inFlight last reached 0; guarded by lock

    DispatchLoop(HandlerRegistration registration, String workerId, String domain, TaskServiceGrpc.TaskServiceStub stub,
            ManagedChannel channel, Backoff backoff, ScheduledExecutorService timers, Launcher launcher) {
        this.registration = registration;
        this.subscribe = DispatchRequest.newBuilder()
                .setSubscribe(Subscribe.newBuilder()
                        .addTaskTypes(registration.taskType())
                        .setWorkerId(workerId)
                        .setDomain(domain))
                .build();
        this.stub = stub;
        this.channel = channel;
        this.backoff = backoff;
        this.timers = timers;
        this.launcher = launcher;
        this.idleSinceNanos = System.nanoTime();
    }

    String taskType() {
        return registration.taskType();
    }

    void start() {
        connect();
    }

    private void connect() {
        synchronized (lock) {
            if (stopping || current != null) {
                return;
            }
            Stream stream = new Stream();
            current = stream;
            Channels.nudge(channel);
            stub.dispatch(stream);
            stream.send(subscribe);
            int free = registration.concurrency() - inFlight;
            if (free > 0) {
                stream.send(credits(free));
            }
        }
    }

    /** A task's result was delivered (or dropped): free its slot and give the server one credit. */
    private void finished() {
        synchronized (lock) {
            inFlight--;
            if (inFlight == 0) {
                idleSinceNanos = System.nanoTime();
            }
            if (!stopping && current != null) {
                current.send(credits(1));
            }
            lock.notifyAll();
        }
    }

    /** Graceful stop: no more credits, and half-close so the server ends the stream. */
    void stop() {
        synchronized (lock) {
            stopping = true;
            if (current != null) {
                current.halfClose();
            }
            lock.notifyAll();
        }
    }

    /**
     * Waits until no task runs and the stream has ended. A server that keeps the
     * stream open after our half-close is waited for at most {@code graceNanos}
     * once idle, since a task it pushed just before seeing the half-close must still run.
     */
    boolean awaitDrained(long deadlineNanos, long graceNanos) throws InterruptedException {
        synchronized (lock) {
            while (true) {
                long now = System.nanoTime();
                boolean idle = inFlight == 0;
                if (idle && (current == null || now - idleSinceNanos >= graceNanos)) {
                    return true;
                }
                if (now - deadlineNanos >= 0) {
                    return false;
                }
                long until = idle ? Math.min(deadlineNanos - now, idleSinceNanos + graceNanos - now) : deadlineNanos - now;
                TimeUnit.NANOSECONDS.timedWait(lock, Math.max(1, until));
            }
        }
    }

    /** Ends the stream now (cancel), whatever the server does. */
    void forceStop() {
        synchronized (lock) {
            stopping = true;
            if (current != null) {
                current.cancel();
                current = null;
            }
            lock.notifyAll();
        }
    }

    int inFlight() {
        synchronized (lock) {
            return inFlight;
        }
    }

    private static DispatchRequest credits(int n) {
        return DispatchRequest.newBuilder().setCredits(n).build();
    }

    /** One Dispatch call; a reconnect makes a new one. */
    private final class Stream implements ClientResponseObserver<DispatchRequest, DispatchResponse> {
        private final long openedNanos = System.nanoTime();
        private ClientCallStreamObserver<DispatchRequest> requests;
        private boolean delivered; // guarded by lock
        private boolean halfClosed; // guarded by lock

        @Override
        public void beforeStart(ClientCallStreamObserver<DispatchRequest> requestStream) {
            this.requests = requestStream;
        }

        void send(DispatchRequest request) {
            if (halfClosed) {
                return;
            }
            try {
                requests.onNext(request);
            } catch (IllegalStateException e) {
                // The call already ended; its onError/onCompleted starts the reconnect.
            }
        }

        void halfClose() {
            if (!halfClosed) {
                halfClosed = true;
                try {
                    requests.onCompleted();
                } catch (IllegalStateException e) {
                    // already ended
                }
            }
        }

        void cancel() {
            requests.cancel("worker stopped", null);
        }

        @Override
        public void onNext(DispatchResponse response) {
            if (!response.hasTask()) {
                return;
            }
            LeasedTask task = response.getTask();
            synchronized (lock) {
                delivered = true;
                inFlight++;
                if (inFlight > registration.concurrency()) {
                    LOG.log(Level.WARNING, "server pushed more {0} tasks than credited ({1} running, limit {2})",
                            registration.taskType(), inFlight, registration.concurrency());
                }
            }
            launcher.launch(task, DispatchLoop.this::finished);
        }

        @Override
        public void onError(Throwable error) {
            ended(Status.fromThrowable(error));
        }

        @Override
        public void onCompleted() {
            ended(Status.OK);
        }

        private void ended(Status status) {
            long delay;
            int failed;
            synchronized (lock) {
                if (current == this) {
                    current = null;
                }
                lock.notifyAll();
                if (stopping) {
                    return;
                }
                // A stream that worked for a while starts the backoff afresh.
                boolean healthy = delivered || System.nanoTime() - openedNanos > backoff.max().toNanos();
                failures = healthy ? 0 : failures + 1;
                failed = failures;
                delay = backoff.delayMillis(failed);
            }
            if (status.getCode() == Status.Code.UNAVAILABLE) {
                // Name the address: "io exception" alone does not say which server, nor what to check.
                LOG.log(failed > 1 ? Level.WARNING : Level.INFO,
                        "cannot reach the Baton server at {0} for {1} ({2}); is it running (baton dev) and is the address"
                                + " (BATON_ADDRESS) right? reconnecting in {3} ms",
                        channel.authority(), registration.taskType(), describe(status), Long.toString(delay));
            } else {
                LOG.log(failed > 1 ? Level.WARNING : Level.INFO, "dispatch stream for {0} to {1} ended ({2}); reconnecting in {3} ms",
                        registration.taskType(), channel.authority(), describe(status), Long.toString(delay));
            }
            try {
                timers.schedule(DispatchLoop.this::connect, delay, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                // shutting down
            }
        }
    }

    private static String describe(Status status) {
        return status.getDescription() == null ? status.getCode().toString()
                : status.getCode() + ": " + status.getDescription();
    }
}
