package chat

import (
	"strings"
	"testing"
	"time"

	"custos/internal/auth"
	"custos/internal/desk"
)

// waitRechecks waits until the console socket's session was checked n more
// times.
func (e *env) waitRechecks(n int64) {
	e.t.Helper()
	want := e.rechecks.Load() + n
	deadline := time.Now().Add(5 * time.Second)
	for e.rechecks.Load() < want {
		if time.Now().After(deadline) {
			e.t.Fatalf("session rechecked %d times, want %d", e.rechecks.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAgentSocketFollowsSession: a console socket sees tickets as its
// session allows now, not as it allowed at the handshake; a database blip
// keeps it; a session that ended closes it with 4001.
func TestAgentSocketFollowsSession(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AgentRecheck: 20 * time.Millisecond})
	admin := e.agent
	outsider := desk.Agent{ID: admin.ID + 100, Role: desk.RoleAgent, TeamIDs: []int64{424242}}
	a := e.dial("/agent/ws")

	// Demoted to an agent of another team: the next chat is not theirs.
	e.agentSession.Store(func() (auth.Principal, error) { return auth.Principal{Agent: &outsider}, nil })
	e.waitRechecks(2)
	c, _ := e.customer(nil)
	c.send(frame{"type": "send", "client_id": "hidden-1", "text": "not for the outsider"})
	c.next("ack")

	// A transient database error changes nothing, and the role comes back.
	e.agentSession.Store(func() (auth.Principal, error) {
		return auth.Principal{}, desk.Errorf(desk.EUnavailable, "database down")
	})
	e.waitRechecks(2)
	e.agentSession.Store(func() (auth.Principal, error) { return auth.Principal{Agent: &admin}, nil })
	e.waitRechecks(2)
	c.send(frame{"type": "send", "client_id": "shown-1", "text": "for the admin"})
	c.next("ack")
	// The first message frame the console gets is the one sent after the
	// role came back: the earlier one was filtered by the demoted session.
	if f := a.next("message"); f["message"].(map[string]any)["client_id"] != "shown-1" {
		t.Fatalf("first message on the console: %v", f)
	}

	// Logged out elsewhere: closed with 4001 within a check.
	e.agentSession.Store(func() (auth.Principal, error) {
		return auth.Principal{}, desk.Errorf(desk.EUnauthorized, "authentication required")
	})
	code, reason := a.closeCode()
	if code != CloseUnauthorized || !strings.Contains(reason, "unauthorized: session ended") {
		t.Fatalf("close %d %q, want 4001", code, reason)
	}
	if got := e.srv.CloseCounts()[int(CloseUnauthorized)]; got != 1 {
		t.Fatalf("4001 closes counted: %d", got)
	}
}
