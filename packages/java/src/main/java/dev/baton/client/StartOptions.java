package dev.baton.client;

/**
 * How to start a run; every field is optional. Immutable: each {@code with}
 * method returns a copy.
 *
 * <pre>{@code
 * StartOptions.defaults().correlationId("order-42").idempotencyKey("order-42")
 * }</pre>
 *
 * @param version the definition version; null = the latest
 * @param definitionJson an inline WorkflowDef to run instead of a registered one
 */
public record StartOptions(
        Integer version, String correlationId, String idempotencyKey, int priority, String definitionJson) {

    private static final StartOptions DEFAULTS = new StartOptions(null, "", "", 0, "");

    public StartOptions {
        correlationId = correlationId == null ? "" : correlationId;
        idempotencyKey = idempotencyKey == null ? "" : idempotencyKey;
        definitionJson = definitionJson == null ? "" : definitionJson;
    }

    public static StartOptions defaults() {
        return DEFAULTS;
    }

    public StartOptions version(Integer version) {
        return new StartOptions(version, correlationId, idempotencyKey, priority, definitionJson);
    }

    public StartOptions correlationId(String correlationId) {
        return new StartOptions(version, correlationId, idempotencyKey, priority, definitionJson);
    }

    public StartOptions idempotencyKey(String idempotencyKey) {
        return new StartOptions(version, correlationId, idempotencyKey, priority, definitionJson);
    }

    public StartOptions priority(int priority) {
        return new StartOptions(version, correlationId, idempotencyKey, priority, definitionJson);
    }

    public StartOptions definitionJson(String definitionJson) {
        return new StartOptions(version, correlationId, idempotencyKey, priority, definitionJson);
    }
}
