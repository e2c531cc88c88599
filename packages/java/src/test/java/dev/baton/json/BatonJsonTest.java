package dev.baton.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BatonJsonTest {
    @Test
    void treesKeepEveryDigitAndScale() {
        String text = "{\"i\":9007199254740993,\"big\":123456789012345678901234567890,\"d\":0.1000000000000000055511151231257827,\"s\":1.10}";
        assertEquals(text, BatonJson.write(BatonJson.parse(text)));
    }

    @Test
    void untypedValuesKeepEveryDigit() throws Exception {
        Object value = BatonJson.mapper().readValue("[9007199254740993,0.1000000000000000055511151231257827]", Object.class);
        assertEquals("[9007199254740993,0.1000000000000000055511151231257827]", BatonJson.write(value));
    }

    @Test
    void outputsAreObjects() {
        assertEquals("", BatonJson.writeOutput(null));
        assertEquals("{\"result\":[1,2]}", BatonJson.writeOutput(List.of(1, 2)));
        assertEquals("{\"result\":42}", BatonJson.writeOutput(42));
        assertEquals("{\"a\":null}", BatonJson.writeOutput(java.util.Collections.singletonMap("a", null)));
        assertEquals("{\"k\":\"✓\"}", BatonJson.writeOutput(Map.of("k", "✓")));
    }

    @Test
    void emptyTextIsTheFallback() {
        JsonNode fallback = BatonJson.mapper().createObjectNode();
        assertTrue(BatonJson.parse("", fallback) == fallback);
        assertTrue(BatonJson.parse("").isNull());
    }
}
