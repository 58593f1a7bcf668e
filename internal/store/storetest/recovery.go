package storetest

import (
	"errors"
	"sync"
	"testing"

	"custos/internal/desk"
	"custos/internal/store"
)

// testRecoveryCodes: codes are per agent, replaced as a set, and spent once,
// even by transactions racing for the same code.
func testRecoveryCodes(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	a := desk.Agent{Login: "a", Role: desk.RoleAgent}
	b := desk.Agent{Login: "b", Role: desk.RoleAgent}
	write(t, s, func(tx store.Tx) error {
		if err := tx.CreateAgent(c, &a, "h"); err != nil {
			return err
		}
		return tx.CreateAgent(c, &b, "h")
	})
	count := func(agentID int64) int {
		t.Helper()
		var n int
		read(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.CountRecoveryCodes(c, agentID)
			return err
		})
		return n
	}
	use := func(agentID int64, hash string) (int, error) {
		var left int
		err := s.Write(c, func(tx store.Tx) error {
			var err error
			left, err = tx.UseRecoveryCode(c, agentID, hash)
			return err
		})
		return left, err
	}
	if n := count(a.ID); n != 0 {
		t.Fatalf("%d codes before any were stored", n)
	}
	write(t, s, func(tx store.Tx) error {
		if err := tx.ReplaceRecoveryCodes(c, a.ID, []string{"h1", "h2", "h3"}); err != nil {
			return err
		}
		// The same hash for another agent is another code.
		return tx.ReplaceRecoveryCodes(c, b.ID, []string{"h1"})
	})
	if na, nb := count(a.ID), count(b.ID); na != 3 || nb != 1 {
		t.Fatalf("counts %d, %d; want 3, 1", na, nb)
	}
	if left, err := use(a.ID, "h2"); err != nil || left != 2 {
		t.Fatalf("use h2 = %d, %v; want 2 left", left, err)
	}
	_, err := use(a.ID, "h2")
	wantIs(t, "spent code", err, desk.ErrNotFound)
	_, err = use(a.ID, "unknown")
	wantIs(t, "unknown code", err, desk.ErrNotFound)
	_, err = use(b.ID, "h3")
	wantIs(t, "another agent's code", err, desk.ErrNotFound)

	// A code spent in a transaction that rolls back is not spent.
	boom := errors.New("boom")
	err = s.Write(c, func(tx store.Tx) error {
		if _, err := tx.UseRecoveryCode(c, a.ID, "h1"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled-back use: %v", err)
	}
	if n := count(a.ID); n != 2 {
		t.Fatalf("%d codes after a rolled-back use, want 2", n)
	}

	// Replacing drops the old set, and only the agent's own.
	write(t, s, func(tx store.Tx) error { return tx.ReplaceRecoveryCodes(c, a.ID, []string{"h4", "h5"}) })
	_, err = use(a.ID, "h1")
	wantIs(t, "replaced code", err, desk.ErrNotFound)
	if na, nb := count(a.ID), count(b.ID); na != 2 || nb != 1 {
		t.Fatalf("counts after replace %d, %d; want 2, 1", na, nb)
	}
	err = s.Write(c, func(tx store.Tx) error { return tx.ReplaceRecoveryCodes(c, a.ID, []string{"h6", "h6"}) })
	wantIs(t, "duplicate code", err, desk.ErrConflict)
	if n := count(a.ID); n != 2 {
		t.Fatalf("%d codes after a failed replace, want the 2 before it", n)
	}
	write(t, s, func(tx store.Tx) error { return tx.ReplaceRecoveryCodes(c, a.ID, nil) })
	if n := count(a.ID); n != 0 {
		t.Fatalf("%d codes after clearing", n)
	}

	// Racing transactions spend one code once.
	write(t, s, func(tx store.Tx) error { return tx.ReplaceRecoveryCodes(c, a.ID, []string{"race", "other"}) })
	const workers = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  int
		errs []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := use(a.ID, "race")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if !errors.Is(err, desk.ErrNotFound) {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent use: %v", errs)
	}
	if won != 1 {
		t.Fatalf("%d transactions spent the same code, want 1", won)
	}
	if n := count(a.ID); n != 1 {
		t.Fatalf("%d codes left after the race, want 1", n)
	}
}
