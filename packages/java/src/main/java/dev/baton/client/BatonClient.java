package dev.baton.client;

import dev.baton.internal.Channels;
import dev.baton.json.BatonJson;
import dev.baton.v1.ExecuteWorkflowRequest;
import dev.baton.v1.ExecuteWorkflowResponse;
import dev.baton.v1.GetWorkflowRequest;
import dev.baton.v1.MetadataServiceGrpc;
import dev.baton.v1.StartWorkflowRequest;
import dev.baton.v1.StartWorkflowResponse;
import dev.baton.v1.WaitWorkflowRequest;
import dev.baton.v1.WaitWorkflowResponse;
import dev.baton.v1.WorkflowServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Starts and observes runs (WorkflowService). Thread-safe; one per process is enough.
 *
 * <pre>{@code
 * try (BatonClient client = BatonClient.connect("127.0.0.1:7233")) {
 *     WorkflowRun run = client.executeWorkflow("greet", Map.of("name", "Ada"), StartOptions.defaults(),
 *             Duration.ofSeconds(30));
 *     System.out.println(run.status() + " " + run.output());
 * }
 * }</pre>
 *
 * Inputs are any value Jackson can encode (a Map, a record, a JsonNode); a run's
 * input should be a JSON object. Refusals surface as {@link BatonException}.
 */
public final class BatonClient implements AutoCloseable {
    /** Added to a wait's own length, so the gRPC deadline never cuts a server-side wait short. */
    private static final Duration WAIT_MARGIN = Duration.ofSeconds(30);

    private final ManagedChannel channel;
    private final boolean ownsChannel;
    private final Duration callTimeout;
    private final WorkflowServiceGrpc.WorkflowServiceBlockingStub workflows;

    private BatonClient(ManagedChannel channel, boolean ownsChannel, Duration callTimeout) {
        this.channel = channel;
        this.ownsChannel = ownsChannel;
        this.callTimeout = callTimeout;
        this.workflows = WorkflowServiceGrpc.newBlockingStub(channel);
    }

    /** A plaintext client to {@code address} ("host:port"). */
    public static BatonClient connect(String address) {
        return new BatonClient(Channels.open(address, false, null), true, Duration.ofSeconds(30));
    }

    /** A client over a channel the caller owns (and closes). */
    public static BatonClient over(ManagedChannel channel) {
        return new BatonClient(Objects.requireNonNull(channel, "channel"), false, Duration.ofSeconds(30));
    }

    public StartedRun startWorkflow(String name, Object input) {
        return startWorkflow(name, input, StartOptions.defaults());
    }

    public StartedRun startWorkflow(String name, Object input, StartOptions options) {
        StartWorkflowRequest request = startRequest(name, input, options);
        StartWorkflowResponse response = call("start " + name,
                () -> workflows.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS).startWorkflow(request));
        return new StartedRun(response.getWorkflowId(), response.getCreated());
    }

    /** Waits up to {@code wait} for the run to end; {@link WorkflowRun#finished()} says whether it did. */
    public WorkflowRun waitWorkflow(String workflowId, Duration wait) {
        WaitWorkflowRequest request = WaitWorkflowRequest.newBuilder()
                .setWorkflowId(workflowId)
                .setWaitMs(wait.toMillis())
                .build();
        WaitWorkflowResponse response = call("wait for " + workflowId,
                () -> workflows.withDeadlineAfter(wait.plus(WAIT_MARGIN).toMillis(), TimeUnit.MILLISECONDS)
                        .waitWorkflow(request));
        return WorkflowRun.of(response.getWorkflow(), response.getFinished());
    }

    public WorkflowRun getWorkflow(String workflowId) {
        return getWorkflow(workflowId, false);
    }

    /** The run now; with {@code includeTasks} its tasks are in {@code raw().getTasksList()}. */
    public WorkflowRun getWorkflow(String workflowId, boolean includeTasks) {
        GetWorkflowRequest request = GetWorkflowRequest.newBuilder()
                .setWorkflowId(workflowId)
                .setIncludeTasks(includeTasks)
                .build();
        return WorkflowRun.of(call("get " + workflowId,
                () -> workflows.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS).getWorkflow(request))
                .getWorkflow());
    }

    /** Starts a run and waits up to {@code wait} for it to end. */
    public WorkflowRun executeWorkflow(String name, Object input, StartOptions options, Duration wait) {
        ExecuteWorkflowRequest request = ExecuteWorkflowRequest.newBuilder()
                .setStart(startRequest(name, input, options))
                .setWaitMs(wait.toMillis())
                .build();
        ExecuteWorkflowResponse response = call("execute " + name,
                () -> workflows.withDeadlineAfter(wait.plus(WAIT_MARGIN).toMillis(), TimeUnit.MILLISECONDS)
                        .executeWorkflow(request));
        return WorkflowRun.of(response.getWorkflow(), response.getFinished());
    }

    /** The generated stub, for the calls this class does not wrap (pause, retry, search, ...). */
    public WorkflowServiceGrpc.WorkflowServiceBlockingStub workflowStub() {
        return workflows;
    }

    /** The generated metadata stub (register definitions). */
    public MetadataServiceGrpc.MetadataServiceBlockingStub metadataStub() {
        return MetadataServiceGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() {
        if (ownsChannel) {
            Channels.close(channel, Duration.ofSeconds(5));
        }
    }

    private static StartWorkflowRequest startRequest(String name, Object input, StartOptions options) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(options, "options");
        StartWorkflowRequest.Builder request = StartWorkflowRequest.newBuilder()
                .setName(name)
                .setInputJson(BatonJson.write(input))
                .setCorrelationId(options.correlationId())
                .setIdempotencyKey(options.idempotencyKey())
                .setPriority(options.priority())
                .setDefinitionJson(options.definitionJson());
        if (options.version() != null) {
            request.setVersion(options.version());
        }
        return request.build();
    }

    private interface Call<T> {
        T run();
    }

    private static <T> T call(String what, Call<T> call) {
        try {
            return call.run();
        } catch (StatusRuntimeException e) {
            throw new BatonException("cannot " + what, e);
        }
    }
}
