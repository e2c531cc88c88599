package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.json.BatonJson;
import dev.baton.v1.TaskResult;
import dev.baton.v1.TaskStatus;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class PayloadTest extends WorkerTestBase {
    record Address(String city, List<String> lines) {}

    record Person(String name, BigInteger id, long counter, BigDecimal balance, Address address, List<Integer> scores,
            String nickname, Map<String, Object> extra) {}

    record Greeting(String greeting, Person person) {}

    static final String INPUT = """
            {"name":"Zoë 日本語 🎉 \\u0000 \\"q\\"","id":9007199254740993,"counter":9007199254740993,
             "balance":0.1000000000000000055511151231257827,
             "address":{"city":"Zürich","lines":["Bahnhofstr. 1",""]},"scores":[1,-2,3],"nickname":null,
             "extra":{"big":123456789012345678901234567890,"f":1.10,"e":1e400,
                      "nested":{"deep":[null,true,false,{"x":[]}]}},
             "unknownField":"ignored"}
            """;

    private TaskResult run(String type, String input) throws InterruptedException {
        String id = type + "-1";
        tasks.enqueue(task(type, id, input));
        await("result of " + id, () -> tasks.result(id) != null);
        TaskResult result = tasks.result(id);
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, result.getStatus(), result.getReasonForIncompletion());
        return result;
    }

    @Test
    void aRecordInputBindsAndARecordOutputEncodesExactly() throws Exception {
        AtomicReference<Person> seen = new AtomicReference<>();
        worker().handle("people", Person.class, in -> {
            seen.set(in);
            return new Greeting("Hello, " + in.name(), in);
        }).start();
        TaskResult result = run("people", INPUT);

        Person in = seen.get();
        assertEquals("Zoë 日本語 🎉 \u0000 \"q\"", in.name());
        assertEquals(new BigInteger("9007199254740993"), in.id());
        assertEquals(9007199254740993L, in.counter());
        assertEquals(new BigDecimal("0.1000000000000000055511151231257827"), in.balance());
        assertEquals(new Address("Zürich", List.of("Bahnhofstr. 1", "")), in.address());
        assertNull(in.nickname());

        JsonNode out = BatonJson.parse(result.getOutputJson());
        JsonNode person = out.get("person");
        assertEquals("Hello, Zoë 日本語 🎉 \u0000 \"q\"", out.get("greeting").asText());
        assertTrue(person.get("nickname").isNull(), "null fields are kept");
        // Same tree, numbers compared by exact value and scale.
        JsonNode expected = BatonJson.parse(INPUT);
        ((com.fasterxml.jackson.databind.node.ObjectNode) expected).remove("unknownField");
        assertEquals(expected, person);
        String text = result.getOutputJson();
        assertTrue(text.contains("9007199254740993"), text);
        assertTrue(text.contains("0.1000000000000000055511151231257827"), text);
        assertTrue(text.contains("123456789012345678901234567890"), text);
        assertTrue(text.contains("1.10"), text);
        assertTrue(text.contains("Zoë 日本語 🎉"), text);
    }

    @Test
    void aJsonNodeHandlerEchoesItsInputUnchanged() throws Exception {
        worker().handle("echo", JsonNode.class, in -> in).start();
        TaskResult result = run("echo", INPUT);
        assertEquals(BatonJson.parse(INPUT), BatonJson.parse(result.getOutputJson()));
    }

    @Test
    void aMapHandlerKeepsLargeNumbers() throws Exception {
        worker().handle("map", Map.class, in -> in).start();
        TaskResult result = run("map", "{\"n\":9007199254740993,\"d\":0.1000000000000000055511151231257827}");
        assertEquals("{\"n\":9007199254740993,\"d\":0.1000000000000000055511151231257827}", result.getOutputJson());
    }

    @Test
    void anEmptyInputBindsAsAnEmptyObject() throws Exception {
        AtomicReference<Person> seen = new AtomicReference<>();
        worker().handle("empty", Person.class, in -> {
            seen.set(in);
            return null;
        }).start();
        TaskResult result = run("empty", "");
        assertNull(seen.get().name());
        assertEquals("", result.getOutputJson(), "null output is sent as nothing");
    }

    @Test
    void aNonObjectOutputIsWrappedAsResult() throws Exception {
        worker().handle("scalar", JsonNode.class, in -> "plain ✓").start();
        assertEquals("{\"result\":\"plain ✓\"}", run("scalar", "{}").getOutputJson());
    }
}
