package dev.baton.worker;

/**
 * A task handler: input bound from the task's input JSON, output encoded as the
 * task's output. Throwing fails the task ({@link TerminalException}: without retries).
 */
@FunctionalInterface
public interface Handler<I, O> {
    O handle(I input) throws Exception;
}
