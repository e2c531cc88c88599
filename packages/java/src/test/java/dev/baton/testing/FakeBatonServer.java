package dev.baton.testing;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The fakes served over real HTTP/2 on 127.0.0.1 (an ephemeral port, kept across
 * {@link #restart()} so a worker can find the server again).
 */
public final class FakeBatonServer implements AutoCloseable {
    public final FakeTaskService tasks = new FakeTaskService();
    public final FakeWorkflowService workflows = new FakeWorkflowService();
    private Server server;
    private int port;

    public FakeBatonServer() {
        server = listen(0);
        port = server.getPort();
    }

    public String address() {
        return "127.0.0.1:" + port;
    }

    /** Drops every connection and call, as a crash would. */
    public void stop() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(10, TimeUnit.SECONDS);
    }

    /** Listens again on the same port (the fakes keep their state). */
    public void start() throws InterruptedException {
        // The port was just released; binding can race the kernel for a moment.
        IOException last = null;
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                server = build(port).start();
                return;
            } catch (IOException e) {
                last = e;
                Thread.sleep(100);
            }
        }
        throw new UncheckedIOException("cannot listen on port " + port + " again", last);
    }

    public void restart() throws InterruptedException {
        stop();
        start();
    }

    private Server listen(int wanted) {
        try {
            return build(wanted).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Server build(int wanted) {
        return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", wanted))
                .addService(tasks)
                .addService(workflows)
                .build();
    }

    @Override
    public void close() {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
