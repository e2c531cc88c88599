package dev.baton.internal;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Opens and closes the gRPC channels the worker and the client share a shape for. */
public final class Channels {
    /** Payloads are JSON text; allow more than gRPC's 4 MiB default. */
    private static final int MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private Channels() {}

    /**
     * A channel to {@code address} ("host:port" or any gRPC target). Plaintext unless
     * {@code tls}; {@code keepAlive} null leaves keepalive pings off, since a server
     * may refuse pings more frequent than it allows.
     */
    public static ManagedChannel open(String address, boolean tls, Duration keepAlive) {
        return open(address, tls, keepAlive, System.getenv("BATON_TOKEN"));
    }

    /**
     * As {@link #open(String, boolean, Duration)}, sending {@code token} (an API key)
     * as {@code authorization: Bearer <token>} on every call; null or empty sends none.
     */
    public static ManagedChannel open(String address, boolean tls, Duration keepAlive, String token) {
        if (!tls && token != null && !token.isEmpty() && !isLoopbackTarget(address) && !plaintextTokenAllowed()) {
            throw new IllegalArgumentException("refusing to send an API key in plaintext to " + address
                    + " (not a loopback address): connect with TLS, or set BATON_ALLOW_PLAINTEXT_TOKEN=1 on a network that encrypts for you");
        }
        NettyChannelBuilder builder = NettyChannelBuilder.forTarget(address)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .userAgent("baton-java/0.1.0");
        if (tls) {
            builder.useTransportSecurity();
        } else {
            builder.usePlaintext();
        }
        if (keepAlive != null) {
            builder.keepAliveTime(keepAlive.toMillis(), TimeUnit.MILLISECONDS).keepAliveWithoutCalls(false);
        }
        if (token != null && !token.isEmpty()) {
            Metadata headers = new Metadata();
            headers.put(AUTHORIZATION, "Bearer " + token);
            builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return builder.build();
    }

    /** Whether a gRPC target's host is this machine (localhost, 127.0.0.0/8, ::1, a Unix socket). */
    static boolean isLoopbackTarget(String address) {
        if (address.startsWith("unix:")) {
            return true;
        }
        String target = address.replaceFirst("^dns:(//[^/]*/)?", "");
        String host = target.startsWith("[")
                ? target.substring(1, Math.max(1, target.indexOf(']')))
                : target.replaceFirst(":\\d+$", "");
        return host.equals("localhost") || host.equals("::1") || host.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    }

    private static boolean plaintextTokenAllowed() {
        String allowed = System.getenv("BATON_ALLOW_PLAINTEXT_TOKEN");
        return allowed != null && (allowed.equals("1") || allowed.equalsIgnoreCase("true") || allowed.equalsIgnoreCase("yes"));
    }

    /**
     * Makes the channel try to connect now rather than after its own backoff (which
     * grows to two minutes): our callers already pace their retries.
     */
    public static void nudge(ManagedChannel channel) {
        if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            channel.resetConnectBackoff();
        }
    }

    /** Graceful close with a bound, then forced. */
    public static void close(ManagedChannel channel, Duration grace) {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
