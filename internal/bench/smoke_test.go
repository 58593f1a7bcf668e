package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildCustos builds the real binary: `custos bench` is wired in package
// main, and `bench chat` runs `custos demo` and `custos serve` as children
// of its own executable, so only the binary runs it end to end.
func buildCustos(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own go first in PATH
	if err != nil {
		t.Fatalf("the go command is needed to build custos: %v", err)
	}
	exe := filepath.Join(t.TempDir(), "custos")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", exe, "custos/cmd/custos").CombinedOutput()
	if err != nil {
		t.Fatalf("go build custos/cmd/custos: %v\n%s", err, out)
	}
	return exe
}

// runBench runs `custos bench args...` with its temporary files under a
// test directory and no CUSTOS_* settings from the caller's environment,
// and returns the last line of its standard output.
func runBench(t *testing.T, exe string, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, append([]string{"bench"}, args...)...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CUSTOS_") && !strings.HasPrefix(kv, "TMPDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir())
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("custos bench %s: %v after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	}
	t.Logf("custos bench %s took %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	out := stdout.String()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("stdout does not end with a line:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 {
		t.Errorf("stdout has no table before the JSON line:\n%s", out)
	}
	return lines[len(lines)-1]
}

// decodeLine decodes the last line as exactly one JSON object and checks
// that every key the figures are read by is there with the right type.
func decodeLine(t *testing.T, line string, texts []string, numbers []string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || m == nil {
		t.Fatalf("the last line is not one JSON object (%v): %s", err, line)
	}
	for _, k := range texts {
		if _, ok := m[k].(string); !ok {
			t.Errorf("key %q is not a string in %s", k, line)
		}
	}
	for _, k := range numbers {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("key %q is not a number in %s", k, line)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func num(m map[string]any, k string) float64 { f, _ := m[k].(float64); return f }

// TestBenchSmoke runs both benchmarks at a tiny size on SQLite and checks
// the result line scripts read.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the custos binary")
	}
	exe := buildCustos(t)

	t.Run("api", func(t *testing.T) {
		line := runBench(t, exe, 60*time.Second, "api", "--duration", "1s", "--clients", "1,2")
		m := decodeLine(t, line, []string{"engine"}, []string{"clients", "http_ops_per_sec", "raw_ops_per_sec", "p50_ms", "p99_ms", "duration_sec"})
		if m["engine"] != "sqlite" {
			t.Errorf("engine = %v, want sqlite", m["engine"])
		}
		// The headline is the run nearest 16 clients: of 1 and 2, 2.
		if num(m, "clients") != 2 {
			t.Errorf("clients = %v, want 2 (the asked count nearest 16)", m["clients"])
		}
		if num(m, "duration_sec") != 1 {
			t.Errorf("duration_sec = %v, want 1", m["duration_sec"])
		}
		for _, k := range []string{"http_ops_per_sec", "raw_ops_per_sec", "p50_ms", "p99_ms"} {
			if num(m, k) <= 0 {
				t.Errorf("%s = %v, want > 0", k, m[k])
			}
		}
		if num(m, "p99_ms") < num(m, "p50_ms") {
			t.Errorf("p99_ms %v < p50_ms %v", m["p99_ms"], m["p50_ms"])
		}
		runs, _ := m["runs"].([]any)
		if len(runs) != 2 {
			t.Fatalf("runs = %v, want one per asked client count (1, 2)", m["runs"])
		}
		for i, want := range []float64{1, 2} {
			r, _ := runs[i].(map[string]any)
			if num(r, "clients") != want || num(r, "http_ops") <= 0 || num(r, "raw_ops") <= 0 || num(r, "http_errors") != 0 || num(r, "raw_errors") != 0 {
				t.Errorf("run %d = %v; want %v clients, operations and no errors", i, r, want)
			}
		}
		if h, _ := runs[1].(map[string]any); num(h, "http_ops_per_sec") != num(m, "http_ops_per_sec") || num(h, "p50_ms") != num(m, "p50_ms") {
			t.Errorf("headline %v is not the 2-client run %v", line, h)
		}
	})

	t.Run("chat", func(t *testing.T) {
		const customers, agents = 20, 2
		line := runBench(t, exe, 90*time.Second, "chat", "--customers", "20", "--agents", "2", "--rate", "20",
			"--duration", "1s", "--ramp", "0", "--dialers", "8")
		m := decodeLine(t, line, nil, []string{"connections", "setup_per_sec", "messages_per_sec", "p50_ms", "p95_ms", "p99_ms", "bytes_per_idle_conn"})
		if num(m, "connections") != customers+agents || num(m, "connect_failed") != 0 {
			t.Errorf("connections = %v (%v failed), want %d", m["connections"], m["connect_failed"], customers+agents)
		}
		for _, k := range []string{"setup_per_sec", "messages_per_sec", "p50_ms", "p95_ms", "p99_ms", "rss_before_bytes", "rss_connected_bytes"} {
			if num(m, k) <= 0 {
				t.Errorf("%s = %v, want > 0", k, m[k])
			}
		}
		if !(num(m, "p50_ms") <= num(m, "p95_ms") && num(m, "p95_ms") <= num(m, "p99_ms")) {
			t.Errorf("percentiles out of order: p50 %v p95 %v p99 %v", m["p50_ms"], m["p95_ms"], m["p99_ms"])
		}
		// A difference of two RSS readings: a whole number of bytes, and
		// with 22 connections not always positive.
		if b := num(m, "bytes_per_idle_conn"); b != float64(int64(b)) {
			t.Errorf("bytes_per_idle_conn = %v, want whole bytes", b)
		}
		// 20 msg/s for 1 s, one per customer: every message is acked
		// (persisted) and reaches an agent.
		if sent := num(m, "sent"); sent < 1 || num(m, "acked") != sent || num(m, "delivered") != sent {
			t.Errorf("sent %v, acked %v, delivered %v; want every sent message acked and delivered", m["sent"], m["acked"], m["delivered"])
		}
		if num(m, "error_frames") != 0 || num(m, "disconnects") != 0 {
			t.Errorf("error frames %v, disconnects %v (first error %v)", m["error_frames"], m["disconnects"], m["first_error"])
		}
	})
}
