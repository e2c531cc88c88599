package dev.baton.internal;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with "equal jitter": the delay for attempt n is drawn from
 * [cap/2, cap] where cap = min(max, initial * 2^n). Half is random so a fleet of
 * workers that lost the server together does not reconnect in lockstep; half is
 * fixed so no attempt follows its predecessor immediately.
 */
public final class Backoff {
    private final long initialMillis;
    private final long maxMillis;

    public Backoff(Duration initial, Duration max) {
        if (initial.isNegative() || initial.isZero()) {
            throw new IllegalArgumentException("initial backoff must be positive");
        }
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("max backoff must be at least the initial backoff");
        }
        this.initialMillis = initial.toMillis();
        this.maxMillis = max.toMillis();
    }

    /** The cap for attempt {@code attempt} (0-based), before jitter. */
    public long capMillis(int attempt) {
        int shift = Math.min(Math.max(attempt, 0), 30);
        long cap = initialMillis << shift;
        return cap <= 0 || cap > maxMillis ? maxMillis : cap;
    }

    /** The delay before retry number {@code attempt} (0-based). */
    public long delayMillis(int attempt) {
        long cap = capMillis(attempt);
        long half = cap / 2;
        return half + ThreadLocalRandom.current().nextLong(cap - half + 1);
    }

    public Duration max() {
        return Duration.ofMillis(maxMillis);
    }
}
