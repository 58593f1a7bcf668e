// Package bench measures Custos from the outside, the way a customer would
// see it: REST ticket writes against the raw cost of the same rows in the
// same engine (the floor), and customer WebSocket chat at a paced message
// rate with many idle connections open.
//
// It is a load generator, not part of the server: it talks to a server only
// over loopback HTTP/WebSocket (the floor excepted, which opens the store
// directly), every loop is bounded in count and in time, and each run ends by
// printing one JSON object as the last line of its output so that scripts can
// read the figures without parsing the table.
package bench

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p% of the
// values are less than or equal to it. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Latencies collects durations from many goroutines, up to a fixed number
// of samples so that a long run cannot grow memory without bound; beyond the
// cap samples are counted but not kept.
type Latencies struct {
	mu      sync.Mutex
	max     int
	samples []time.Duration
	dropped int
}

// NewLatencies keeps at most max samples.
func NewLatencies(max int) *Latencies {
	if max <= 0 {
		max = 1
	}
	return &Latencies{max: max, samples: make([]time.Duration, 0, min(max, 1<<16))}
}

// Add records one sample.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	if len(l.samples) < l.max {
		l.samples = append(l.samples, d)
	} else {
		l.dropped++
	}
	l.mu.Unlock()
}

// AddAll records several samples under one lock (a worker's local batch).
func (l *Latencies) AddAll(ds []time.Duration) {
	l.mu.Lock()
	room := max(l.max-len(l.samples), 0)
	if len(ds) > room {
		l.dropped += len(ds) - room
		ds = ds[:room]
	}
	l.samples = append(l.samples, ds...)
	l.mu.Unlock()
}

// Summary is a distribution reduced to the figures the reports use.
type Summary struct {
	Count              int
	P50, P95, P99, Max time.Duration
}

// Summarize sorts a copy of the samples and reduces them.
func (l *Latencies) Summarize() Summary {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	return Summarize(s)
}

// Summarize sorts s in place and reduces it.
func Summarize(s []time.Duration) Summary {
	slices.Sort(s)
	sum := Summary{Count: len(s), P50: Percentile(s, 50), P95: Percentile(s, 95), P99: Percentile(s, 99)}
	if len(s) > 0 {
		sum.Max = s[len(s)-1]
	}
	return sum
}

// Millis is d in milliseconds rounded to 3 decimals, the unit of every
// latency in the JSON lines.
func Millis(d time.Duration) float64 {
	return Round(float64(d)/float64(time.Millisecond), 3)
}

// Round rounds x to n decimals.
func Round(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(x*p) / p
}

// PerSecond is count/elapsed rounded to 1 decimal; 0 when elapsed is not
// positive.
func PerSecond(count int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return Round(float64(count)/elapsed.Seconds(), 1)
}
