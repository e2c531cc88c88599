package dev.baton.worker;

import static dev.baton.testing.FakeTaskService.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.baton.examples.GreetWorker;
import dev.baton.json.BatonJson;
import dev.baton.v1.TaskStatus;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AnnotatedHandlerTest extends WorkerTestBase {
    record Order(String id, List<Line> lines) {}

    record Line(String sku, int quantity) {}

    record Total(String orderId, int items) {}

    /** Not public, with non-public methods: registration must still work. */
    static class Handlers {
        @TaskHandler(value = "total", concurrency = 2)
        Total total(Order order) {
            return new Total(order.id(), order.lines().stream().mapToInt(Line::quantity).sum());
        }

        @TaskHandler("whoami")
        Map<String, String> whoami(TaskContext context) {
            return Map.of("task", context.taskId(), "workflow", context.workflowId(), "worker", context.workerId());
        }

        @TaskHandler("both")
        Map<String, Object> both(Map<String, Object> input, TaskContext context) {
            return Map.of("input", input, "retry", context.retryCount());
        }

        @TaskHandler("nothing")
        void nothing() {}

        @TaskHandler("refuse")
        Total refuse(Order order) {
            throw new TerminalException("order " + order.id() + " refused");
        }
    }

    @Test
    void annotatedMethodsServeTheirTaskTypes() throws Exception {
        BatonWorker worker = worker().register(new Handlers()).start();
        assertEquals(5, worker.taskTypes().size());
        tasks.enqueue(task("total", "t1", "{\"id\":\"o-1\",\"lines\":[{\"sku\":\"a\",\"quantity\":2},{\"sku\":\"b\",\"quantity\":3}]}"));
        tasks.enqueue(task("whoami", "w1", ""));
        tasks.enqueue(task("both", "b1", "{\"k\":[1,2]}"));
        tasks.enqueue(task("nothing", "n1", "{}"));
        tasks.enqueue(task("refuse", "r1", "{\"id\":\"o-2\"}"));
        await("5 results", () -> tasks.results().size() == 5);

        assertEquals("{\"orderId\":\"o-1\",\"items\":5}", tasks.result("t1").getOutputJson());
        assertEquals(Map.of("task", "w1", "workflow", "wf-w1", "worker", "test-worker"),
                BatonJson.mapper().readValue(tasks.result("w1").getOutputJson(), Map.class));
        assertEquals(BatonJson.parse("{\"input\":{\"k\":[1,2]},\"retry\":0}"),
                BatonJson.parse(tasks.result("b1").getOutputJson()));
        assertEquals("", tasks.result("n1").getOutputJson());
        assertEquals(TaskStatus.TASK_STATUS_COMPLETED, tasks.result("n1").getStatus());
        assertEquals(TaskStatus.TASK_STATUS_FAILED_WITH_TERMINAL_ERROR, tasks.result("r1").getStatus());
        assertEquals("order o-2 refused", tasks.result("r1").getReasonForIncompletion());
    }

    @Test
    void theExampleGreets() throws Exception {
        worker().register(new GreetWorker()).start();
        tasks.enqueue(task("java_greet", "g1", "{\"name\":\"Ada\"}"));
        await("greeting", () -> tasks.result("g1") != null);
        assertEquals("{\"greeting\":\"Hello, Ada from Java\"}", tasks.result("g1").getOutputJson());
        assertEquals(4, tasks.streams().get(0).initialCredits());
    }

    @Test
    void anObjectWithoutHandlersOrADuplicateTypeIsRefused() {
        BatonWorker worker = worker();
        assertThrows(IllegalArgumentException.class, () -> worker.register(new Object()));
        worker.register(new GreetWorker());
        assertThrows(IllegalArgumentException.class, () -> worker.register(new GreetWorker()));
    }
}
