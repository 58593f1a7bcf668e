package auth

import (
	"sync"
	"time"
)

// throttle is a per-IP token bucket for login attempts. It lives in memory:
// a restart forgets it, which is fine because the per-account lock (stored)
// is what stops a slow, distributed guesser; this stops a fast one.
type throttle struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	max     int // bound on tracked IPs, so a flood of addresses cannot grow memory
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newThrottle(perMinute, maxIPs int) *throttle {
	return &throttle{
		burst:   float64(perMinute),
		perSec:  float64(perMinute) / 60,
		max:     maxIPs,
		buckets: make(map[string]*bucket),
	}
}

// allow takes one token for ip and reports whether there was one.
func (t *throttle) allow(ip string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[ip]
	if !ok {
		if len(t.buckets) >= t.max {
			t.evict(now)
		}
		b = &bucket{tokens: t.burst, at: now}
		t.buckets[ip] = b
	}
	b.tokens = min(t.burst, b.tokens+now.Sub(b.at).Seconds()*t.perSec)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict drops buckets that have refilled (they hold no state worth
// keeping); if too few have, it drops arbitrary ones down to 90 % of the
// bound, which at worst gives those addresses a fresh bucket. Dropping a
// batch keeps the sweep from running on every new address in a flood.
func (t *throttle) evict(now time.Time) {
	for ip, b := range t.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*t.perSec >= t.burst {
			delete(t.buckets, ip)
		}
	}
	for ip := range t.buckets {
		if len(t.buckets) < t.max*9/10 {
			break
		}
		delete(t.buckets, ip)
	}
}
