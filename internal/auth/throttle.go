package auth

import (
	"time"

	"custos/internal/ratelimit"
)

// throttle limits login attempts per client IP. It lives in memory: a
// restart forgets it, which is fine because the per-account lock (stored) is
// what stops a slow, distributed guesser; this stops a fast one.
type throttle struct {
	k *ratelimit.Keyed[string]
}

func newThrottle(perMinute, maxIPs int) *throttle {
	return &throttle{k: ratelimit.NewKeyed[string](float64(perMinute)/60, float64(perMinute), maxIPs)}
}

// allow takes one attempt for ip and reports whether it may go ahead.
func (t *throttle) allow(ip string, now time.Time) bool { return t.k.Allow(ip, now) }
