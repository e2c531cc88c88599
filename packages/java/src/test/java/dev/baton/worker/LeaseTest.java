package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.v1.ExtendLeaseRequest;
import dev.baton.v1.TaskResult;
import dev.baton.v1.TaskStatus;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class LeaseTest extends WorkerTestBase {

    @Test
    void aLongHandlerKeepsItsLeaseAlive() throws Exception {
        // A 1 s lease, renewed for 1 s each time: the handler outlives it several times over.
        tasks.extensionLease(Duration.ofSeconds(1));
        worker().handle("long", JsonNode.class, in -> {
            tasks.await("3 extensions", WAIT, () -> tasks.extensions().size() >= 3);
            return Map.of("done", true);
        }).start();
        tasks.enqueue(task("long", "L1", "{}", 1000));

        await("result", () -> tasks.result("L1") != null);
        TaskResult result = tasks.result("L1");
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, result.getStatus());
        for (ExtendLeaseRequest request : tasks.extensions()) {
            assertEquals("L1", request.getTaskId());
            assertEquals("tok-L1", request.getLeaseToken());
            assertEquals(0, request.getExtendSeconds(), "0 = the task definition's responseTimeoutSeconds");
        }
        int extensions = tasks.extensions().size();
        // Extension stops with the handler (one may already have been on the wire when it returned).
        Thread.sleep(1500);
        assertTrue(tasks.extensions().size() <= extensions + 1, "extensions went on after the handler ended");
    }

    @Test
    void aServerClockBehindOursDoesNotCauseATightExtensionLoop() throws Exception {
        // Every lease the server hands out looks expired to us.
        tasks.extensionLease(Duration.ofSeconds(-5));
        worker().handle("skew", JsonNode.class, in -> {
            Thread.sleep(2500);
            return Map.of();
        }).start();
        tasks.enqueue(task("skew", "K1", "{}", -5000));
        await("result", () -> tasks.result("K1") != null);
        int extensions = tasks.extensions().size();
        // Once at once, then about once a second: 3 or 4 in 2.5 s; a tight loop would send ~25.
        assertTrue(extensions >= 1 && extensions <= 6, "extensions: " + extensions);
    }

    @Test
    void aRefusedExtensionTellsTheHandlerItsLeaseIsLost() throws Exception {
        tasks.refuseExtensions(true);
        AtomicBoolean sawLoss = new AtomicBoolean();
        worker().handle("lost", JsonNode.class, (in, context) -> {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!context.leaseLost() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            sawLoss.set(context.leaseLost());
            return Map.of();
        }).start();
        tasks.enqueue(task("lost", "X1", "{}", 400));
        await("result", () -> tasks.result("X1") != null);
        assertTrue(sawLoss.get());
        assertEquals(1, tasks.extensions().size(), "no further extensions once lost");
    }
}
