package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/sqlite"
)

func openBatcher(t *testing.T) (*store.Batcher, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := store.NewBatcher(db, store.BatchOptions{})
	t.Cleanup(func() { b.Close(); db.Close() })
	return b, db
}

// Concurrent writers share commits, and one caller's failure (error or
// panic) rolls back only its own work.
func TestBatcherIsolatesFailures(t *testing.T) {
	b, _ := openBatcher(t)
	ctx := context.Background()
	const n = 120
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = b.Write(ctx, func(tx store.Tx) error {
				c := desk.Contact{Name: fmt.Sprintf("c%d", i), ExternalUID: fmt.Sprintf("uid-%d", i)}
				c.Validate()
				if err := tx.CreateContact(ctx, &c); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errors.New("caller failed")
				case 7:
					panic("caller panicked")
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		wantErr := i%10 == 3 || i%10 == 7
		if (err != nil) != wantErr {
			t.Fatalf("writer %d: err %v, want error %v", i, err, wantErr)
		}
	}
	var got int
	b.Read(ctx, func(tx store.Tx) error {
		cs, err := tx.ListContacts(ctx, store.ContactFilter{Limit: 200})
		got = len(cs)
		for _, c := range cs {
			var i int
			fmt.Sscanf(c.Name, "c%d", &i)
			if i%10 == 3 || i%10 == 7 {
				t.Errorf("failed writer %d's contact was committed", i)
			}
		}
		return err
	})
	if got != n-2*n/10 {
		t.Fatalf("committed %d contacts, want %d", got, n-2*n/10)
	}
	batches, writes := b.Stats()
	if writes != n || batches >= writes {
		t.Fatalf("stats: %d batches for %d writes: no batching happened", batches, writes)
	}
}

func TestBatcherClosed(t *testing.T) {
	b, _ := openBatcher(t)
	b.Close()
	if err := b.Write(context.Background(), func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}
