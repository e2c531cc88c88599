package dev.baton.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** An API key is not sent in plaintext beyond loopback (issue 14, point 8). */
class ChannelsTest {
    @Test
    void refusesAPlaintextTokenToAHostThatIsNotLoopback() {
        if ("1".equals(System.getenv("BATON_ALLOW_PLAINTEXT_TOKEN"))) {
            return; // opted in for this whole run
        }
        for (String address : new String[] {"10.1.2.3:7233", "baton.example.com:7233", "dns:///baton.example.com:7233", "[2001:db8::1]:7233"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Channels.open(address, false, null, "bk_abc_secret"));
            assertTrue(e.getMessage().contains("refusing to send an API key in plaintext to " + address), e.getMessage());
        }
    }

    @Test
    void sendsItToLoopbackOverTlsOrWithoutAToken() {
        for (String address : new String[] {"127.0.0.1:7233", "localhost:7233", "[::1]:7233", "dns:///localhost:7233"}) {
            assertTrue(Channels.isLoopbackTarget(address), address);
            ManagedChannel channel = Channels.open(address, false, null, "bk_abc_secret");
            Channels.close(channel, Duration.ofSeconds(1));
        }
        assertFalse(Channels.isLoopbackTarget("10.1.2.3:7233"));
        Channels.close(Channels.open("10.1.2.3:7233", true, null, "bk_abc_secret"), Duration.ofSeconds(1));
        Channels.close(Channels.open("10.1.2.3:7233", false, null, ""), Duration.ofSeconds(1));
    }
}
