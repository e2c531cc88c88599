package dev.baton.worker;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a method as the handler of a task type, for {@link BatonWorker#register(Object)}.
 *
 * <p>The method takes the input (bound from the task's input JSON to the parameter's
 * type: a record, a POJO, a {@code Map} or a {@code JsonNode}), optionally followed
 * by a {@link TaskContext}; or only a {@link TaskContext}; or nothing. What it
 * returns becomes the task's output; what it throws fails the task.
 *
 * <pre>{@code
 * @TaskHandler(value = "java_greet", concurrency = 4)
 * public GreetOutput greet(GreetInput in) { ... }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface TaskHandler {
    /** The task type (the task definition's name). */
    String value();

    /** How many tasks of this type run at once; 0 = the worker's default. */
    int concurrency() default 0;
}
