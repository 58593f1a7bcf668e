// Package ratelimit holds the token buckets every input path uses: one
// bucket, and a keyed set of buckets (per IP, per principal) whose memory is
// bounded however many keys a flood brings. It is pure: the caller passes
// the time, so tests need no sleeping.
package ratelimit

import (
	"sync"
	"time"
)

// Bucket is one token bucket. The zero Bucket is empty; Full makes a full one.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Full returns a bucket holding burst tokens at now.
func Full(burst float64, now time.Time) Bucket { return Bucket{tokens: burst, last: now} }

// Take refills the bucket at rate tokens per second up to burst, then takes
// one token if there is one.
func (b *Bucket) Take(rate, burst float64, now time.Time) bool {
	b.refill(rate, burst, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *Bucket) refill(rate, burst float64, now time.Time) {
	if now.After(b.last) {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
	}
}

// full reports whether the bucket would be full at now (it holds no state
// worth keeping).
func (b *Bucket) full(rate, burst float64, now time.Time) bool {
	return b.tokens+now.Sub(b.last).Seconds()*rate >= burst
}

// Keyed is a token bucket per key, safe for concurrent use, holding at most
// Max keys: when full, buckets that have refilled are forgotten (one sweep a
// second at most), then arbitrary ones, which at worst gives a key a fresh
// bucket. A new key starts full.
type Keyed[K comparable] struct {
	rate, burst float64
	max         int

	mu        sync.Mutex
	m         map[K]*Bucket
	lastSweep time.Time
}

// NewKeyed returns a limiter allowing rate per second with bursts of burst
// per key, tracking at most max keys.
func NewKeyed[K comparable](rate, burst float64, max int) *Keyed[K] {
	if max <= 0 {
		max = 10000
	}
	return &Keyed[K]{rate: rate, burst: burst, max: max, m: make(map[K]*Bucket)}
}

// Allow takes a token for key.
func (k *Keyed[K]) Allow(key K, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.m[key]
	if b == nil {
		if len(k.m) >= k.max {
			k.evict(now)
		}
		nb := Full(k.burst, now)
		b = &nb
		k.m[key] = b
	}
	return b.Take(k.rate, k.burst, now)
}

// Len is the number of keys tracked.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

func (k *Keyed[K]) evict(now time.Time) {
	if now.Sub(k.lastSweep) >= time.Second {
		k.lastSweep = now
		for key, b := range k.m {
			if b.full(k.rate, k.burst, now) {
				delete(k.m, key)
			}
		}
	}
	for key := range k.m {
		if len(k.m) < k.max {
			return
		}
		delete(k.m, key)
	}
}
