package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

// TestSweepPresence: an agent whose console is open stays online; one whose
// sessions went quiet for PresenceTimeout goes offline, on the record; a
// second sweep changes nothing.
func TestSweepPresence(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	setPresence := func(id int64, p desk.Presence) {
		t.Helper()
		err := f.svc.st.Write(ctx, func(tx store.Tx) error {
			a, err := tx.GetAgent(ctx, id)
			if err != nil {
				return err
			}
			a.Presence = p
			return tx.UpdateAgent(ctx, &a)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	presence := func(id int64) desk.Presence {
		t.Helper()
		var a desk.Agent
		if err := f.svc.st.Read(ctx, func(tx store.Tx) error {
			var err error
			a, err = tx.GetAgent(ctx, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return a.Presence
	}
	res, err := f.login(LoginInput{Login: "ann", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	setPresence(f.ann.ID, desk.PresenceOnline)
	setPresence(f.admin.ID, desk.PresenceAway) // no session at all

	changed, err := f.svc.SweepPresence(ctx)
	if err != nil || len(changed) != 1 || changed[0].ID != f.admin.ID || presence(f.admin.ID) != desk.PresenceOffline {
		t.Fatalf("first sweep: %+v %v", changed, err)
	}
	if presence(f.ann.ID) != desk.PresenceOnline {
		t.Fatal("ann went offline with a fresh session")
	}
	if e := f.lastAudit(t); e.Action != "agent.presence" || !strings.Contains(e.Detail, "no console open") || e.ActorKind != desk.AuthorSystem {
		t.Fatalf("audit: %+v", e)
	}

	// The console keeps the session seen: ann stays online past the timeout.
	for range 4 {
		f.advance(time.Minute)
		if _, err := f.svc.Authenticate(ctx, cookieRequest("GET", res.Token)); err != nil {
			t.Fatal(err)
		}
	}
	if changed, _ := f.svc.SweepPresence(ctx); len(changed) != 0 {
		t.Fatalf("swept an agent with an open console: %+v", changed)
	}

	// The browser closes: after the timeout, offline.
	f.advance(PresenceTimeout + time.Minute)
	changed, err = f.svc.SweepPresence(ctx)
	if err != nil || len(changed) != 1 || changed[0].ID != f.ann.ID || changed[0].Presence != desk.PresenceOffline {
		t.Fatalf("sweep after the timeout: %+v %v", changed, err)
	}
	if changed, _ := f.svc.SweepPresence(ctx); len(changed) != 0 {
		t.Fatalf("second sweep changed %+v", changed)
	}
}
