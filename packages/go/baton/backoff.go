package baton

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with jitter, so that many workers
// losing one server do not come back in lockstep.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the delay before the next attempt: uniformly in [d/2, d]
// where d doubles from min up to max.
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.attempt < 62 {
		b.attempt++
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
