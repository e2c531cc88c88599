package dev.baton.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** A call the server refused or could not answer; {@link #code()} says why (NOT_FOUND, ...). */
public class BatonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code code;

    public BatonException(String message, StatusRuntimeException cause) {
        super(message + ": " + cause.getStatus().getCode()
                + (cause.getStatus().getDescription() == null ? "" : " " + cause.getStatus().getDescription()), cause);
        this.code = cause.getStatus().getCode();
    }

    public Status.Code code() {
        return code;
    }
}
