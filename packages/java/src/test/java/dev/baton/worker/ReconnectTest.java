package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.testing.FakeTaskService.ServerStream;
import dev.baton.v1.TaskStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ReconnectTest extends WorkerTestBase {

    @Test
    void theWorkerResubscribesAfterAServerRestart() throws Exception {
        worker().handle("rc", JsonNode.class, in -> Map.of("ok", true), 3).start();
        await("first stream", () -> tasks.openStreams("rc") == 1);

        server.restart();
        tasks.enqueue(task("rc", "after", "{}"));

        await("result after restart", () -> tasks.result("after") != null);
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, tasks.result("after").getStatus());
        List<ServerStream> streams = tasks.streams();
        assertTrue(streams.size() >= 2, "a new stream was opened");
        ServerStream last = streams.get(streams.size() - 1);
        assertEquals("rc", last.taskType());
        assertEquals(3, last.initialCredits());
    }

    @Test
    void aTaskRunningAcrossARestartStillDeliversAndKeepsTheLimit() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        worker().handle("span", JsonNode.class, in -> {
            started.countDown();
            assertTrue(release.await(30, TimeUnit.SECONDS));
            return Map.of("id", in.get("id"));
        }, 2).start();
        tasks.enqueue(task("span", "before", "{\"id\":1}"));
        assertTrue(started.await(20, TimeUnit.SECONDS));

        server.restart();
        await("new stream", () -> tasks.openStreams("span") == 1 && tasks.streams().size() >= 2
                && !tasks.streams().get(tasks.streams().size() - 1).creditMessages.isEmpty());
        // One slot is still busy with the task from before the restart.
        ServerStream fresh = tasks.streams().get(tasks.streams().size() - 1);
        assertEquals(1, fresh.initialCredits());

        release.countDown();
        await("result of the task from before", () -> tasks.result("before") != null);
        await("its slot given back on the new stream", () -> fresh.credits == 2);
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, tasks.result("before").getStatus());
    }
}
