package dev.baton.testing;

import dev.baton.v1.DispatchRequest;
import dev.baton.v1.DispatchResponse;
import dev.baton.v1.ExtendLeaseRequest;
import dev.baton.v1.ExtendLeaseResponse;
import dev.baton.v1.LeasedTask;
import dev.baton.v1.Subscribe;
import dev.baton.v1.TaskResult;
import dev.baton.v1.TaskServiceGrpc;
import dev.baton.v1.TaskStatus;
import dev.baton.v1.UpdateTaskRequest;
import dev.baton.v1.UpdateTaskResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * A TaskService that behaves like the contract says, in memory: it pushes queued
 * tasks only against credits, checks lease tokens, and records everything a test
 * may want to assert. Every change wakes {@link #await}.
 */
public final class FakeTaskService extends TaskServiceGrpc.TaskServiceImplBase {
    /** One Dispatch call as the server sees it. */
    public final class ServerStream {
        public final List<Integer> creditMessages = new ArrayList<>();
        public Subscribe subscribe;
        public int credits;
        public boolean halfClosedByWorker;
        public boolean ended;
        public int creditsAfterHalfClose;
        private final StreamObserver<DispatchResponse> responses;

        ServerStream(StreamObserver<DispatchResponse> responses) {
            this.responses = responses;
        }

        public String taskType() {
            return subscribe == null ? null : subscribe.getTaskTypes(0);
        }

        /** Credits granted in the stream's first credits message. */
        public int initialCredits() {
            return creditMessages.isEmpty() ? 0 : creditMessages.get(0);
        }
    }

    private final Map<String, Deque<LeasedTask>> pending = new HashMap<>();
    private final Map<String, String> tokens = new HashMap<>();
    private final Map<String, String> taskTypes = new HashMap<>();
    private final Set<String> ended = new HashSet<>();
    private final List<ServerStream> streams = new ArrayList<>();
    private final List<TaskResult> results = new ArrayList<>();
    private final List<Status.Code> updateReplies = new ArrayList<>();
    private final List<ExtendLeaseRequest> extensions = new ArrayList<>();
    private final Map<String, Integer> creditsGranted = new HashMap<>();
    private final Map<String, Integer> unfinished = new HashMap<>();
    private final Map<String, Integer> maxCommitted = new HashMap<>();
    private int failUpdates;
    private Status failUpdatesWith;
    private boolean refuseExtensions;
    private boolean endStreamOnHalfClose = true;
    private long extensionLeaseMillis = 60_000;
    private int maxOutputBytes = Integer.MAX_VALUE;

    // ---- programming the fake ------------------------------------------------------------

    /** A task with lease token "tok-&lt;id&gt;" that expires in {@code leaseMillis}. */
    public static LeasedTask task(String type, String id, String inputJson, long leaseMillis) {
        return LeasedTask.newBuilder()
                .setTaskId(id)
                .setWorkflowId("wf-" + id)
                .setTaskType(type)
                .setReferenceTaskName(type + "_ref")
                .setInputJson(inputJson)
                .setLeaseToken("tok-" + id)
                .setLeaseExpiresMs(System.currentTimeMillis() + leaseMillis)
                .setResponseTimeoutSeconds(Math.max(1, leaseMillis / 1000))
                .setWorkflowName("wf_" + type)
                .build();
    }

    public static LeasedTask task(String type, String id, String inputJson) {
        return task(type, id, inputJson, 60_000);
    }

    public synchronized void enqueue(LeasedTask task) {
        pending.computeIfAbsent(task.getTaskType(), t -> new ArrayDeque<>()).add(task);
        tokens.put(task.getTaskId(), task.getLeaseToken());
        taskTypes.put(task.getTaskId(), task.getTaskType());
        pump();
    }

    /** Pretends the task was timed out and re-leased elsewhere: its old token goes stale. */
    public synchronized void revokeLease(String taskId) {
        tokens.put(taskId, "stolen");
        changed();
    }

    public synchronized void failNextUpdates(int count, Status status) {
        failUpdates = count;
        failUpdatesWith = status;
    }

    public synchronized void refuseExtensions(boolean refuse) {
        refuseExtensions = refuse;
    }

    public synchronized void extensionLease(Duration lease) {
        extensionLeaseMillis = lease.toMillis();
    }

    /** Refuses (INVALID_ARGUMENT) results whose output is larger, as the real server's payload limit does. */
    public synchronized void maxOutputBytes(int bytes) {
        maxOutputBytes = bytes;
    }

    public synchronized void endStreamOnHalfClose(boolean end) {
        endStreamOnHalfClose = end;
    }

    // ---- observing -----------------------------------------------------------------------

    /** Waits until {@code condition} (evaluated under this fake's lock) holds. */
    public synchronized void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out waiting for " + what + "; state: " + describe());
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    public synchronized List<TaskResult> results() {
        return List.copyOf(results);
    }

    public synchronized TaskResult result(String taskId) {
        return results.stream().filter(r -> r.getTaskId().equals(taskId)).reduce((a, b) -> b).orElse(null);
    }

    public synchronized List<Status.Code> updateReplies() {
        return List.copyOf(updateReplies);
    }

    public synchronized List<ExtendLeaseRequest> extensions() {
        return List.copyOf(extensions);
    }

    public synchronized List<ServerStream> streams() {
        return List.copyOf(streams);
    }

    public synchronized long openStreams(String type) {
        return streams.stream().filter(s -> !s.ended && type.equals(s.taskType())).count();
    }

    public synchronized int creditsGranted(String type) {
        return creditsGranted.getOrDefault(type, 0);
    }

    public synchronized int pending(String type) {
        Deque<LeasedTask> queue = pending.get(type);
        return queue == null ? 0 : queue.size();
    }

    /** The most (tasks pushed and not yet finished + credits outstanding) ever committed for a type. */
    public synchronized int maxCommitted(String type) {
        return maxCommitted.getOrDefault(type, 0);
    }

    private String describe() {
        return "results=" + results.size() + " streams=" + streams.size() + " credits=" + creditsGranted
                + " pending=" + pending.keySet() + " extensions=" + extensions.size();
    }

    // ---- the service ---------------------------------------------------------------------

    @Override
    public StreamObserver<DispatchRequest> dispatch(StreamObserver<DispatchResponse> responses) {
        ServerStream stream = new ServerStream(responses);
        ((ServerCallStreamObserver<DispatchResponse>) responses).setOnCancelHandler(() -> {
            synchronized (this) {
                stream.ended = true;
                changed();
            }
        });
        synchronized (this) {
            streams.add(stream);
            changed();
        }
        return new StreamObserver<>() {
            @Override
            public void onNext(DispatchRequest request) {
                synchronized (FakeTaskService.this) {
                    if (request.hasSubscribe()) {
                        stream.subscribe = request.getSubscribe();
                    } else {
                        int n = request.getCredits();
                        stream.creditMessages.add(n);
                        stream.credits += n;
                        if (stream.halfClosedByWorker) {
                            stream.creditsAfterHalfClose += n;
                        }
                        String type = stream.taskType();
                        creditsGranted.merge(type, n, Integer::sum);
                        noteCommitted(type);
                    }
                    pump();
                }
            }

            @Override
            public void onError(Throwable t) {
                synchronized (FakeTaskService.this) {
                    stream.ended = true;
                    changed();
                }
            }

            @Override
            public void onCompleted() {
                synchronized (FakeTaskService.this) {
                    stream.halfClosedByWorker = true;
                    if (endStreamOnHalfClose && !stream.ended) {
                        stream.ended = true;
                        responses.onCompleted();
                    }
                    changed();
                }
            }
        };
    }

    /** Pushes queued tasks to streams that have credits. Called under the lock. */
    private void pump() {
        for (ServerStream stream : streams) {
            if (stream.ended || stream.halfClosedByWorker || stream.subscribe == null) {
                continue;
            }
            Deque<LeasedTask> queue = pending.get(stream.taskType());
            while (stream.credits > 0 && queue != null && !queue.isEmpty()) {
                LeasedTask task = queue.poll();
                stream.credits--;
                unfinished.merge(task.getTaskType(), 1, Integer::sum);
                stream.responses.onNext(DispatchResponse.newBuilder().setTask(task).build());
            }
        }
        changed();
    }

    private void noteCommitted(String type) {
        int outstanding = streams.stream()
                .filter(s -> !s.ended && type.equals(s.taskType()))
                .mapToInt(s -> s.credits)
                .sum();
        int committed = outstanding + unfinished.getOrDefault(type, 0);
        maxCommitted.merge(type, committed, Math::max);
    }

    @Override
    public void updateTask(UpdateTaskRequest request, StreamObserver<UpdateTaskResponse> response) {
        TaskResult result = request.getResult();
        synchronized (this) {
            try {
                if (failUpdates > 0) {
                    failUpdates--;
                    updateReplies.add(failUpdatesWith.getCode());
                    response.onError(failUpdatesWith.asRuntimeException());
                    return;
                }
                int size = result.getOutputJson().getBytes(StandardCharsets.UTF_8).length;
                if (size > maxOutputBytes) {
                    updateReplies.add(Status.Code.INVALID_ARGUMENT);
                    response.onError(Status.INVALID_ARGUMENT
                            .withDescription("output_json is " + size + " bytes; the limit is " + maxOutputBytes + " bytes")
                            .asRuntimeException());
                    return;
                }
                if (!result.getLeaseToken().equals(tokens.get(result.getTaskId()))) {
                    updateReplies.add(Status.Code.FAILED_PRECONDITION);
                    response.onError(Status.FAILED_PRECONDITION.withDescription("stale lease").asRuntimeException());
                    finish(result.getTaskId());
                    return;
                }
                updateReplies.add(Status.Code.OK);
                results.add(result);
                boolean applied = !ended.contains(result.getTaskId());
                if (applied && result.getStatus() != TaskStatus.TASK_STATUS_IN_PROGRESS) {
                    finish(result.getTaskId());
                }
                response.onNext(UpdateTaskResponse.newBuilder().setApplied(applied).build());
                response.onCompleted();
            } finally {
                changed();
            }
        }
    }

    private void finish(String taskId) {
        if (ended.add(taskId)) {
            unfinished.merge(taskTypes.get(taskId), -1, Integer::sum);
        }
    }

    @Override
    public void extendLease(ExtendLeaseRequest request, StreamObserver<ExtendLeaseResponse> response) {
        synchronized (this) {
            extensions.add(request);
            changed();
            if (refuseExtensions || !request.getLeaseToken().equals(tokens.get(request.getTaskId()))) {
                response.onError(Status.FAILED_PRECONDITION.withDescription("lease lost").asRuntimeException());
                return;
            }
            response.onNext(ExtendLeaseResponse.newBuilder()
                    .setLeaseExpiresMs(System.currentTimeMillis() + extensionLeaseMillis)
                    .build());
            response.onCompleted();
        }
    }

    private void changed() {
        notifyAll();
    }
}
