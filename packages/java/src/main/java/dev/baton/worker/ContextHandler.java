package dev.baton.worker;

/** A {@link Handler} that also sees the task it runs for (ids, retry count, lease state). */
@FunctionalInterface
public interface ContextHandler<I, O> {
    O handle(I input, TaskContext context) throws Exception;
}
