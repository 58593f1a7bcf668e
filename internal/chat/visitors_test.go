package chat

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestNewVisitorLimit(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{VisitorsPerMinute: 1, VisitorBurst: 2, LimitLoopbackVisitors: true})
	_, w := e.customer(nil)
	dt := w.str("device_token")
	e.customer(nil)
	// The third new visitor from this address is refused...
	c := e.dial("/chat/v1/ws")
	c.send(hello(nil))
	if code, reason := c.closeCode(); code != CloseRateLimited || !strings.Contains(reason, "rate limited") {
		t.Fatalf("close %d %q, want %d", code, reason, CloseRateLimited)
	}
	// ... but a known visitor still gets in.
	if _, w2 := e.customer(frame{"device_token": dt}); w2.str("device_token") != dt {
		t.Fatalf("known visitor welcome = %v", w2)
	}
}

func TestVisitorLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name     string
		loopback bool
		addr     string
		allowed  int // of 10 at once
	}{
		{"ipv4", false, "203.0.113.7:5000", 3},
		{"loopback exempt", false, "127.0.0.1:5000", 10},
		{"ipv6 loopback exempt", false, "[::1]:5000", 10},
		{"loopback limited when configured", true, "127.0.0.1:5000", 3},
		{"ipv6", false, "[2001:db8::1]:443", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newVisitorLimiter(60, 3, tt.loopback)
			ip := remoteIP(tt.addr)
			n := 0
			for range 10 {
				if l.allow(ip, now) {
					n++
				}
			}
			if n != tt.allowed {
				t.Fatalf("allowed %d, want %d", n, tt.allowed)
			}
			if tt.allowed < 10 && !l.allow(ip, now.Add(time.Second)) {
				t.Fatal("no token after a second at 60/minute")
			}
		})
	}
	// An IPv6 /64 is one bucket; other networks are not affected.
	if remoteIP("[2001:db8::1]:1") != remoteIP("[2001:db8::ffff]:2") || remoteIP("[::ffff:203.0.113.7]:1") != netip.MustParseAddr("203.0.113.7") {
		t.Fatal("address keys")
	}
	// The map stays bounded.
	l := newVisitorLimiter(1, 1, false)
	for i := range maxVisitorIPs + 100 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if l.k.Len() > maxVisitorIPs {
		t.Fatalf("%d buckets", l.k.Len())
	}
}

// A client may send its hello in the same packet as the handshake; the
// small connection buffers must not lose it.
func TestHelloPipelinedWithHandshake(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	payload := []byte(`{"type":"hello","v":1,"site_key":"demo"}`)
	frame := []byte{0x81, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i, b := range payload {
		frame = append(frame, b^[]byte{1, 2, 3, 4}[i%4])
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	req := fmt.Sprintf("GET /chat/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", key, Subprotocol)
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	h := make([]byte, 2)
	if _, err := br.Read(h); err != nil {
		t.Fatal(err)
	}
	if websocket.MessageType(h[0]&0x0f) != websocket.MessageText {
		t.Fatalf("first frame header %x, want a text frame (the welcome)", h)
	}
}
