package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"custos/internal/attach"
	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
	"custos/internal/store/pgtest"
	"custos/internal/store/postgres"
	"custos/internal/store/sqlite"
	"custos/internal/tickets"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	t       *testing.T
	dir     string
	db      migratable
	st      *store.Batcher
	hub     *realtime.Hub
	tickets *tickets.Service
	srv     *Server
	http    *httptest.Server
	agent   desk.Agent
	// agentSession answers the console socket's periodic checks
	// (a func() (auth.Principal, error)); unset = the session is fine.
	agentSession *atomic.Value
	rechecks     *atomic.Int64
}

type migratable interface {
	store.Store
	Migrate(ctx context.Context) (int, error)
}

// bothEngines runs fn on SQLite and on PostgreSQL (when CUSTOS_TEST_PG is
// set; required in the test command): newEnv picks the engine from the
// subtest's name.
func bothEngines(t *testing.T, fn func(t *testing.T)) {
	t.Run("sqlite", fn)
	t.Run("postgres", fn)
}

func newEnv(t *testing.T, dir string, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	var (
		db  migratable
		err error
	)
	pg := strings.HasSuffix(t.Name(), "/postgres")
	if pg {
		db, err = postgres.Open(ctx, pgtest.DSN(t))
	} else {
		db, err = sqlite.Open(ctx, filepath.Join(dir, "custos.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, db: db, agentSession: new(atomic.Value), rechecks: new(atomic.Int64)}
	// As in the app: PostgreSQL group-commits by itself.
	e.st = store.NewBatcher(db, store.BatchOptions{PassThrough: pg})
	e.hub = realtime.NewHub(realtime.HubOptions{})
	e.tickets = tickets.New(e.st, e.hub)
	at, err := attach.New(dir, e.st, attach.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Write(ctx, func(tx store.Tx) error {
		a, err := tx.GetAgentByLogin(ctx, "alice")
		if err == nil {
			e.agent = a
			return nil
		}
		e.agent = desk.Agent{Login: "alice", Name: "Alice", Role: desk.RoleAdmin, ChatLimit: 10}
		if err := e.agent.Validate(); err != nil {
			return err
		}
		return tx.CreateAgent(ctx, &e.agent, "x")
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.SiteKey, cfg.IdentitySecret = "demo", secret
	if cfg.AllowedOrigins == nil {
		cfg.AllowedOrigins = []string{"*"}
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 2 * time.Second
	}
	e.srv = New(cfg, Deps{Store: e.st, Tickets: e.tickets, Hub: e.hub, Attach: at, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	mux := http.NewServeMux()
	e.srv.Register(mux)
	mux.HandleFunc("GET /agent/ws", func(w http.ResponseWriter, r *http.Request) {
		a := e.agent
		e.srv.ServeAgent(w, r, auth.Principal{Agent: &a}, func(context.Context) (auth.Principal, error) {
			e.rechecks.Add(1)
			if f, _ := e.agentSession.Load().(func() (auth.Principal, error)); f != nil {
				return f()
			}
			return auth.Principal{Agent: &a}, nil
		})
	})
	e.http = httptest.NewServer(mux)
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if e.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	e.http.Close()
	e.hub.Close()
	e.st.Close()
	e.db.Close()
	e.http = nil
}

func (e *env) agentActor() tickets.Actor {
	return tickets.Actor{Kind: desk.AuthorAgent, ID: e.agent.ID, Name: e.agent.Name, All: true, CanAssign: true}
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *env) dial(path string) *client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + path
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		e.t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: e.t, ws: ws}
	e.t.Cleanup(func() { ws.CloseNow() })
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

type frame map[string]any

func (f frame) int(k string) int64 {
	v, _ := f[k].(float64)
	return int64(v)
}

func (f frame) str(k string) string { s, _ := f[k].(string); return s }

// read returns the next frame, or the close error.
func (c *client) read() (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("bad frame %s", b)
	}
	return f, nil
}

// next returns the next frame of type typ, skipping others.
func (c *client) next(typ string) frame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.str("type") == typ {
			return f
		}
	}
}

// ackAndMessage returns the ack of a send and the message frame echoing
// it, which may come in either order.
func (c *client) ackAndMessage() (ack, msg frame) {
	c.t.Helper()
	for ack == nil || msg == nil {
		f, err := c.read()
		if err != nil {
			c.t.Fatal(err)
		}
		switch f.str("type") {
		case "ack":
			ack = f
		case "message":
			msg = f
		}
	}
	return ack, msg
}

// closeCode reads until the server closes and returns the close code.
func (c *client) closeCode() (websocket.StatusCode, string) {
	c.t.Helper()
	for i := 0; i < 10000; i++ {
		_, err := c.read()
		if err != nil {
			var ce websocket.CloseError
			if errorsAs(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		}
	}
	c.t.Fatal("no close")
	return 0, ""
}

func errorsAs(err error, ce *websocket.CloseError) bool {
	code := websocket.CloseStatus(err)
	if code == -1 {
		return false
	}
	ce.Code = code
	if s := err.Error(); strings.Contains(s, "reason = ") {
		ce.Reason = s[strings.LastIndex(s, "reason = ")+9:]
	}
	return true
}

func hello(extra frame) frame {
	f := frame{"type": "hello", "v": 1, "site_key": "demo"}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func (e *env) customer(extra frame) (*client, frame) {
	e.t.Helper()
	c := e.dial("/chat/v1/ws")
	c.send(hello(extra))
	return c, c.next("welcome")
}

func identity(t *testing.T, key []byte, sub string, exp time.Time) string {
	t.Helper()
	tok, err := auth.SignIdentityToken(key, auth.IdentityClaims{Sub: sub, Name: "Kim Minji", Email: "minji@example.com", Lang: "ko", VIPTier: 2, KYCLevel: 2, IssuedAt: time.Now().Add(-time.Minute), Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHelloAnonymousAndIdentified(t *testing.T) { bothEngines(t, testHelloAnonymousAndIdentified) }

func testHelloAnonymousAndIdentified(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	_, w := e.customer(nil)
	dt := w.str("device_token")
	contact := w["contact"].(map[string]any)
	if !strings.HasPrefix(w.str("session"), "cs_") || !strings.HasPrefix(dt, "dt_") || w["conversation"] != nil ||
		contact["name"] != fmt.Sprintf("Visitor %d", int64(contact["id"].(float64))) {
		t.Fatalf("welcome = %v", w)
	}
	// The same device token is the same visitor.
	_, w2 := e.customer(frame{"device_token": dt})
	if w2["contact"].(map[string]any)["id"] != contact["id"] || w2.str("device_token") != dt {
		t.Fatalf("second welcome = %v", w2)
	}
	// An identified customer, twice: one contact, updated from the token.
	tok := identity(t, secret, "UID-1", time.Now().Add(time.Hour))
	_, w3 := e.customer(frame{"identity": tok})
	_, w4 := e.customer(frame{"identity": tok})
	c3 := w3["contact"].(map[string]any)
	if c3["name"] != "Kim Minji" || w3.str("device_token") != "" || w4["contact"].(map[string]any)["id"] != c3["id"] {
		t.Fatalf("identified welcomes = %v / %v", w3, w4)
	}
	var got desk.Contact
	e.st.Read(context.Background(), func(tx store.Tx) error {
		got, _ = tx.GetContactByUID(context.Background(), "UID-1")
		return nil
	})
	if got.VIPTier != 2 || got.Language != "ko" || len(got.Emails) != 1 {
		t.Fatalf("contact = %+v", got)
	}
}

func TestHelloRefused(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{HelloTimeout: 300 * time.Millisecond})
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJVSUQtMSIsImV4cCI6OTk5OTk5OTk5OX0."
	tests := []struct {
		name  string
		hello frame
		code  websocket.StatusCode
	}{
		{"wrong key", hello(frame{"identity": identity(t, []byte("another-secret-another-secret-xx"), "UID-1", time.Now().Add(time.Hour))}), CloseUnauthorized},
		{"expired", hello(frame{"identity": identity(t, secret, "UID-1", time.Now().Add(-time.Second))}), CloseUnauthorized},
		{"alg none", hello(frame{"identity": none}), CloseUnauthorized},
		{"garbage token", hello(frame{"identity": "a.b.c"}), CloseUnauthorized},
		{"bad site key", frame{"type": "hello", "v": 1, "site_key": "nope"}, CloseUnauthorized},
		{"not hello", frame{"type": "send", "text": "hi"}, CloseHelloExpected},
		{"bad version", frame{"type": "hello", "v": 2, "site_key": "demo"}, CloseProtocol},
		{"timeout", nil, CloseHelloExpected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial("/chat/v1/ws")
			if tt.hello != nil {
				c.send(tt.hello)
			}
			if code, reason := c.closeCode(); code != tt.code {
				t.Fatalf("close %d %q, want %d", code, reason, tt.code)
			}
		})
	}
}

func TestSendResendResume(t *testing.T) { bothEngines(t, testSendResendResume) }

func testSendResendResume(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	ctx := context.Background()
	c, w := e.customer(nil)
	dt := w.str("device_token")
	c.send(frame{"type": "send", "client_id": "c-1", "text": "My withdrawal is stuck"})
	ack, m := c.ackAndMessage()
	conv := ack.int("conversation_id")
	if ack.int("seq") != 1 || ack["duplicate"] != false || conv == 0 {
		t.Fatalf("ack = %v", ack)
	}
	if m.int("seq") != 1 || m.str("client_id") != "c-1" {
		t.Fatalf("own message = %v", m)
	}
	// Resend: the same ack, no second message.
	c.send(frame{"type": "send", "client_id": "c-1", "text": "My withdrawal is stuck"})
	if a := c.next("ack"); a.int("seq") != 1 || a["duplicate"] != true {
		t.Fatalf("resend ack = %v", a)
	}
	// Agent reply, internal note, reply: the customer gets 2 and 4.
	for i, in := range []tickets.MessageInput{{Text: "Checking"}, {Text: "note", Internal: true}, {Text: "Found it"}} {
		if _, _, err := e.tickets.AddMessage(ctx, e.agentActor(), conv, in); err != nil {
			t.Fatal(i, err)
		}
	}
	if m := c.next("message"); m.int("seq") != 2 || m.str("text") != "Checking" {
		t.Fatalf("message = %v", m)
	}
	if m := c.next("message"); m.int("seq") != 4 {
		t.Fatalf("message = %v", m)
	}
	c.ws.Close(websocket.StatusNormalClosure, "")

	// Offline: two more replies. Resume from seq 2 gets exactly 4, 5, 6.
	for _, txt := range []string{"a", "b"} {
		if _, _, err := e.tickets.AddMessage(ctx, e.agentActor(), conv, tickets.MessageInput{Text: txt}); err != nil {
			t.Fatal(err)
		}
	}
	c2, w2 := e.customer(frame{"device_token": dt, "resume": frame{"conversation_id": conv, "last_seq": 2}})
	if w2["conversation"].(map[string]any)["last_seq"].(float64) != 6 {
		t.Fatalf("welcome = %v", w2)
	}
	for _, want := range []int64{4, 5, 6} {
		if m := c2.next("message"); m.int("seq") != want {
			t.Fatalf("resumed message = %v, want seq %d", m, want)
		}
	}
	// Then live, and a sync replays from any point.
	c2.send(frame{"type": "sync", "after_seq": 4})
	for _, want := range []int64{5, 6} {
		if m := c2.next("message"); m.int("seq") != want {
			t.Fatalf("synced message = %v, want %d", m, want)
		}
	}
	if s := c2.next("synced"); s.int("last_seq") != 6 {
		t.Fatalf("synced = %v", s)
	}
	c2.send(frame{"type": "ping"})
	c2.next("pong")
}

// Several customers and an agent write concurrently; every customer sees
// strictly increasing seqs with nothing missing.
func TestOrderingConcurrent(t *testing.T) { bothEngines(t, testOrderingConcurrent) }

func testOrderingConcurrent(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{SendRate: 1000, SendBurst: 1000, FrameRate: 1000, FrameBurst: 1000})
	ctx := context.Background()
	const customers, each = 4, 15
	type cust struct {
		c    *client
		conv int64
	}
	cs := make([]cust, customers)
	for i := range cs {
		c, _ := e.customer(nil)
		c.send(frame{"type": "send", "client_id": "open", "text": "hello"})
		cs[i] = cust{c: c, conv: c.next("ack").int("conversation_id")}
	}
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(2)
		go func() { // the customer
			defer wg.Done()
			for k := 0; k < each; k++ {
				b, _ := json.Marshal(frame{"type": "send", "client_id": fmt.Sprintf("m-%d", k), "text": "x"})
				cs[i].c.ws.Write(ctx, websocket.MessageText, b)
			}
		}()
		go func() { // the agent, on the same conversation
			defer wg.Done()
			for k := 0; k < each; k++ {
				if _, _, err := e.tickets.AddMessage(ctx, e.agentActor(), cs[i].conv, tickets.MessageInput{Text: "y", Internal: k%3 == 0}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	total := int64(1 + 2*each)
	for i, cu := range cs {
		var seqs []int64
		last := int64(1) // "hello" was seq 1, already received or not
		for last < total {
			f, err := cu.c.read()
			if err != nil {
				t.Fatalf("customer %d: %v after %v", i, err, seqs)
			}
			if f.str("type") != "message" {
				continue
			}
			s := f.int("seq")
			if s == 1 {
				continue
			}
			if s <= last {
				t.Fatalf("customer %d: seq %d after %d", i, s, last)
			}
			last = s
			seqs = append(seqs, s)
		}
		// Internal notes are the only gaps.
		if len(seqs) != int(total-1-each/3) {
			t.Fatalf("customer %d got %d messages: %v", i, len(seqs), seqs)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	tests := []struct {
		name  string
		frame []byte
		code  websocket.StatusCode
	}{
		{"malformed", []byte(`{"type":`), CloseProtocol},
		{"unknown type", []byte(`{"type":"dance"}`), CloseProtocol},
		{"oversize", append(append([]byte(`{"type":"send","text":"`), bytes.Repeat([]byte("a"), 70<<10)...), `"}`...), websocket.StatusMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := e.customer(nil)
			c.ws.Write(context.Background(), websocket.MessageText, tt.frame)
			if code, reason := c.closeCode(); code != tt.code {
				t.Fatalf("close %d %q, want %d", code, reason, tt.code)
			}
		})
	}
	t.Run("flood", func(t *testing.T) {
		c, _ := e.customer(nil)
		go func() {
			for i := 0; i < 200; i++ {
				b, _ := json.Marshal(frame{"type": "ping"})
				if c.ws.Write(context.Background(), websocket.MessageText, b) != nil {
					return
				}
			}
		}()
		sawError := false
		for {
			f, err := c.read()
			if err != nil {
				if code := websocket.CloseStatus(err); code != CloseRateLimited || !sawError {
					t.Fatalf("close %d (error frame seen: %v), want 4008 after an error frame", code, sawError)
				}
				return
			}
			if f.str("type") == "error" && f.str("code") == desk.ERateLimited {
				sawError = true
			}
		}
	})
}

// A customer that never reads is cut off; another keeps receiving, and
// Publish never waits.
func TestSlowClientDropped(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{WriteTimeout: 500 * time.Millisecond})
	slow, ws := e.customer(nil)
	fast, wf := e.customer(nil)
	slowID := int64(ws["contact"].(map[string]any)["id"].(float64))
	fastID := int64(wf["contact"].(map[string]any)["id"].(float64))
	_ = slow
	big := strings.Repeat("x", 30<<10)
	deadline := time.Now().Add(10 * time.Second)
	received := 0
	for seq := int64(1); e.srv.Conns() > 1 && time.Now().Before(deadline); seq++ {
		start := time.Now()
		e.hub.Publish(realtime.Event{Type: realtime.MessageCreated, Ticket: desk.Ticket{ID: 1000, ContactID: slowID, Channel: desk.ChannelChat, Status: desk.StatusOpen},
			Message: &desk.Message{TicketID: 1000, Seq: seq, Text: big, AuthorKind: desk.AuthorAgent}})
		e.hub.Publish(realtime.Event{Type: realtime.MessageCreated, Ticket: desk.Ticket{ID: 2000 + seq, ContactID: fastID, Channel: desk.ChannelChat, Status: desk.StatusOpen},
			Message: &desk.Message{TicketID: 2000 + seq, Seq: 1, Text: "hi", AuthorKind: desk.AuthorAgent}})
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("Publish blocked for %v", d)
		}
		if m := fast.next("message"); m.int("conversation_id") != 2000+seq {
			t.Fatalf("fast got %v", m)
		}
		received++
	}
	if e.srv.Conns() != 1 {
		t.Fatalf("slow client still connected after %d events", received)
	}
	// Cut off as "too slow", whichever came first (its queue filling or a
	// write timing out on its full socket), never as a server error.
	if got := e.srv.CloseCounts(); got[int(CloseTooSlow)] != 1 || got[int(websocket.StatusInternalError)] != 0 {
		t.Fatalf("close counts %v, want one 4009 and no 1011", got)
	}
}

func TestAttachmentUploadThenSend(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	c, w := e.customer(nil)
	session := w.str("session")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	upload := func(session, name string, data []byte) (*http.Response, frame) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(data)
		mw.Close()
		req, _ := http.NewRequest("POST", e.http.URL+"/chat/v1/attachments", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var f frame
		json.NewDecoder(resp.Body).Decode(&f)
		return resp, f
	}
	if resp, _ := upload("cs_nope", "a.png", png); resp.StatusCode != 401 {
		t.Fatalf("no session: %d", resp.StatusCode)
	}
	if resp, f := upload(session, "evil.png", []byte("<html><script>alert(1)</script>")); resp.StatusCode != 415 || f.str("code") != attach.EUnsupportedType {
		t.Fatalf("html: %d %v", resp.StatusCode, f)
	}
	resp, att := upload(session, "shot.png", png)
	if resp.StatusCode != 201 || att.str("content_type") != "image/png" {
		t.Fatalf("upload: %d %v", resp.StatusCode, att)
	}
	c.send(frame{"type": "send", "client_id": "with-file", "text": "", "attachments": []string{att.str("id")}})
	_, m := c.ackAndMessage()
	atts := m["attachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["id"] != att.str("id") {
		t.Fatalf("message = %v", m)
	}
	get := func(session string) *http.Response {
		r, err := http.Get(e.http.URL + att.str("url") + "?session=" + session)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r
	}
	if r := get(session); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %v", r.StatusCode, r.Header)
	}
	// Another customer may not fetch it.
	_, w2 := e.customer(nil)
	if r := get(w2.str("session")); r.StatusCode != 404 {
		t.Fatalf("other customer: %d", r.StatusCode)
	}
}

// Everything acknowledged survives a restart on the same data directory.
func TestRestartKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, Config{SendRate: 100, SendBurst: 100})
	c, w := e.customer(nil)
	dt := w.str("device_token")
	var conv int64
	for i := 0; i < 10; i++ {
		c.send(frame{"type": "send", "client_id": fmt.Sprintf("r-%d", i), "text": fmt.Sprint("msg ", i)})
	}
	for acked := 0; acked < 10; {
		f, err := c.read()
		if err != nil {
			t.Fatal(err)
		}
		if f.str("type") == "ack" {
			acked++
			conv = f.int("conversation_id")
		}
	}
	// Read while shutting down so the close handshake completes at once.
	closed := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, err := c.read(); err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	e.stop()
	if code := <-closed; code != websocket.StatusGoingAway {
		t.Fatalf("shutdown close code %d", code)
	}

	e2 := newEnv(t, dir, Config{})
	c2, w2 := e2.customer(frame{"device_token": dt, "resume": frame{"conversation_id": conv, "last_seq": 0}})
	if w2["conversation"].(map[string]any)["id"].(float64) != float64(conv) {
		t.Fatalf("welcome = %v", w2)
	}
	for i := int64(1); i <= 10; i++ {
		if m := c2.next("message"); m.int("seq") != i || m.str("client_id") != fmt.Sprintf("r-%d", i-1) {
			t.Fatalf("after restart: %v, want seq %d", m, i)
		}
	}
}

func TestAgentSocket(t *testing.T) { bothEngines(t, testAgentSocket) }

func testAgentSocket(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	a := e.dial("/agent/ws")
	c, _ := e.customer(nil)
	c.send(frame{"type": "send", "client_id": "x1", "text": "help"})
	conv := c.next("ack").int("conversation_id")
	if f := a.next("ticket"); f["ticket"].(map[string]any)["id"].(float64) != float64(conv) {
		t.Fatalf("ticket frame = %v", f)
	}
	if f := a.next("message"); f.int("ticket_id") != conv {
		t.Fatalf("message frame = %v", f)
	}
	c.send(frame{"type": "typing", "on": true})
	if f := a.next("typing"); f.int("ticket_id") != conv || f["on"] != true {
		t.Fatalf("typing frame = %v", f)
	}
	a.send(frame{"type": "typing", "ticket_id": conv, "on": true})
	if f := c.next("typing"); f["author"].(map[string]any)["kind"] != "agent" {
		t.Fatalf("customer typing = %v", f)
	}
	a.send(frame{"type": "read", "ticket_id": conv, "seq": 1})
	if f := c.next("read"); f.int("seq") != 1 {
		t.Fatalf("customer read = %v", f)
	}
	a.send(frame{"type": "ping"})
	a.next("pong")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
