package dev.baton.worker;

/**
 * Thrown by a handler to fail its task for good: the task ends
 * FAILED_WITH_TERMINAL_ERROR and the server does not retry it, whatever the task
 * definition's retryCount. Any other exception ends the task FAILED (retried).
 */
public class TerminalException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TerminalException(String message) {
        super(message);
    }

    public TerminalException(String message, Throwable cause) {
        super(message, cause);
    }
}
