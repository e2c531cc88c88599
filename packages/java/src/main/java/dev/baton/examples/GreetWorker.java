package dev.baton.examples;

import dev.baton.worker.BatonWorker;
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
        Runtime.getRuntime().addShutdownHook(new Thread(worker::close, "baton-shutdown"));
        worker.start();
        System.err.println("GreetWorker " + worker.workerId() + " serving java_greet at " + address);
        worker.awaitTermination();
    }
}
