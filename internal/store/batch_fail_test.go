package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"custos/internal/desk"
	"custos/internal/store"
)

var errCommit = errors.New("commit failed: disk I/O error")

// failingCommit is a real SQLite store whose Write, while fail is set, runs
// the whole transaction (every savepoint of the batch succeeds) and then
// fails as a commit would: the transaction is rolled back and the error
// returned. From the Batcher's side this is exactly a failed COMMIT.
type failingCommit struct {
	store.Store
	fail   atomic.Bool
	writes atomic.Int64
}

func (f *failingCommit) Write(ctx context.Context, fn func(store.Tx) error) error {
	f.writes.Add(1)
	if !f.fail.Load() {
		return f.Store.Write(ctx, fn)
	}
	return f.Store.Write(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCommit
	})
}

func createContact(ctx context.Context, name string) func(store.Tx) error {
	return func(tx store.Tx) error {
		c := desk.Contact{Name: name, ExternalUID: "uid-" + name}
		if err := c.Validate(); err != nil {
			return err
		}
		return tx.CreateContact(ctx, &c)
	}
}

func countContacts(t *testing.T, b *store.Batcher) int {
	t.Helper()
	ctx := context.Background()
	var n int
	if err := b.Read(ctx, func(tx store.Tx) error {
		cs, err := tx.ListContacts(ctx, store.ContactFilter{Limit: 500})
		n = len(cs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// When a batch's commit fails, every caller of that batch gets an error
// (none is told its work is durable) and nothing of the batch is stored;
// the writer then goes on committing later batches.
func TestBatcherCommitFailureFailsWholeBatch(t *testing.T) {
	_, db := openBatcher(t)
	ctx := context.Background()
	fc := &failingCommit{Store: db}
	const n = 24
	// MaxBatch n with a long linger: the writer waits for all n writes and
	// commits them as one batch.
	b := store.NewBatcher(fc, store.BatchOptions{MaxBatch: n, MaxWait: 5 * time.Second})
	t.Cleanup(func() { b.Close() })
	fc.fail.Store(true)

	errOwn := errors.New("caller failed")
	errs := writeAll(t, b, n, func(i int) error {
		if i == 5 {
			return errOwn // its own savepoint fails too
		}
		return nil
	})
	if batches, writes := b.Stats(); batches != 1 || writes != n || fc.writes.Load() != 1 {
		t.Fatalf("%d batches, %d writes, %d store transactions: want all %d writes in one transaction", batches, writes, fc.writes.Load(), n)
	}
	for i, err := range errs {
		switch {
		case i == 5 && !errors.Is(err, errOwn) && !errors.Is(err, errCommit):
			t.Errorf("writer %d (its own work failed): %v", i, err)
		case i != 5 && !errors.Is(err, errCommit):
			t.Errorf("writer %d: err %v, want the commit error", i, err)
		}
	}
	if got := countContacts(t, b); got != 0 {
		t.Fatalf("%d contacts stored by a batch whose commit failed", got)
	}

	// Once commits work again, the same writer commits the next batch.
	fc.fail.Store(false)
	for i, err := range writeAll(t, b, n, func(int) error { return nil }) {
		if err != nil {
			t.Fatalf("writer %d after the failure: %v", i, err)
		}
	}
	if got := countContacts(t, b); got != n {
		t.Fatalf("%d contacts after a successful batch of %d", got, n)
	}

	// A lone write (the batcher's single-request path) fails the same way.
	b2 := store.NewBatcher(fc, store.BatchOptions{})
	t.Cleanup(func() { b2.Close() })
	fc.fail.Store(true)
	if err := b2.Write(ctx, createContact(ctx, "alone")); !errors.Is(err, errCommit) {
		t.Fatalf("lone write with a failing commit: %v", err)
	}
	if got := countContacts(t, b); got != n {
		t.Fatalf("%d contacts after a lone failed write, want %d", got, n)
	}
}

// writeAll runs n concurrent writes on b, each creating a contact and then
// returning then(i), and returns their errors. It fails the test if they
// are not all answered within 20 s.
func writeAll(t *testing.T, b *store.Batcher, n int, then func(i int) error) []error {
	t.Helper()
	ctx := context.Background()
	prefix := fmt.Sprintf("w%d-", time.Now().UnixNano())
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			create := createContact(ctx, fmt.Sprint(prefix, i))
			errs[i] = b.Write(ctx, func(tx store.Tx) error {
				if err := create(tx); err != nil {
					return err
				}
				return then(i)
			})
		}(i)
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		t.Fatal("writers still waiting after 20 s")
	}
	return errs
}
