package dev.baton.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.baton.testing.FakeBatonServer;
import dev.baton.v1.StartWorkflowRequest;
import io.grpc.Status;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BatonClientTest {
    record Greeting(String greeting, BigInteger big) {}

    FakeBatonServer server;
    BatonClient client;

    @BeforeEach
    void start() {
        server = new FakeBatonServer();
        client = BatonClient.connect(server.address());
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        server.close();
    }

    @Test
    void startCarriesInputAndOptions() {
        StartedRun run = client.startWorkflow("greet", Map.of("name", "Zoë 🎉"),
                StartOptions.defaults().version(3).correlationId("c-1").idempotencyKey("k-1").priority(5));
        assertTrue(run.created());
        StartWorkflowRequest sent = server.workflows.starts().get(0);
        assertEquals("greet", sent.getName());
        assertEquals("{\"name\":\"Zoë 🎉\"}", sent.getInputJson());
        assertTrue(sent.hasVersion());
        assertEquals(3, sent.getVersion());
        assertEquals("c-1", sent.getCorrelationId());
        assertEquals("k-1", sent.getIdempotencyKey());
        assertEquals(5, sent.getPriority());

        StartedRun again = client.startWorkflow("greet", Map.of(), StartOptions.defaults().idempotencyKey("k-1"));
        assertEquals(run.workflowId(), again.workflowId());
        assertFalse(again.created());
        assertFalse(server.workflows.starts().get(1).hasVersion(), "no version = latest");
    }

    @Test
    void waitReturnsTheEndedRunWithExactOutput() throws Exception {
        String id = client.startWorkflow("greet", Map.of("name", "Ada")).workflowId();
        CompletableFuture<WorkflowRun> waiting =
                CompletableFuture.supplyAsync(() -> client.waitWorkflow(id, Duration.ofSeconds(20)));
        server.workflows.complete(id, "{\"greeting\":\"Hello, Ada\",\"big\":9007199254740993}");

        WorkflowRun run = waiting.get(20, TimeUnit.SECONDS);
        assertTrue(run.finished());
        assertTrue(run.succeeded());
        assertEquals(WorkflowState.COMPLETED, run.status());
        assertEquals("9007199254740993", run.output().get("big").asText());
        assertEquals(new Greeting("Hello, Ada", new BigInteger("9007199254740993")), run.output(Greeting.class));
        assertEquals("Ada", run.input().get("name").asText());

        WorkflowRun got = client.getWorkflow(id);
        assertEquals(run.output(), got.output());
        assertTrue(got.finished());
    }

    @Test
    void aWaitThatRunsOutIsNotFinished() {
        String id = client.startWorkflow("slow", Map.of()).workflowId();
        WorkflowRun run = client.waitWorkflow(id, Duration.ofMillis(100));
        assertFalse(run.finished());
        assertEquals(WorkflowState.RUNNING, run.status());
    }

    @Test
    void executeStartsAndWaits() {
        server.workflows.autoComplete("{\"n\":1.10}");
        WorkflowRun run = client.executeWorkflow("greet", Map.of("name", "Ada"), StartOptions.defaults(),
                Duration.ofSeconds(10));
        assertTrue(run.finished());
        assertEquals("1.10", run.output().get("n").toString());
        assertEquals("greet", run.workflowName());
    }

    @Test
    void refusalsCarryTheirCode() {
        BatonException e = assertThrows(BatonException.class, () -> client.getWorkflow("nope"));
        assertEquals(Status.Code.NOT_FOUND, e.code());
    }
}
