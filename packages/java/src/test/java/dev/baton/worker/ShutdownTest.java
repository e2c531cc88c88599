package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.testing.FakeTaskService.ServerStream;
import dev.baton.v1.TaskStatus;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ShutdownTest extends WorkerTestBase {

    @Test
    void shutdownStopsTakingTasksAndLetsRunningOnesFinish() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BatonWorker worker = worker();
        worker.handle("drain", JsonNode.class, in -> {
            started.countDown();
            assertTrue(release.await(30, TimeUnit.SECONDS));
            return Map.of("finished", true);
        }, 2).start();
        tasks.enqueue(task("drain", "d1", "{}"));
        assertTrue(started.await(20, TimeUnit.SECONDS));

        CompletableFuture<Boolean> shutdown = CompletableFuture.supplyAsync(() -> worker.shutdown(Duration.ofSeconds(30)));
        await("half-close", () -> tasks.streams().get(0).halfClosedByWorker);
        tasks.enqueue(task("drain", "d2", "{}"));
        assertFalse(shutdown.isDone(), "shutdown waits for the running task");

        release.countDown();
        assertTrue(shutdown.get(20, TimeUnit.SECONDS), "finished in time");
        assertCompleted("d1");
        ServerStream stream = tasks.streams().get(0);
        assertEquals(0, stream.creditsAfterHalfClose, "no credits after the half-close");
        assertEquals(1, tasks.pending("drain"), "the task queued after shutdown began was not taken");
    }

    @Test
    void aTimedOutShutdownInterruptsHandlersWhichReportFailed() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        BatonWorker worker = worker();
        worker.handle("stuck", JsonNode.class, in -> {
            started.countDown();
            Thread.sleep(60_000);
            return Map.of();
        }).start();
        tasks.enqueue(task("stuck", "s1", "{}"));
        assertTrue(started.await(20, TimeUnit.SECONDS));

        assertFalse(worker.shutdown(Duration.ofMillis(300)));
        await("failed result", () -> tasks.result("s1") != null);
        assertEquals(TaskStatus.TASK_STATUS_FAILED, tasks.result("s1").getStatus());
        assertTrue(worker.awaitTermination(Duration.ofSeconds(1)));
    }

    @Test
    void closeIsIdempotentAndRejectsNewHandlers() throws Exception {
        BatonWorker worker = worker().handle("x", JsonNode.class, in -> in).start();
        worker.close();
        worker.close();
        try {
            worker.handle("y", JsonNode.class, in -> in);
            throw new AssertionError("handle after close must fail");
        } catch (IllegalStateException expected) {
            // closed
        }
    }

    private void assertCompleted(String id) {
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, tasks.result(id).getStatus());
        assertEquals("{\"finished\":true}", tasks.result(id).getOutputJson());
    }
}
