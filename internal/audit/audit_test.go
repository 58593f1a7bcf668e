package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"custos/internal/audit"
	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/sqlite"
)

// newChain opens a fresh database holding n audit entries.
func newChain(t *testing.T, n int) (store.Store, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var st store.Store = db
	a := desk.Agent{ID: 1, Name: "Ann", Role: desk.RoleAdmin}
	err = db.Write(ctx, func(tx store.Tx) error {
		for i := range n {
			e := auth.AuditEntry(auth.Principal{Agent: &a, IP: "192.0.2.1"}, "ticket.update", fmt.Sprintf("ticket:%d", i), map[string]int{"i": i})
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, db
}

func TestVerifyGoodChain(t *testing.T) {
	for _, tc := range []struct{ entries, page int }{
		{0, 0}, {1, 3}, {10, 3}, {9, 3}, {10, 0}, {10, 1}, {10, 100},
	} {
		st, _ := newChain(t, tc.entries)
		res, err := audit.Verify(context.Background(), st, tc.page)
		if err != nil || !res.OK || res.Checked != int64(tc.entries) || res.BadID != 0 {
			t.Errorf("%d entries, page %d: %+v, %v", tc.entries, tc.page, res, err)
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sql     string
		badID   int64
		reason  string
		checked int64
	}{
		{"edited detail", `UPDATE audit SET detail = '{"i":99}' WHERE id = 5`, 5, "edited", 4},
		{"edited actor", `UPDATE audit SET actor_name = 'Mallory' WHERE id = 1`, 1, "edited", 0},
		{"edited and rehashed", `UPDATE audit SET hash = 'x' || hash WHERE id = 7`, 7, "", 6},
		{"deleted middle", `DELETE FROM audit WHERE id = 6`, 7, "deleted", 5},
		{"deleted first", `DELETE FROM audit WHERE id = 1`, 2, "deleted", 0},
		{"deleted at page boundary", `DELETE FROM audit WHERE id = 4`, 5, "deleted", 3},
		{"last entry edited", `UPDATE audit SET target = 'ticket:0' WHERE id = 10`, 10, "edited", 9},
		{"last entry deleted", `DELETE FROM audit WHERE id = 10`, 10, "missing at the end", 9},
		{"last three deleted", `DELETE FROM audit WHERE id >= 8`, 8, "missing at the end", 7},
		{"all deleted", `DELETE FROM audit`, 1, "missing at the end", 0},
		{"last replaced by a forged one", `UPDATE audit SET hash = 'f00d' WHERE id = 10`, 10, "", 9},
		{"reordered", `UPDATE audit SET id = 100 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 4; UPDATE audit SET id = 4 WHERE id = 100`, 3, "", 2},
	} {
		st, db := newChain(t, 10)
		for _, q := range strings.Split(tc.sql, "; ") {
			if _, err := db.SQL().Exec(q); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		res, err := audit.Verify(context.Background(), st, 3)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.OK || res.BadID != tc.badID || !strings.Contains(res.Reason, tc.reason) || res.Checked != tc.checked {
			t.Errorf("%s: %+v; want bad id %d (%s), checked %d", tc.name, res, tc.badID, tc.reason, tc.checked)
		}
	}
}

func TestVerifyCancelled(t *testing.T) {
	st, _ := newChain(t, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := audit.Verify(ctx, st, 2); err == nil {
		t.Fatal("cancelled verify returned no error")
	}
}
