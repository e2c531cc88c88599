package dev.baton.worker;

import dev.baton.internal.Backoff;
import dev.baton.internal.Channels;
import dev.baton.json.BatonJson;
import dev.baton.v1.LeasedTask;
import dev.baton.v1.TaskServiceGrpc;
import io.grpc.ManagedChannel;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves task types to a Baton server over the TaskService.Dispatch stream.
 *
 * <pre>{@code
 * try (BatonWorker worker = BatonWorker.builder().address("127.0.0.1:7233").build()) {
 *     worker.handle("java_greet", GreetInput.class, in -> new GreetOutput("Hello, " + in.name()), 4);
 *     worker.start();
 *     worker.awaitTermination();
 * }
 * }</pre>
 *
 * Each task type gets its own stream and a pool of {@code concurrency} threads; the
 * server pushes a task only when a slot is free. Handlers may be registered before
 * or after {@link #start()}. {@link #close()} stops taking tasks, lets running ones
 * finish and deliver their results, then disconnects.
 */
public final class BatonWorker implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BatonWorker.class.getName());
    /** How long a drained worker waits for the server to end a half-closed stream. */
    private static final long STREAM_END_GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** After a timed-out shutdown, how long interrupted handlers get to report. */
    private static final long FORCED_REPORT_GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);

    private enum State { NEW, RUNNING, STOPPING, TERMINATED }

    private final BatonWorkerBuilder config;
    private final ManagedChannel channel;
    private final boolean ownsChannel;
    private final TaskServiceGrpc.TaskServiceStub asyncStub;
    private final ScheduledExecutorService timers;
    private final LeaseKeeper leases;
    private final ResultReporter reporter;
    private final Map<String, DispatchLoop> loops = new LinkedHashMap<>(); // guarded by this
    private final List<ExecutorService> ownedExecutors = new ArrayList<>(); // guarded by this
    private final Set<FutureTask<?>> running = ConcurrentHashMap.newKeySet();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private State state = State.NEW; // guarded by this

    BatonWorker(BatonWorkerBuilder config) {
        this.config = config;
        this.ownsChannel = config.channel == null;
        this.channel = ownsChannel ? Channels.open(config.address, config.tls, config.keepAlive, config.token) : config.channel;
        this.asyncStub = TaskServiceGrpc.newStub(channel);
        ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1, daemonThreads("baton-timer"));
        scheduler.setRemoveOnCancelPolicy(true);
        this.timers = scheduler;
        this.leases = new LeaseKeeper(asyncStub, timers, config.leaseExtendFloor, config.callTimeout);
        this.reporter = new ResultReporter(TaskServiceGrpc.newBlockingStub(channel), channel,
                new Backoff(config.resultRetryInitial, config.resultRetryMax), config.resultRetryFor, config.callTimeout);
    }

    public static BatonWorkerBuilder builder() {
        return new BatonWorkerBuilder();
    }

    public String workerId() {
        return config.workerId;
    }

    /** The task types registered so far. */
    public synchronized Set<String> taskTypes() {
        return Collections.unmodifiableSet(new LinkedHashSet<>(loops.keySet()));
    }

    /** Serves {@code taskType} with the worker's default concurrency. */
    public <I, O> BatonWorker handle(String taskType, Class<I> inputType, Handler<I, O> handler) {
        return handle(taskType, inputType, handler, config.defaultConcurrency);
    }

    /** Serves {@code taskType}: at most {@code concurrency} tasks of it run at once. */
    public <I, O> BatonWorker handle(String taskType, Class<I> inputType, Handler<I, O> handler, int concurrency) {
        Objects.requireNonNull(handler, "handler");
        return handle(taskType, inputType, (ContextHandler<I, O>) (input, context) -> handler.handle(input), concurrency);
    }

    /** Serves {@code taskType} with a handler that also gets the {@link TaskContext}. */
    public <I, O> BatonWorker handle(String taskType, Class<I> inputType, ContextHandler<I, O> handler) {
        return handle(taskType, inputType, handler, config.defaultConcurrency);
    }

    public <I, O> BatonWorker handle(String taskType, Class<I> inputType, ContextHandler<I, O> handler, int concurrency) {
        Objects.requireNonNull(inputType, "inputType");
        Objects.requireNonNull(handler, "handler");
        TaskInvoker invoker = TaskInvoker.of(BatonJson.mapper().constructType(inputType), handler);
        add(new HandlerRegistration(taskType, concurrency, invoker));
        return this;
    }

    /** Serves every {@link TaskHandler} method of {@code handlers}. */
    public BatonWorker register(Object handlers) {
        Objects.requireNonNull(handlers, "handlers");
        List<HandlerRegistration> found = AnnotatedHandlers.scan(handlers, config.defaultConcurrency);
        synchronized (this) {
            for (HandlerRegistration registration : found) {
                if (loops.containsKey(registration.taskType())) {
                    throw new IllegalArgumentException("task type " + registration.taskType() + " is already handled");
                }
            }
            found.forEach(this::add);
        }
        return this;
    }

    /** Opens the streams; handlers registered later start serving at once. */
    public synchronized BatonWorker start() {
        if (state != State.NEW) {
            if (state == State.RUNNING) {
                return this;
            }
            throw new IllegalStateException("worker is closed");
        }
        state = State.RUNNING;
        loops.values().forEach(DispatchLoop::start);
        LOG.log(Level.INFO, "worker {0} serving {1} at {2}", config.workerId, loops.keySet(), config.address);
        return this;
    }

    private synchronized void add(HandlerRegistration registration) {
        if (state == State.STOPPING || state == State.TERMINATED) {
            throw new IllegalStateException("worker is closed");
        }
        if (loops.containsKey(registration.taskType())) {
            throw new IllegalArgumentException("task type " + registration.taskType() + " is already handled");
        }
        ExecutorService executor = config.executor != null ? config.executor : ownPool(registration);
        DispatchLoop loop = new DispatchLoop(registration, config.workerId, config.domain, asyncStub, channel,
                new Backoff(config.reconnectInitial, config.reconnectMax), timers,
                (task, onFinished) -> launch(executor, registration, task, onFinished));
        loops.put(registration.taskType(), loop);
        if (state == State.RUNNING) {
            loop.start();
        }
    }

    private ExecutorService ownPool(HandlerRegistration registration) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(registration.concurrency(), registration.concurrency(),
                30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), threads("baton-" + registration.taskType(), false));
        pool.allowCoreThreadTimeOut(true); // an idle type holds no threads
        ownedExecutors.add(pool);
        return pool;
    }

    private void launch(ExecutorService executor, HandlerRegistration registration, LeasedTask task, Runnable onFinished) {
        FutureTask<?>[] self = new FutureTask<?>[1];
        TaskExecution execution = new TaskExecution(task, registration, config.workerId, leases, reporter, () -> {
            running.remove(self[0]);
            onFinished.run();
        });
        FutureTask<Void> future = new FutureTask<>(execution, null);
        self[0] = future;
        running.add(future); // before execute, so a fast task cannot finish before it is tracked
        try {
            executor.execute(future);
        } catch (RejectedExecutionException e) {
            running.remove(future);
            LOG.log(Level.ERROR, "executor refused task {0}; its lease will run out", task.getTaskId());
            onFinished.run();
        }
    }

    /**
     * Stops taking tasks and waits up to {@code timeout} for running ones to finish
     * and deliver their results; past that, interrupts them (they report FAILED) and
     * disconnects. Returns true when everything finished in time.
     */
    public boolean shutdown(Duration timeout) {
        List<DispatchLoop> toStop;
        synchronized (this) {
            if (state == State.STOPPING || state == State.TERMINATED) {
                toStop = null;
            } else {
                state = State.STOPPING;
                toStop = new ArrayList<>(loops.values());
            }
        }
        if (toStop == null) {
            awaitQuietly();
            return true;
        }
        boolean clean = true;
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            toStop.forEach(DispatchLoop::stop);
            clean = awaitDrained(toStop, deadline, STREAM_END_GRACE_NANOS);
            if (!clean) {
                LOG.log(Level.WARNING, "tasks still running after {0}; interrupting them", timeout);
                reporter.abandon();
                running.forEach(task -> task.cancel(true));
                awaitDrained(toStop, System.nanoTime() + FORCED_REPORT_GRACE_NANOS, 0);
            }
        } catch (InterruptedException e) {
            clean = false;
            Thread.currentThread().interrupt();
        } finally {
            toStop.forEach(DispatchLoop::forceStop);
            release(clean);
        }
        return clean;
    }

    private static boolean awaitDrained(List<DispatchLoop> loops, long deadline, long grace) throws InterruptedException {
        boolean drained = true;
        for (DispatchLoop loop : loops) {
            drained &= loop.awaitDrained(deadline, grace);
        }
        return drained;
    }

    private void release(boolean clean) {
        timers.shutdownNow();
        synchronized (this) {
            for (ExecutorService pool : ownedExecutors) {
                if (clean) {
                    pool.shutdown();
                } else {
                    pool.shutdownNow();
                }
            }
            state = State.TERMINATED;
        }
        if (ownsChannel) {
            Channels.close(channel, Duration.ofSeconds(2));
        }
        terminated.countDown();
        LOG.log(Level.INFO, "worker {0} stopped", config.workerId);
    }

    /** {@link #shutdown(Duration)} with the builder's shutdown timeout (default 30 s). */
    @Override
    public void close() {
        shutdown(config.shutdownTimeout);
    }

    /** Blocks until the worker has been shut down (e.g. by a shutdown hook calling close()). */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Tasks of {@code taskType} running now (0 when not handled). */
    public synchronized int inFlight(String taskType) {
        DispatchLoop loop = loops.get(taskType);
        return loop == null ? 0 : loop.inFlight();
    }

    private void awaitQuietly() {
        try {
            terminated.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static ThreadFactory daemonThreads(String name) {
        return threads(name, true);
    }

    private static ThreadFactory threads(String prefix, boolean daemon) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
            thread.setDaemon(daemon);
            return thread;
        };
    }
}
