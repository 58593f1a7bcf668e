package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func ms(xs ...int) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p0 is the min", hundred, 0, time.Millisecond},
		{"nearest rank rounds up", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of 4 is the max", ms(1, 2, 3, 4), 95, 4 * time.Millisecond},
		{"above 100 clamps", ms(1, 2), 150, 2 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsAndCaps(t *testing.T) {
	l := NewLatencies(5)
	l.AddAll(ms(9, 1, 5))
	l.Add(3 * time.Millisecond)
	l.AddAll(ms(7, 100, 200)) // only 7 fits
	s := l.Summarize()
	if s.Count != 5 || l.dropped != 2 {
		t.Fatalf("count %d dropped %d, want 5 and 2", s.Count, l.dropped)
	}
	if s.P50 != 5*time.Millisecond || s.Max != 9*time.Millisecond {
		t.Errorf("p50 %v max %v, want 5ms 9ms", s.P50, s.Max)
	}
}

func TestPerSecondAndMillis(t *testing.T) {
	if got := PerSecond(150, 2*time.Second); got != 75 {
		t.Errorf("PerSecond = %v", got)
	}
	if got := PerSecond(10, 0); got != 0 {
		t.Errorf("PerSecond over no time = %v, want 0", got)
	}
	if got := Millis(1234567 * time.Nanosecond); got != 1.235 {
		t.Errorf("Millis = %v", got)
	}
}

func TestScheduleSpreadsEvenly(t *testing.T) {
	s := ScheduleFor(100, 50, 0, 3*time.Second)
	if s.Total != 300 || s.RampEvents() != 0 {
		t.Fatalf("total %d ramp %d, want 300 and 0", s.Total, s.RampEvents())
	}
	if got := s.Due(150); got != 1500*time.Millisecond {
		t.Errorf("Due(150) = %v, want 1.5s", got)
	}
	if s.PerTarget() != 2 {
		t.Errorf("PerTarget = %v, want 2", s.PerTarget())
	}
	// Every target gets the same share, consecutive events differ.
	counts := map[int]int{}
	for k := int64(0); k < s.Total; k++ {
		counts[s.Target(k)]++
		if k > 0 && s.Target(k) == s.Target(k-1) {
			t.Fatalf("events %d and %d hit the same target", k-1, k)
		}
	}
	for tg, n := range counts {
		if n != 6 {
			t.Errorf("target %d got %d events, want 6", tg, n)
		}
	}
}

func TestScheduleRamp(t *testing.T) {
	s := ScheduleFor(100, 10, 2*time.Second, time.Second)
	// 100/s × 2 s / 2 = 100 events in the ramp, then 100 in the second.
	if s.RampEvents() != 100 || s.Total != 200 {
		t.Fatalf("ramp %d total %d, want 100 and 200", s.RampEvents(), s.Total)
	}
	if s.Due(0) != 0 || s.Due(100) != 2*time.Second || s.Due(199) != 2990*time.Millisecond {
		t.Errorf("Due(0,100,199) = %v %v %v", s.Due(0), s.Due(100), s.Due(199))
	}
	// Half the ramp's events come in its last 29% (rate rises linearly).
	if d := s.Due(50); d < 1400*time.Millisecond || d > 1420*time.Millisecond {
		t.Errorf("Due(50) = %v, want sqrt(2)s", d)
	}
	for k := int64(1); k < s.Total; k++ {
		if s.Due(k) < s.Due(k-1) {
			t.Fatalf("Due is not monotonic at %d", k)
		}
	}
}

func TestScheduleRunPacesAndStops(t *testing.T) {
	s := ScheduleFor(200, 4, 0, 100*time.Millisecond) // 20 events over 100 ms
	start := time.Now()
	var got []int64
	fired, late := s.Run(context.Background(), start, 50*time.Millisecond, func(k int64) {
		// Run fires events due within a millisecond at once.
		if time.Since(start) < s.Due(k)-time.Millisecond {
			t.Errorf("event %d fired early", k)
		}
		got = append(got, k)
	})
	if fired != 20 || len(got) != 20 || late != 0 {
		t.Errorf("fired %d (%d recorded), late %d; want 20, 0", fired, len(got), late)
	}
	if el := time.Since(start); el < 95*time.Millisecond || el > 2*time.Second {
		t.Errorf("20 events at 200/s took %v", el)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long := ScheduleFor(10, 1, 0, time.Hour)
	if fired, _ := long.Run(ctx, time.Now().Add(time.Second), time.Second, func(int64) {}); fired != 0 {
		t.Errorf("a cancelled run fired %d events", fired)
	}
}

func TestWriteJSONLine(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("a table\n")
	rep := ChatReport{Connections: 52, SetupPerSec: 1234.5, MessagesPerSec: 99.9, P50ms: 1.5, P95ms: 2, P99ms: 3.25, BytesPerIdleConn: 20480, FirstError: "<a & b>"}
	if err := WriteJSONLine(&buf, rep); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasSuffix(out, "}\n") {
		t.Fatalf("output does not end with one JSON line: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if strings.Contains(last, `\u003c`) {
		t.Errorf("HTML escaping in %s", last)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(last), &m); err != nil {
		t.Fatalf("last line is not JSON: %v", err)
	}
	for _, k := range []string{"connections", "setup_per_sec", "messages_per_sec", "p50_ms", "p95_ms", "p99_ms", "bytes_per_idle_conn"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %s missing from %s", k, last)
		}
	}
	if err := WriteJSONLine(&buf, []int{1}); err == nil {
		t.Error("an array was accepted as the result line")
	}
}

func TestAPIReportHeadline(t *testing.T) {
	runs := []APIRun{
		NewAPIRun(LoadResult{Clients: 1, Ops: 100, Elapsed: time.Second}, LoadResult{Clients: 1, Ops: 200, Elapsed: time.Second}),
		NewAPIRun(LoadResult{Clients: 16, Ops: 900, Elapsed: time.Second, Latency: Summary{P50: 2 * time.Millisecond, P99: 9 * time.Millisecond}}, LoadResult{Clients: 16, Ops: 300, Elapsed: time.Second}),
		NewAPIRun(LoadResult{Clients: 64, Ops: 1000, Elapsed: time.Second}, LoadResult{Clients: 64, Ops: 300, Elapsed: time.Second}),
	}
	rep, err := NewAPIReport("sqlite", 5*time.Second, runs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSONLine(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"engine": "sqlite", "clients": 16.0, "http_ops_per_sec": 900.0, "raw_ops_per_sec": 300.0, "p50_ms": 2.0, "p99_ms": 9.0, "ratio": 3.0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if runs, _ := m["runs"].([]any); len(runs) != 3 {
		t.Errorf("runs = %v", m["runs"])
	}
	// Without a 16-client run the nearest count is the headline.
	rep, _ = NewAPIReport("postgres", time.Second, runs[:1])
	if rep.Clients != 1 {
		t.Errorf("headline clients = %d, want 1", rep.Clients)
	}
}

func TestParsers(t *testing.T) {
	rss, err := parseVmRSS([]byte("Name:\tcustos\nVmPeak:\t  99 kB\nVmRSS:\t   2048 kB\n"))
	if err != nil || rss != 2048*1024 {
		t.Errorf("parseVmRSS = %d, %v", rss, err)
	}
	if _, err := parseVmRSS([]byte("Name: x\n")); err == nil {
		t.Error("no VmRSS accepted")
	}
	m := "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 3.1457280e+07\n"
	rss, err = parseMetricsRSS(strings.NewReader(m))
	if err != nil || rss != 31457280 {
		t.Errorf("parseMetricsRSS = %d, %v", rss, err)
	}
}

func TestEventOfRoundTrips(t *testing.T) {
	r := &chatRun{prefix: "bench-x1-", sched: Schedule{Rate: 1, Targets: 1, Total: 10}}
	for _, tt := range []struct {
		id   string
		k    int64
		isOK bool
	}{
		{ClientID(r.prefix, 7), 7, true},
		{ClientID(r.prefix, 10), 0, false}, // beyond the run
		{"bench-other-3", 0, false},
		{"bench-x1-", 0, false},
		{"bench-x1--1", 0, false},
	} {
		k, ok := r.eventOf(tt.id)
		if ok != tt.isOK || (ok && k != tt.k) {
			t.Errorf("eventOf(%q) = %d, %v", tt.id, k, ok)
		}
	}
}
