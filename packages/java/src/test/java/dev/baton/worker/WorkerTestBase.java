package dev.baton.worker;

import dev.baton.testing.FakeBatonServer;
import dev.baton.testing.FakeTaskService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A fake server per test and workers with short backoffs; all closed after the test. */
abstract class WorkerTestBase {
    /** Wide on purpose: these bound a wait for something that normally takes milliseconds. */
    static final Duration WAIT = Duration.ofSeconds(20);

    FakeBatonServer server;
    FakeTaskService tasks;
    private final List<BatonWorker> workers = new ArrayList<>();

    @BeforeEach
    void startServer() {
        server = new FakeBatonServer();
        tasks = server.tasks;
    }

    @AfterEach
    void stopAll() throws InterruptedException {
        for (BatonWorker worker : workers) {
            worker.shutdown(Duration.ofSeconds(5));
        }
        server.close();
    }

    BatonWorkerBuilder workerBuilder() {
        return BatonWorker.builder()
                .address(server.address())
                .workerId("test-worker")
                .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
                .resultRetry(Duration.ofMillis(20), Duration.ofMillis(200), Duration.ofSeconds(30));
    }

    BatonWorker worker() {
        return track(workerBuilder().build());
    }

    BatonWorker track(BatonWorker worker) {
        workers.add(worker);
        return worker;
    }

    void await(String what, BooleanSupplier condition) throws InterruptedException {
        tasks.await(what, WAIT, condition);
    }
}
