package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"custos/internal/attach"
	"custos/internal/desk"
	"custos/internal/tickets"
)

// Behaviour of docs/protocol.md that chat_test.go does not cover: queue
// positions, conversation status frames, the per-customer connection limit,
// heartbeats, customer read receipts, send flooding and the upload limits.
// Every wait is bounded (client.read has a 5 s deadline; polls use waitFor).

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// await reads frames until done holds for the frames read so far, and
// returns them. Frames of interest may arrive in any order (an ack is a
// direct reply, a queue or conversation frame an event), so tests collect
// first and assert on the whole set.
func (c *client) await(what string, done func(seen []frame) bool) []frame {
	c.t.Helper()
	var seen []frame
	for i := 0; i < 100; i++ {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v after %v", what, err, seen)
		}
		seen = append(seen, f)
		if done(seen) {
			return seen
		}
	}
	c.t.Fatalf("no %s in %v", what, seen)
	return nil
}

// ofType returns the frames of type typ, in order.
func ofType(fs []frame, typ string) []frame {
	var out []frame
	for _, f := range fs {
		if f.str("type") == typ {
			out = append(out, f)
		}
	}
	return out
}

// has returns a done function for await: at least one frame of each type.
func has(types ...string) func([]frame) bool {
	return func(fs []frame) bool {
		for _, typ := range types {
			if len(ofType(fs, typ)) == 0 {
				return false
			}
		}
		return true
	}
}

func positions(fs []frame) []int64 {
	var out []int64
	for _, f := range ofType(fs, "queue") {
		if _, ok := f["position"].(float64); !ok {
			return append(out, -99) // a queue frame without a numeric position
		}
		out = append(out, f.int("position"))
	}
	return out
}

func conversationOf(f frame) map[string]any {
	m, _ := f["conversation"].(map[string]any)
	return m
}

func contactID(welcome frame) int64 {
	return int64(welcome["contact"].(map[string]any)["id"].(float64))
}

// closeFrame reads until the server closes and returns the frames read
// before the close and the close itself; anything but a close frame (EOF,
// a read timeout) fails the test.
func (c *client) closeFrame() ([]frame, websocket.CloseError) {
	c.t.Helper()
	var seen []frame
	for i := 0; i < 1000; i++ {
		f, err := c.read()
		if err == nil {
			seen = append(seen, f)
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended without a close frame: %v (after %v)", err, seen)
		}
		return seen, ce
	}
	c.t.Fatalf("no close after %d frames", len(seen))
	return nil, websocket.CloseError{}
}

// roundTrip proves the connection is open and served: ping, then pong.
func (c *client) roundTrip() {
	c.t.Helper()
	c.send(frame{"type": "ping"})
	c.next("pong")
}

// Two customers wait for an agent: the first is at 0, the second at 1; a
// reconnect is told its place right after the welcome; once an agent takes
// the first chat, it gets -1 and the second moves up to 0 (protocol.md,
// "Queue positions").
func TestQueuePositions(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	ctx := context.Background()

	a, _ := e.customer(nil)
	a.send(frame{"type": "send", "client_id": "a-1", "text": "first in line"})
	fa := a.await("ack, conversation and queue", has("ack", "conversation", "queue"))
	convA := ofType(fa, "ack")[0].int("conversation_id")
	if cv := conversationOf(ofType(fa, "conversation")[0]); cv["id"] != float64(convA) || cv["status"] != "new" {
		t.Fatalf("first customer's conversation frame = %v, want id %d status new", cv, convA)
	}
	if p := positions(fa); len(p) != 1 || p[0] != 0 {
		t.Fatalf("first customer's queue positions = %v, want [0]", p)
	}

	b, wb := e.customer(nil)
	b.send(frame{"type": "send", "client_id": "b-1", "text": "second in line"})
	fb := b.await("ack, conversation and queue", has("ack", "conversation", "queue"))
	convB := ofType(fb, "ack")[0].int("conversation_id")
	if convB == convA {
		t.Fatalf("both customers in conversation %d", convA)
	}
	if p := positions(fb); len(p) != 1 || p[0] != 1 {
		t.Fatalf("second customer's queue positions = %v, want [1]", p)
	}

	// A second connection of the waiting customer hears its place right
	// after the welcome.
	b2, wb2 := e.customer(frame{"device_token": wb.str("device_token")})
	if cv := conversationOf(wb2); cv["id"] != float64(convB) || cv["status"] != "new" {
		t.Fatalf("reconnect welcome conversation = %v, want %d new", cv, convB)
	}
	if f, err := b2.read(); err != nil || f.str("type") != "queue" || f.int("position") != 1 {
		t.Fatalf("first frame after the reconnect's welcome = %v (%v), want queue 1", f, err)
	}

	// An agent takes the first chat.
	id := e.agent.ID
	if _, err := e.tickets.Update(ctx, e.agentActor(), convA, tickets.Patch{AssigneeID: &id}); err != nil {
		t.Fatal(err)
	}
	if f := a.next("queue"); f.int("position") != -1 {
		t.Fatalf("taken chat's queue frame = %v, want -1", f)
	}
	for i, c := range []*client{b, b2} {
		if f := c.next("queue"); f.int("position") != 0 {
			t.Fatalf("waiting customer's connection %d: queue frame = %v, want 0", i, f)
		}
	}
}

// An agent solving the chat sends a conversation frame with status solved
// (and the chat leaves the line); the customer's next send opens a new
// conversation, announced with its own conversation frame.
func TestConversationSolvedThenNewOnSend(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	ctx := context.Background()
	c, _ := e.customer(nil)
	c.send(frame{"type": "send", "client_id": "s-1", "text": "My deposit is missing"})
	f1 := c.await("ack, message and conversation", has("ack", "message", "conversation"))
	ack1 := ofType(f1, "ack")[0]
	conv1 := ack1.int("conversation_id")
	if cv := conversationOf(ofType(f1, "conversation")[0]); cv["id"] != float64(conv1) || cv["status"] != "new" {
		t.Fatalf("opening conversation frame = %v, want id %d status new", cv, conv1)
	}

	solved := desk.StatusSolved
	if _, err := e.tickets.Update(ctx, e.agentActor(), conv1, tickets.Patch{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	f2 := c.await("conversation solved and queue -1", func(fs []frame) bool {
		p := positions(fs)
		return len(ofType(fs, "conversation")) > 0 && len(p) > 0 && p[len(p)-1] == -1
	})
	convs := ofType(f2, "conversation")
	cv := conversationOf(convs[0])
	if len(convs) != 1 || cv["id"] != float64(conv1) || cv["status"] != "solved" || cv["last_seq"] != float64(1) ||
		cv["ref"] == "" || cv["ref"] == nil {
		t.Fatalf("conversation frames after solving = %v, want one: id %d, status solved, last_seq 1, a ref", convs, conv1)
	}
	if p := positions(f2); !(len(p) == 1 && p[0] == -1) && !(len(p) == 2 && p[0] == 0 && p[1] == -1) {
		t.Fatalf("queue positions after solving = %v, want [-1]", p)
	}

	// The next send opens a new conversation.
	c.send(frame{"type": "send", "client_id": "s-2", "text": "Another question"})
	f3 := c.await("ack, message and conversation", has("ack", "message", "conversation"))
	ack2, msg2 := ofType(f3, "ack")[0], ofType(f3, "message")[0]
	conv2 := ack2.int("conversation_id")
	if conv2 <= conv1 || ack2.int("seq") != 1 || ack2["duplicate"] != false || ack2.str("client_id") != "s-2" {
		t.Fatalf("ack after solve = %v, want a new conversation (> %d) at seq 1", ack2, conv1)
	}
	if msg2.int("conversation_id") != conv2 || msg2.int("seq") != 1 || msg2.str("client_id") != "s-2" {
		t.Fatalf("echo after solve = %v, want conversation %d seq 1", msg2, conv2)
	}
	cv2 := conversationOf(ofType(f3, "conversation")[0])
	if cv2["id"] != float64(conv2) || cv2["status"] != "new" || cv2["ref"] == cv["ref"] {
		t.Fatalf("new conversation frame = %v, want id %d status new with its own ref", cv2, conv2)
	}
}

// protocol.md: "Resending a client_id that was already stored never creates
// a second message: the server answers with the original ack." A client
// whose ack was lost may resend after the agent solved the chat; the resend
// must not open a new conversation with a second copy.
func TestResendAfterSolveIsDuplicate(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	ctx := context.Background()
	c, w := e.customer(nil)
	c.send(frame{"type": "send", "client_id": "lost-ack", "text": "Withdrawal stuck"})
	ack, _ := c.ackAndMessage()
	conv := ack.int("conversation_id")
	solved := desk.StatusSolved
	if _, err := e.tickets.Update(ctx, e.agentActor(), conv, tickets.Patch{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	c.await("conversation solved", func(fs []frame) bool {
		cs := ofType(fs, "conversation")
		return len(cs) > 0 && conversationOf(cs[len(cs)-1])["status"] == "solved"
	})
	c.send(frame{"type": "send", "client_id": "lost-ack", "text": "Withdrawal stuck"})
	a := c.next("ack")
	if a["duplicate"] != true || a.int("conversation_id") != conv || a.int("seq") != ack.int("seq") {
		t.Fatalf("resending client_id %q after conversation %d was solved answered %v, want the original ack "+
			"(duplicate true, conversation %d, seq %d), never a second copy in a new conversation", "lost-ack", conv, a, conv, ack.int("seq"))
	}
	if cur, err := e.tickets.CurrentChat(ctx, contactID(w)); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("the resend opened conversation %d (err %v)", cur.ID, err)
	}
}

// The per-customer connection limit closes the oldest connection with 4010
// "replaced"; the newer ones stay open.
func TestReplacedOldestConnection(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{MaxConnsPerContact: 2})
	c1, w1 := e.customer(nil)
	dt := w1.str("device_token")
	c2, w2 := e.customer(frame{"device_token": dt})
	if contactID(w2) != contactID(w1) {
		t.Fatalf("device token gave contact %d, want %d", contactID(w2), contactID(w1))
	}
	c3, _ := e.customer(frame{"device_token": dt})
	if _, ce := c1.closeFrame(); ce.Code != CloseReplaced || ce.Reason != "replaced" {
		t.Fatalf("oldest connection closed with %d %q, want 4010 \"replaced\"", ce.Code, ce.Reason)
	}
	c2.roundTrip()
	c3.roundTrip()

	// One more: now c2 is the oldest.
	c4, _ := e.customer(frame{"device_token": dt})
	if _, ce := c2.closeFrame(); ce.Code != CloseReplaced || ce.Reason != "replaced" {
		t.Fatalf("second-oldest connection closed with %d %q, want 4010 \"replaced\"", ce.Code, ce.Reason)
	}
	c3.roundTrip()
	c4.roundTrip()
	// Another customer is not affected by this one's limit.
	other, _ := e.customer(nil)
	other.roundTrip()
	c3.roundTrip()
}

// A client that answers no WebSocket ping is closed with 1001 "heartbeat
// timeout" after at most 2 × the interval; one that keeps reading (so its
// library answers the pings) outlives several intervals.
func TestHeartbeatTimeout(t *testing.T) {
	const interval = 300 * time.Millisecond
	e := newEnv(t, t.TempDir(), Config{HeartbeatInterval: interval})

	// The live client reads all the time in its own goroutine.
	var pings atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/chat/v1/ws"
	live, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{Subprotocol},
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer live.CloseNow()
	b, _ := json.Marshal(hello(nil))
	if err := live.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	liveFrames := make(chan []byte, 16)
	liveErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := live.Read(context.Background())
			if err != nil {
				liveErr <- err
				return
			}
			select {
			case liveFrames <- b:
			default:
			}
		}
	}()

	// The silent client reads its welcome, then nothing: its pings stay
	// unanswered.
	silent, ws := e.customer(nil)
	if ws["heartbeat_sec"] != float64(1) {
		t.Fatalf("welcome heartbeat_sec = %v, want 1 (the minimum)", ws["heartbeat_sec"])
	}
	silentID := contactID(ws)
	start := time.Now()
	waitFor(t, "the silent connection to be closed", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		for _, cc := range e.srv.byContact[silentID] {
			if !cc.closed.Load() {
				return false
			}
		}
		return true
	})
	took := time.Since(start)
	if _, ce := silent.closeFrame(); ce.Code != websocket.StatusGoingAway || ce.Reason != "heartbeat timeout" {
		t.Fatalf("silent client closed with %d %q, want 1001 \"heartbeat timeout\"", ce.Code, ce.Reason)
	}
	// The ping may have left just before the welcome was read: a margin.
	if took < 3*interval/2 {
		t.Fatalf("closed after %v, well before the 2 × %v the protocol allows", took, interval)
	}

	// The live client has answered several rounds of pings by now and is
	// still served.
	waitFor(t, "the live client to answer 4 heartbeats", func() bool { return pings.Load() >= 4 })
	select {
	case err := <-liveErr:
		t.Fatalf("live client was closed: %v", err)
	default:
	}
	b, _ = json.Marshal(frame{"type": "ping"})
	if err := live.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case b := <-liveFrames:
			if strings.Contains(string(b), `"pong"`) {
				return
			}
		case err := <-liveErr:
			t.Fatalf("live client was closed: %v", err)
		case <-ctx.Done():
			t.Fatal("no pong for the live client")
		}
	}
}

// A customer's read receipt reaches the agent console as {"type":"read",
// "ticket_id","seq","author":{"kind":"contact","name"}}; a read before the
// customer has any conversation is dropped.
func TestCustomerReadReceiptReachesAgent(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	ag := e.dial("/agent/ws")
	ag.roundTrip() // the agent's subscription exists before its reader runs
	c, w := e.customer(nil)
	name := w["contact"].(map[string]any)["name"]

	c.send(frame{"type": "read", "seq": 99}) // no conversation yet
	c.send(frame{"type": "send", "client_id": "r-1", "text": "hi"})
	ack, _ := c.ackAndMessage()
	conv := ack.int("conversation_id")
	c.send(frame{"type": "read", "seq": 1})

	f := ag.next("read")
	au, _ := f["author"].(map[string]any)
	if f.int("ticket_id") != conv || f.int("seq") != 1 || au["kind"] != "contact" || au["name"] != name {
		t.Fatalf("agent read frame = %v, want ticket %d seq 1 by contact %v", f, conv, name)
	}
}

// Flooding send frames: the sends over the burst are refused with an error
// rate_limited carrying their client_id, then the connection is closed with
// 4008 "rate limited"; only the acknowledged sends were stored.
func TestSendFloodRateLimited(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	c, w := e.customer(nil)
	const sends = 60
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < sends; i++ {
			b, _ := json.Marshal(frame{"type": "send", "client_id": fmt.Sprintf("f-%02d", i), "text": "spam"})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := c.ws.Write(ctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		}
	}()
	fs, ce := c.closeFrame()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("flood writer did not stop")
	}
	if ce.Code != CloseRateLimited || ce.Reason != "rate limited" {
		t.Fatalf("closed with %d %q, want 4008 \"rate limited\"", ce.Code, ce.Reason)
	}
	// The answers are acks for a prefix of the sends, then errors for the
	// following ones, each in order.
	next, acked, refused := 0, 0, 0
	for _, f := range fs {
		switch f.str("type") {
		case "ack":
			if refused > 0 || f.str("client_id") != fmt.Sprintf("f-%02d", next) {
				t.Fatalf("ack %v out of order (acked %d, refused %d)", f, acked, refused)
			}
			acked++
		case "error":
			if f.str("code") != desk.ERateLimited || f.str("client_id") != fmt.Sprintf("f-%02d", next) {
				t.Fatalf("error %v, want rate_limited for f-%02d", f, next)
			}
			refused++
		default:
			continue
		}
		next++
	}
	if acked < 10 || refused == 0 || next >= sends {
		t.Fatalf("%d acked, %d refused of %d sends before the close: want at least the burst of 10 acked, "+
			"some refused and the rest cut off", acked, refused, sends)
	}
	c2, w2 := e.customer(frame{"device_token": w.str("device_token")})
	if cv := conversationOf(w2); cv == nil || cv["last_seq"] != float64(acked) {
		t.Fatalf("after the flood the conversation is %v, want last_seq %d (only the acknowledged sends)", cv, acked)
	}
	c2.roundTrip()
}

// The upload endpoint answers 413 too_large over the attachment limit (and
// accepts a file of exactly the limit), and 401 without a valid session.
func TestUploadLimitsAndSessions(t *testing.T) {
	const limit = 4 << 10
	e := newEnv(t, t.TempDir(), Config{})
	// A second server on the same store with a small attachment limit.
	at, err := attach.New(t.TempDir(), e.st, attach.Options{MaxSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	small := *e
	small.srv = New(Config{SiteKey: "demo", IdentitySecret: secret, AllowedOrigins: []string{"*"}, WriteTimeout: 2 * time.Second},
		Deps{Store: e.st, Tickets: e.tickets, Hub: e.hub, Attach: at, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	mux := http.NewServeMux()
	small.srv.Register(mux)
	small.http = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		small.srv.Shutdown(ctx)
		small.http.Close()
	})
	_, w := small.customer(nil)
	session := w.str("session")

	upload := func(auth string, data []byte) (int, frame) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "notes.txt")
		fw.Write(data)
		mw.Close()
		req, _ := http.NewRequest("POST", small.http.URL+"/chat/v1/attachments", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var f frame
		if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
			t.Fatalf("status %d: body is not JSON: %v", resp.StatusCode, err)
		}
		return resp.StatusCode, f
	}
	text := func(n int) []byte { return bytes.Repeat([]byte("a"), n) }

	if code, f := upload("Bearer "+session, text(limit)); code != http.StatusCreated || f.int("size") != limit || !strings.HasPrefix(f.str("content_type"), "text/plain") {
		t.Fatalf("upload of exactly the limit: %d %v", code, f)
	}
	for _, n := range []int{limit + 1, limit + 200<<10} { // over the file limit; over the envelope too
		if code, f := upload("Bearer "+session, text(n)); code != http.StatusRequestEntityTooLarge || f.str("type") != "error" || f.str("code") != desk.ETooLarge {
			t.Fatalf("upload of %d bytes: %d %v, want 413 too_large", n, code, f)
		}
	}

	// 401: no session, a garbage one, a tampered one, and a genuine one of
	// another server (another session secret).
	tampered := []byte(session)
	tampered[len(tampered)-2] ^= 1
	_, wOther := e.customer(nil)
	for _, auth := range []string{"", "Bearer ", "Bearer cs_nope", "Bearer " + string(tampered), "Bearer " + wOther.str("session"), session} {
		if code, f := upload(auth, text(10)); code != http.StatusUnauthorized || f.str("code") != desk.EUnauthorized {
			t.Fatalf("upload with Authorization %q: %d %v, want 401 unauthorized", auth, code, f)
		}
	}
	// The session still works (the 401s were not a side effect of it).
	if code, f := upload("Bearer "+session, text(10)); code != http.StatusCreated {
		t.Fatalf("upload with the session after the refusals: %d %v", code, f)
	}
}
