package dev.baton.worker;

import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;

/** Settings of a {@link BatonWorker}; every one has a working default. */
public final class BatonWorkerBuilder {
    String address = "127.0.0.1:7233";
    String workerId = defaultWorkerId();
    String domain = "";
    int defaultConcurrency = 1;
    ManagedChannel channel;
    boolean tls;
    Duration keepAlive;
    String token = System.getenv("BATON_TOKEN");
    ExecutorService executor;
    Duration reconnectInitial = Duration.ofMillis(200);
    Duration reconnectMax = Duration.ofSeconds(15);
    Duration resultRetryInitial = Duration.ofMillis(200);
    Duration resultRetryMax = Duration.ofSeconds(5);
    Duration resultRetryFor = Duration.ofMinutes(10);
    Duration callTimeout = Duration.ofSeconds(10);
    Duration shutdownTimeout = Duration.ofSeconds(30);
    Duration leaseExtendFloor = Duration.ofMillis(100);

    BatonWorkerBuilder() {}

    /** The server, "host:port" (default 127.0.0.1:7233) or any gRPC target. */
    public BatonWorkerBuilder address(String address) {
        this.address = Objects.requireNonNull(address, "address");
        return this;
    }

    /** Shown in the server's task records (default: host name and process id). */
    public BatonWorkerBuilder workerId(String workerId) {
        this.workerId = Objects.requireNonNull(workerId, "workerId");
        return this;
    }

    /** Only take tasks scheduled in this task domain. */
    public BatonWorkerBuilder domain(String domain) {
        this.domain = Objects.requireNonNull(domain, "domain");
        return this;
    }

    /** Concurrency of handlers registered without one (default 1). */
    public BatonWorkerBuilder defaultConcurrency(int concurrency) {
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be at least 1");
        }
        this.defaultConcurrency = concurrency;
        return this;
    }

    /** Use this channel instead of opening one; the worker will not close it. */
    public BatonWorkerBuilder channel(ManagedChannel channel) {
        this.channel = Objects.requireNonNull(channel, "channel");
        return this;
    }

    /** TLS instead of plaintext. */
    public BatonWorkerBuilder tls(boolean tls) {
        this.tls = tls;
        return this;
    }

    /** An API key sent with every call ({@code authorization: Bearer <key>}); BATON_TOKEN by default. */
    public BatonWorkerBuilder token(String token) {
        this.token = token;
        return this;
    }

    /** HTTP/2 keepalive pings while a call is open (off by default; the server must allow the rate). */
    public BatonWorkerBuilder keepAlive(Duration interval) {
        this.keepAlive = interval;
        return this;
    }

    /**
     * Run handlers on this executor instead of a bounded pool per task type (e.g.
     * virtual threads on Java 21). Concurrency limits still hold: they are enforced
     * by the credits granted, not by the executor. The worker does not shut it down.
     */
    public BatonWorkerBuilder executor(ExecutorService executor) {
        this.executor = Objects.requireNonNull(executor, "executor");
        return this;
    }

    /** Backoff between Dispatch reconnects (default 200 ms doubling to 15 s, jittered). */
    public BatonWorkerBuilder reconnectBackoff(Duration initial, Duration max) {
        this.reconnectInitial = initial;
        this.reconnectMax = max;
        return this;
    }

    /** Backoff between UpdateTask retries, and how long to keep retrying a result (default 10 min). */
    public BatonWorkerBuilder resultRetry(Duration initial, Duration max, Duration retryFor) {
        this.resultRetryInitial = initial;
        this.resultRetryMax = max;
        this.resultRetryFor = retryFor;
        return this;
    }

    /** Deadline of each unary call (UpdateTask, ExtendLease); default 10 s. */
    public BatonWorkerBuilder callTimeout(Duration timeout) {
        this.callTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /** How long {@link BatonWorker#close()} lets running tasks finish (default 30 s). */
    public BatonWorkerBuilder shutdownTimeout(Duration timeout) {
        this.shutdownTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /** Shortest wait between two lease extensions of one task (default 100 ms). */
    public BatonWorkerBuilder leaseExtendFloor(Duration floor) {
        this.leaseExtendFloor = Objects.requireNonNull(floor, "floor");
        return this;
    }

    public BatonWorker build() {
        return new BatonWorker(this);
    }

    private static String defaultWorkerId() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            host = "java";
        }
        return host + "-" + ProcessHandle.current().pid();
    }
}
