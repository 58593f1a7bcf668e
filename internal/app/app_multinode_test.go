package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"custos/internal/app"
	"custos/internal/config"
	"custos/internal/demo"
	"custos/internal/realtime/natsbus/natstest"
	"custos/internal/store/pgtest"
)

// TestMultiNode runs two nodes on one PostgreSQL database and one NATS
// server, as behind a load balancer: a customer on node A and an agent on
// node B talk to each other live, and A's chat session works on B.
func TestMultiNode(t *testing.T) {
	dsn := pgtest.DSN(t)
	natsURL := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := func(name string) *app.App {
		cfg := config.Defaults()
		cfg.Addr, cfg.Data, cfg.DB = "127.0.0.1:0", t.TempDir(), dsn
		cfg.NATSURL, cfg.SessionSecret = natsURL, "multi-node-test-secret-0123456789abcdef"
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil)).With(slog.String("node", name))
		a, err := app.Start(ctx, cfg, log)
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if err := a.Close(sctx); err != nil {
				t.Errorf("close %s: %v", name, err)
			}
		})
		return a
	}
	nodeA := start("a")
	nodeB := start("b")
	if _, err := demo.Load(ctx, nodeA.DB, nodeA.Auth, nodeA.Tickets); err != nil {
		t.Fatalf("demo: %v", err)
	}

	// The agent logs in on node B and opens the console socket there.
	jar, _ := cookiejar.New(nil)
	agent := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := agent.Post(nodeB.URL+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"login":"admin","password":"custos-demo-2026"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		CSRFToken string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.CSRFToken == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	agentWS, _, err := websocket.Dial(ctx, nodeB.URL+"/api/v1/ws", &websocket.DialOptions{
		HTTPClient: agent, HTTPHeader: http.Header{"Origin": {nodeB.URL}}})
	if err != nil {
		t.Fatalf("agent ws: %v", err)
	}
	defer agentWS.CloseNow()

	// The customer chats through node A.
	cust, _, err := websocket.Dial(ctx, nodeA.URL+"/chat/v1/ws", nil)
	if err != nil {
		t.Fatalf("customer ws: %v", err)
	}
	defer cust.CloseNow()
	send(ctx, t, cust, map[string]any{"type": "hello", "v": 1, "site_key": "demo"})
	welcome := until(ctx, t, cust, "welcome", nil)
	session, _ := welcome["session"].(string)
	if !strings.HasPrefix(session, "cs_") {
		t.Fatalf("welcome: %v", welcome)
	}
	send(ctx, t, cust, map[string]any{"type": "send", "client_id": "mn-1", "text": "withdrawal stuck, help"})
	ack := until(ctx, t, cust, "ack", nil)
	ticketID := int64(ack["conversation_id"].(float64))

	// Node B's agent sees the customer's message published on node A.
	until(ctx, t, agentWS, "message", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		return f["ticket_id"] == float64(ticketID) && m["text"] == "withdrawal stuck, help"
	})

	// The agent replies through node B's REST API; the customer on A gets it.
	req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/v1/tickets/%d/messages", nodeB.URL, ticketID),
		strings.NewReader(`{"text":"Looking into it now."}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", login.CSRFToken)
	resp, err = agent.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("reply: %d %s", resp.StatusCode, body)
	}
	until(ctx, t, cust, "message", func(f map[string]any) bool {
		return f["conversation_id"] == float64(ticketID) && f["text"] == "Looking into it now."
	})

	// The session node A issued works on node B.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "shot.png")
	fw.Write(png)
	mw.Close()
	req, _ = http.NewRequestWithContext(ctx, "POST", nodeB.URL+"/chat/v1/attachments", &mp)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+session)
	resp, err = (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !bytes.Contains(body, []byte(`"id"`)) {
		t.Fatalf("upload on node B with node A's session: %d %s", resp.StatusCode, body)
	}
	// The bytes live in the shared database: node A serves what B received.
	var up struct{ ID, URL string }
	json.Unmarshal(body, &up)
	resp, err = http.Get(nodeA.URL + up.URL + "?session=" + session)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, png) || nodeA.Cfg.AttachmentStore != "database" {
		t.Fatalf("download on node A of node B's upload: %d, %d bytes, store %q", resp.StatusCode, len(got), nodeA.Cfg.AttachmentStore)
	}
	// A forged session is refused there.
	req, _ = http.NewRequestWithContext(ctx, "POST", nodeB.URL+"/chat/v1/attachments", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer "+session[:len(session)-2]+"AA")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("forged session: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

func send(ctx context.Context, t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Write(wctx, websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// until reads frames until one of type typ matches (match may be nil),
// failing after 10 s or 200 frames.
func until(ctx context.Context, t *testing.T, c *websocket.Conn, typ string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := 0; i < 200; i++ {
		_, b, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		if f["type"] == typ && (match == nil || match(f)) {
			return f
		}
		if f["type"] == "error" {
			t.Logf("error frame: %s", b)
		}
	}
	t.Fatalf("no %q frame in 200", typ)
	return nil
}
