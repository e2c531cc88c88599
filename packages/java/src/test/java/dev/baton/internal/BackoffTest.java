package dev.baton.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
    private final Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5));

    @Test
    void capsDoubleUpToTheMax() {
        assertEquals(100, backoff.capMillis(0));
        assertEquals(200, backoff.capMillis(1));
        assertEquals(3200, backoff.capMillis(5));
        assertEquals(5000, backoff.capMillis(6));
        assertEquals(5000, backoff.capMillis(1000));
    }

    @Test
    void delaysAreJitteredWithinTheUpperHalf() {
        boolean varied = false;
        long first = backoff.delayMillis(3);
        for (int i = 0; i < 200; i++) {
            long delay = backoff.delayMillis(3);
            assertTrue(delay >= 400 && delay <= 800, "delay " + delay);
            varied |= delay != first;
        }
        assertTrue(varied, "jitter");
    }

    @Test
    void refusesNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ZERO, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)));
    }
}
