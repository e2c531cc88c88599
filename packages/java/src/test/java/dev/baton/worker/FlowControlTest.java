package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.testing.FakeTaskService.ServerStream;
import dev.baton.v1.TaskStatus;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FlowControlTest extends WorkerTestBase {

    @Test
    void grantsOneCreditPerFreeSlotAndOneBackPerFinishedTask() throws Exception {
        CountDownLatch twoRunning = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        BatonWorker worker = worker();
        worker.handle("flow", JsonNode.class, in -> {
            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            twoRunning.countDown();
            assertTrue(release.await(30, TimeUnit.SECONDS));
            running.decrementAndGet();
            return Map.of("i", in.get("i"));
        }, 2).start();
        for (int i = 0; i < 6; i++) {
            tasks.enqueue(task("flow", "t" + i, "{\"i\":" + i + "}"));
        }

        assertTrue(twoRunning.await(20, TimeUnit.SECONDS));
        // Both slots are taken: the worker granted exactly 2 and the other 4 stay queued.
        await("4 tasks still queued", () -> tasks.pending("flow") == 4);
        assertEquals(2, tasks.creditsGranted("flow"));
        assertEquals(2, worker.inFlight("flow"));

        release.countDown();
        await("6 results", () -> tasks.results().size() == 6);
        await("a credit back per finished task", () -> tasks.creditsGranted("flow") == 8);
        assertEquals(2, maxRunning.get());
        assertEquals(2, tasks.maxCommitted("flow"), "running + outstanding credits exceeded the concurrency");
        tasks.results().forEach(r -> assertEquals(TaskStatus.TASK_STATUS_COMPLETED, r.getStatus()));
        ServerStream stream = tasks.streams().get(0);
        assertEquals("test-worker", stream.subscribe.getWorkerId());
        assertEquals(2, stream.initialCredits());
    }

    @Test
    void eachTaskTypeHasItsOwnStreamAndLimit() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        BatonWorker worker = worker();
        worker.handle("slow", JsonNode.class, in -> release.await(30, TimeUnit.SECONDS), 1)
                .handle("fast", JsonNode.class, in -> in, 3)
                .start();
        tasks.enqueue(task("slow", "s1", "{}"));
        tasks.enqueue(task("slow", "s2", "{}"));
        for (int i = 0; i < 5; i++) {
            tasks.enqueue(task("fast", "f" + i, "{}"));
        }
        // The blocked slow type does not hold back the fast one.
        await("fast tasks done", () -> tasks.results().size() == 5);
        assertEquals(1, tasks.pending("slow"));
        assertEquals(1, tasks.maxCommitted("slow"));
        assertTrue(tasks.maxCommitted("fast") <= 3);
        release.countDown();
        await("slow tasks done", () -> tasks.results().size() == 7);
    }

    @Test
    void handlersRegisteredAfterStartServeAtOnce() throws Exception {
        BatonWorker worker = worker().start();
        worker.handle("late", JsonNode.class, in -> Map.of("ok", true));
        tasks.enqueue(task("late", "l1", "{}"));
        await("late result", () -> tasks.result("l1") != null);
        assertEquals("{\"ok\":true}", tasks.result("l1").getOutputJson());
    }
}
