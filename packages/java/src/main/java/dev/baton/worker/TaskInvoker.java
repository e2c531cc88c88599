package dev.baton.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JavaType;
import dev.baton.json.BatonJson;

/** Binds a task's input and calls the user's handler; one per registered task type. */
@FunctionalInterface
interface TaskInvoker {
    Object invoke(TaskContext context) throws Exception;

    static <I, O> TaskInvoker of(JavaType inputType, ContextHandler<I, O> handler) {
        return context -> handler.handle(bind(context.inputJson(), inputType), context);
    }

    static <I> I bind(String inputJson, JavaType type) throws InputBindingException {
        try {
            return BatonJson.read(inputJson, type);
        } catch (JsonProcessingException e) {
            throw new InputBindingException(
                    "cannot read the task input as " + type.getRawClass().getSimpleName() + ": " + e.getOriginalMessage(), e);
        }
    }

    /** The input does not fit the handler's input type. */
    final class InputBindingException extends Exception {
        private static final long serialVersionUID = 1L;

        InputBindingException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
