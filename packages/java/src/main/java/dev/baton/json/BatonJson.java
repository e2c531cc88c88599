package dev.baton.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.UncheckedIOException;

/**
 * The JSON mapping every Baton payload goes through. Payloads are JSON text on the
 * wire; this mapping keeps them exact: untyped floats become BigDecimal (a double
 * would round 0.1000000000000000055511151231257827), integers of any size keep every
 * digit, and unknown fields in inputs are ignored so workflows can add fields
 * without breaking older workers.
 */
public final class BatonJson {
    private static final ObjectMapper MAPPER = newMapper();

    private BatonJson() {}

    /** The shared, configured mapper (thread-safe; do not reconfigure it). */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** A fresh mapper with Baton's settings, for callers who want to add modules. */
    public static ObjectMapper newMapper() {
        return JsonMapper.builder()
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                // Keeps "1.50" as 1.50 in trees instead of normalising it to 1.5.
                .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .addModule(new Jdk8Module())
                .addModule(new JavaTimeModule())
                .build();
    }

    /** Parses a payload field; "" (the wire's "nothing") gives {@code fallback}. */
    public static JsonNode parse(String text, JsonNode fallback) {
        if (text == null || text.isEmpty()) {
            return fallback;
        }
        try {
            return MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("payload is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Parses a payload field; "" gives JSON null. */
    public static JsonNode parse(String text) {
        return parse(text, NullNode.getInstance());
    }

    /** Binds a payload to {@code type}; "" binds as an empty object, so records get all-null fields. */
    public static <T> T read(String text, JavaType type) throws JsonProcessingException {
        String json = text == null || text.isEmpty() ? "{}" : text;
        return MAPPER.readValue(json, type);
    }

    /** Serialises a value for a payload field; null gives "" (nothing). */
    public static String write(Object value) {
        if (value == null) {
            return "";
        }
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot encode payload: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * Encodes a task's output. Conductor outputs are objects, so anything else (a
     * string, a number, a list) is wrapped as {"result": value}, as Conductor's own
     * annotated workers do. null gives "" (no output).
     */
    public static String writeOutput(Object value) {
        if (value == null) {
            return "";
        }
        JsonNode tree = value instanceof JsonNode node ? node : MAPPER.valueToTree(value);
        if (tree == null || tree.isNull() || tree.isMissingNode()) {
            return "";
        }
        if (!tree.isObject()) {
            ObjectNode wrapped = MAPPER.createObjectNode();
            wrapped.set("result", tree);
            tree = wrapped;
        }
        return write(tree);
    }
}
