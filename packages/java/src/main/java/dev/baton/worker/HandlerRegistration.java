package dev.baton.worker;

/** One task type this worker serves: how many at once, and what runs them. */
record HandlerRegistration(String taskType, int concurrency, TaskInvoker invoker) {
    HandlerRegistration {
        if (taskType == null || taskType.isBlank()) {
            throw new IllegalArgumentException("task type must not be blank");
        }
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency of " + taskType + " must be at least 1, got " + concurrency);
        }
    }
}
