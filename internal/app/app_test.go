package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"custos/internal/app"
	"custos/internal/config"
)

// TestMetricsCountCloses: a refused chat connection shows up in /metrics
// by its close code, next to the connection and commit figures.
func TestMetricsCountCloses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := config.Defaults()
	cfg.Addr, cfg.Data = "127.0.0.1:0", t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())

	ws, _, err := websocket.Dial(ctx, a.URL+"/chat/v1/ws", &websocket.DialOptions{Subprotocols: []string{"custos.chat.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := wsjson.Write(ctx, ws, map[string]any{"type": "hello", "v": 1, "site_key": "not-the-key"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != 4001 {
		t.Fatalf("bad site key: %v, want close 4001", err)
	}
	want := `custos_chat_closes_total{code="4001"} 1`
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if strings.Contains(body, want) {
			for _, name := range []string{"custos_chat_connections", "custos_store_commits_total", "custos_realtime_subscribers"} {
				if !strings.Contains(body, name) {
					t.Errorf("/metrics lacks %s", name)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", want, grepLines(body, "custos_chat"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
