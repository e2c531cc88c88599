package dev.baton.examples;

import dev.baton.client.BatonClient;
import dev.baton.client.StartOptions;
import dev.baton.client.WorkflowRun;
import java.time.Duration;
import java.util.Map;

/**
 * Runs a one-task workflow that calls {@code java_greet} (served by
 * {@link GreetWorker}) and prints its output. The definition is sent inline, so
 * nothing has to be registered first. Usage: GreetRun [name]
 */
public final class GreetRun {
    static final String DEFINITION = """
            {"name": "java_greeting", "version": 1, "schemaVersion": 2,
             "tasks": [{"name": "java_greet", "taskReferenceName": "greet", "type": "SIMPLE",
                        "inputParameters": {"name": "${workflow.input.name}"}}],
             "outputParameters": {"greeting": "${greet.output.greeting}"}}
            """;

    public static void main(String[] args) {
        String address = System.getenv().getOrDefault("BATON_ADDRESS", "127.0.0.1:7233");
        String name = args.length > 0 ? args[0] : "Ada";
        try (BatonClient client = BatonClient.connect(address.isBlank() ? "127.0.0.1:7233" : address)) {
            WorkflowRun run = client.executeWorkflow("java_greeting", Map.of("name", name),
                    StartOptions.defaults().definitionJson(DEFINITION), Duration.ofSeconds(30));
            System.out.println(run.workflowId() + " " + run.status() + " " + run.output());
            if (!run.succeeded()) {
                System.exit(1);
            }
        }
    }
}
