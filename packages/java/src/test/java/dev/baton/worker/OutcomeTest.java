package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.v1.TaskResult;
import dev.baton.v1.TaskStatus;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OutcomeTest extends WorkerTestBase {
    record Typed(int count) {}

    private TaskResult run(String type, String input) throws InterruptedException {
        String id = type + "-1";
        tasks.enqueue(task(type, id, input));
        await("result of " + id, () -> tasks.result(id) != null);
        return tasks.result(id);
    }

    @Test
    void anExceptionFailsTheTaskWithItsMessage() throws Exception {
        worker().handle("boom", JsonNode.class, in -> {
            throw new IllegalStateException("boom: ünïcode 💥");
        }).start();
        TaskResult result = run("boom", "{}");
        assertEquals(TaskStatus.TASK_STATUS_FAILED, result.getStatus());
        assertEquals("boom: ünïcode 💥", result.getReasonForIncompletion());
        assertEquals("tok-boom-1", result.getLeaseToken());
        assertEquals("test-worker", result.getWorkerId());
    }

    @Test
    void anExceptionWithoutMessageIsNamedByItsClass() throws Exception {
        worker().handle("npe", JsonNode.class, in -> {
            throw new NullPointerException();
        }).start();
        TaskResult result = run("npe", "{}");
        assertEquals(TaskStatus.TASK_STATUS_FAILED, result.getStatus());
        assertEquals("java.lang.NullPointerException", result.getReasonForIncompletion());
    }

    @Test
    void aTerminalExceptionFailsForGood() throws Exception {
        worker().handle("terminal", JsonNode.class, in -> {
            throw new TerminalException("card declined");
        }).start();
        TaskResult result = run("terminal", "{}");
        assertEquals(TaskStatus.TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, result.getStatus());
        assertEquals("card declined", result.getReasonForIncompletion());
    }

    @Test
    void anInputThatDoesNotBindFailsTheTaskForGood() throws Exception {
        worker().handle("typed", Typed.class, in -> in).start();
        TaskResult result = run("typed", "{\"count\":\"many\"}");
        assertEquals(TaskStatus.TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, result.getStatus());
        assertTrue(result.getReasonForIncompletion().startsWith("cannot read the task input as Typed"),
                result.getReasonForIncompletion());
    }

    @Test
    void inProgressAsksToBeCalledBackLater() throws Exception {
        worker().handle("poll", JsonNode.class, in -> TaskOutcome.inProgress(Duration.ofSeconds(30), Map.of("step", 1)))
                .start();
        TaskResult result = run("poll", "{}");
        assertEquals(TaskStatus.TASK_STATUS_IN_PROGRESS, result.getStatus());
        assertEquals(30, result.getCallbackAfterSeconds());
        assertEquals("{\"step\":1}", result.getOutputJson());
    }

    @Test
    void aStaleLeaseIsDroppedAndTheSlotFreed() throws Exception {
        BatonWorker worker = worker().handle("stale", JsonNode.class, in -> in, 1);
        tasks.enqueue(task("stale", "s1", "{}"));
        tasks.revokeLease("s1"); // as if it timed out and went to another worker
        worker.start();
        await("refused update", () -> tasks.updateReplies().contains(Status.Code.FAILED_PRECONDITION));
        // Not retried, and the slot came back: the next task runs.
        tasks.enqueue(task("stale", "s2", "{}"));
        await("next result", () -> tasks.result("s2") != null);
        assertEquals(2, tasks.updateReplies().size());
    }

    @Test
    void aResultTheServerRefusesBecomesFailedWithTheReason() throws Exception {
        tasks.maxOutputBytes(100);
        worker().handle("huge", JsonNode.class, in -> Map.of("blob", "x".repeat(1000))).start();
        TaskResult result = run("huge", "{}");
        assertEquals(TaskStatus.TASK_STATUS_FAILED, result.getStatus());
        assertEquals("", result.getOutputJson());
        assertTrue(result.getReasonForIncompletion().startsWith("the server refused the task's result: output_json is"),
                result.getReasonForIncompletion());
    }

    @Test
    void updateTaskIsRetriedWhileTheServerIsUnavailable() throws Exception {
        tasks.failNextUpdates(3, Status.UNAVAILABLE.withDescription("restarting"));
        worker().handle("retry", JsonNode.class, in -> Map.of("done", true)).start();
        TaskResult result = run("retry", "{}");
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, result.getStatus());
        assertEquals(4, tasks.updateReplies().size());
    }
}
