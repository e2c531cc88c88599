package dev.baton.client;

/**
 * The answer to a start.
 *
 * @param created false when an idempotency key matched an earlier start, whose id this is
 */
public record StartedRun(String workflowId, boolean created) {}
