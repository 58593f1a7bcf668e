// Package natstest starts a throwaway nats-server (Debian's
// /usr/sbin/nats-server, or NATS_SERVER_BIN) on a free loopback port for a
// test. Without the binary the test is skipped, unless
// CUSTOS_TEST_REQUIRE_NATS=1 (as in scripts/test.sh), then it fails.
package natstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Start runs nats-server for the test's lifetime and returns its URL.
func Start(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("NATS_SERVER_BIN")
	if bin == "" {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if p, lerr := exec.LookPath("nats-server"); lerr == nil {
			bin = p
		} else if os.Getenv("CUSTOS_TEST_REQUIRE_NATS") == "1" {
			t.Fatalf("nats-server not found (%v) and CUSTOS_TEST_REQUIRE_NATS=1", err)
		} else {
			t.Skipf("nats-server not found: %v", err)
		}
	}
	// Pick a free port, then hand it to the server; a rare clash is
	// retried with a new port.
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "--no_advertise")
		cmd.Dir = t.TempDir()
		logf, err := os.Create(filepath.Join(cmd.Dir, "nats.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nats-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(exited) }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if waitListening(addr, exited, 5*time.Second) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return "nats://" + addr
		}
		cmd.Process.Kill()
		<-exited
		b, _ := os.ReadFile(logf.Name())
		t.Logf("nats-server on %s did not start:\n%s", addr, b)
	}
	t.Fatal("nats-server did not start")
	return ""
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening polls addr until it accepts, the process exits or the
// deadline passes.
func waitListening(addr string, exited <-chan struct{}, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
