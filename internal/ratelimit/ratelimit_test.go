package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := Full(3, t0)
	for i := 0; i < 3; i++ {
		if !b.Take(1, 3, t0) {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	if b.Take(1, 3, t0) {
		t.Fatal("took beyond the burst")
	}
	if !b.Take(1, 3, t0.Add(1100*time.Millisecond)) {
		t.Fatal("no refill after a second at 1/s")
	}
	if !b.Take(1, 3, t0.Add(time.Hour)) || !b.Take(1, 3, t0.Add(time.Hour)) || !b.Take(1, 3, t0.Add(time.Hour)) || b.Take(1, 3, t0.Add(time.Hour)) {
		t.Fatal("refill must cap at the burst")
	}
	var zero Bucket
	if zero.Take(1, 1, time.Time{}) {
		t.Fatal("the zero bucket is empty")
	}
}

func TestKeyedIsolatesAndBounds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k := NewKeyed[string](1, 2, 100)
	if !k.Allow("a", t0) || !k.Allow("a", t0) || k.Allow("a", t0) {
		t.Fatal("burst of 2 for a")
	}
	if !k.Allow("b", t0) {
		t.Fatal("b must not share a's bucket")
	}
	for i := 0; i < 10000; i++ {
		k.Allow(string(rune(0x4e00+i)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := k.Len(); n > 100 {
		t.Fatalf("tracked %d keys, bound is 100", n)
	}
}
