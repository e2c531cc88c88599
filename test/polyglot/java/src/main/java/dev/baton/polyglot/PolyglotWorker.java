package dev.baton.polyglot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.json.BatonJson;
import dev.baton.worker.BatonWorker;
import dev.baton.worker.TaskContext;
import dev.baton.worker.TerminalException;
import java.io.IOException;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Java side of test/polyglot: serves the Java steps of the cross-language flow
 * and the benchmark's no-op task against the server at BATON_ADDRESS. Each step binds
 * its input to typed Java values (a BigInteger counter, a long, the payload as a
 * JsonNode whose numbers stay exact), does something native with them and sends them
 * on.
 *
 * <p>Environment: BATON_ADDRESS (required), POLY_WORKER_ID (default java-&lt;pid&gt;),
 * POLY_CONCURRENCY (the no-op task's concurrency, default 32), POLY_EXIT_WITH_PARENT=1
 * (exit when stdin closes: the parent, holding its other end, is gone). Prints one JSON line
 * per event on stdout: {"event":"ready"} once started, {"event":"hang","taskId":...}
 * when a step was told to hang on this worker.
 */
public final class PolyglotWorker {
    public record StepInput(JsonNode payload, BigInteger counter, long exact, List<String> trail, String hangWorker, long delayMs) {}

    public record StepOutput(JsonNode payload, BigInteger counter, long exact, List<String> trail, String by,
            Map<String, Object> seen) {}

    public record NoopOutput(double receivedAtMs) {}

    private PolyglotWorker() {}

    static synchronized void emit(Map<String, Object> event) {
        System.out.println(BatonJson.write(event));
        System.out.flush();
    }

    static StepOutput step(StepInput in, TaskContext context, String workerId) throws Exception {
        if (workerId.equals(in.hangWorker())) {
            emit(Map.of("event", "hang", "taskId", context.taskId()));
            while (!context.leaseLost()) {
                Thread.sleep(50);
            }
            throw new IllegalStateException("lease lost");
        }
        if (in.delayMs() > 0) {
            Thread.sleep(in.delayMs());
        }
        if (in.counter() == null || in.payload() == null) {
            throw new TerminalException("counter or payload is missing");
        }
        String music = in.payload().path("unicode").path("music").asText("");
        Map<String, Object> seen = new LinkedHashMap<>();
        seen.put("lang", "java");
        seen.put("codePoints", music.codePointCount(0, music.length()));
        JsonNode negative = in.payload().path("numbers").path("negative");
        if (negative.isIntegralNumber()) {
            seen.put("negativeMinusOne", negative.bigIntegerValue().subtract(BigInteger.ONE));
        }
        JsonNode huge = in.payload().path("numbers").path("huge");
        if (huge.isNumber()) {
            seen.put("hugeAsDouble", huge.doubleValue());
        }
        List<String> trail = new ArrayList<>(in.trail() == null ? List.of() : in.trail());
        trail.add("java ☕🫘");
        return new StepOutput(in.payload(), in.counter().add(BigInteger.ONE), in.exact(), trail, workerId, seen);
    }

    public static void main(String[] args) throws InterruptedException {
        if ("1".equals(System.getenv("POLY_EXIT_WITH_PARENT"))) {
            Thread watch = new Thread(() -> {
                try {
                    while (System.in.read() != -1) {
                        // discard
                    }
                } catch (IOException e) {
                    // the pipe broke: the parent is gone too
                }
                Runtime.getRuntime().halt(3);
            }, "poly-parent-watch");
            watch.setDaemon(true);
            watch.start();
        }
        String address = System.getenv("BATON_ADDRESS");
        if (address == null || address.isBlank()) {
            System.err.println("BATON_ADDRESS is not set");
            System.exit(2);
        }
        String id = System.getenv("POLY_WORKER_ID");
        String workerId = id == null || id.isBlank() ? "java-" + ProcessHandle.current().pid() : id;
        String c = System.getenv("POLY_CONCURRENCY");
        int concurrency = c == null || c.isBlank() ? 32 : Integer.parseInt(c);

        BatonWorker worker = BatonWorker.builder()
                .address(address)
                .workerId(workerId)
                .reconnectBackoff(Duration.ofMillis(50), Duration.ofSeconds(1))
                .build();
        worker.handle("poly_java_step", StepInput.class, (StepInput in, TaskContext ctx) -> step(in, ctx, workerId), 4);
        worker.handle("poly_java_branch", StepInput.class, (StepInput in, TaskContext ctx) -> step(in, ctx, workerId), 4);
        worker.handle("poly_java_slow", StepInput.class, (StepInput in, TaskContext ctx) -> step(in, ctx, workerId), 4);
        worker.handle("bench_noop_java", JsonNode.class, in -> {
            Instant now = Instant.now();
            return new NoopOutput(now.getEpochSecond() * 1000.0 + now.getNano() / 1e6);
        }, concurrency);

        Runtime.getRuntime().addShutdownHook(new Thread(() -> worker.shutdown(Duration.ofSeconds(10)), "poly-shutdown"));
        worker.start();
        emit(Map.of("event", "ready", "workerId", workerId));
        worker.awaitTermination();
    }
}
