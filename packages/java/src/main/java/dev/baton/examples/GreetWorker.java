package dev.baton.examples;

import dev.baton.worker.BatonWorker;
import java.time.Duration;
import dev.baton.worker.TaskHandler;

/**
 * Serves the {@code java_greet} task: {"name": "Ada"} becomes
 * {"greeting": "Hello, Ada from Java"}. Connects to BATON_ADDRESS
 * (default 127.0.0.1:7233) and runs until the process is stopped; a stop lets
 * running tasks finish first.
 */
public final class GreetWorker {
    public record GreetInput(String name) {}

    public record GreetOutput(String greeting) {}

    @TaskHandler(value = "java_greet", concurrency = 4)
    public GreetOutput greet(GreetInput in) {
        return new GreetOutput("Hello, " + in.name() + " from Java");
    }

    public static void main(String[] args) throws InterruptedException {
        String address = System.getenv().getOrDefault("BATON_ADDRESS", "127.0.0.1:7233");
        if (address.isBlank()) {
            address = "127.0.0.1:7233";
        }
        BatonWorker worker = BatonWorker.builder().address(address).build();
        worker.register(new GreetWorker());
        // SIGTERM / Ctrl-C: stop taking tasks, let running ones finish and report, then exit.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            boolean clean = worker.shutdown(Duration.ofSeconds(30));
            System.err.println("GreetWorker stopped" + (clean ? "" : " (tasks were interrupted)"));
        }, "baton-shutdown"));
        worker.start();
        System.err.println("GreetWorker " + worker.workerId() + " serving java_greet at " + address);
        worker.awaitTermination();
    }
}
