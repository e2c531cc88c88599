package dev.baton.worker;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** A worker that cannot reach its server names the address it tried and what to check. */
class UnreachableTest {

    @Test
    void theLogNamesTheAddressAndWhatToCheck() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // closed again: nothing listens there
        }
        List<String> lines = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                lines.add(new java.util.logging.SimpleFormatter().formatMessage(record));
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Logger logger = Logger.getLogger(DispatchLoop.class.getName());
        logger.addHandler(capture);
        BatonWorker worker = BatonWorker.builder()
                .address("127.0.0.1:" + port)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(50))
                .build();
        try {
            worker.handle("nobody_home", JsonNode.class, in -> Map.of(), 1).start();
            String expected = "cannot reach the Baton server at 127.0.0.1:" + port + " for nobody_home (UNAVAILABLE";
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (lines.stream().noneMatch(l -> l.startsWith(expected)) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(expected) && l.contains("is it running (baton dev) and is the address (BATON_ADDRESS) right?")),
                    "logged: " + lines);
        } finally {
            worker.shutdown(Duration.ofSeconds(5));
            logger.removeHandler(capture);
        }
    }
}
