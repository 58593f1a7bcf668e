// Package audit checks the tamper-evident audit chain. Writing entries is
// the store's job (store.Tx.AppendAudit) and building them auth's
// (auth.AuditEntry); this package only reads, and must never repair a chain:
// a broken chain is evidence.
package audit

import (
	"context"
	"fmt"

	"custos/internal/desk"
	"custos/internal/store"
)

// DefaultPageSize is how many entries Verify reads per transaction.
const DefaultPageSize = 1000

// Result is the outcome of Verify. When OK is false, BadID is the first
// entry that does not fit and Reason says why; Checked counts the entries
// found good before it.
//
// Entries cut off the end of the chain are caught by the head row, which
// every append updates in the same transaction: the walk must reach the
// entry the head names, with the head's hash. Someone who can also rewrite
// the head row can hide a cut: keep Head somewhere else (a log, a ticket)
// and compare.
type Result struct {
	Checked int64  `json:"checked"`
	BadID   int64  `json:"bad_id,omitempty"`
	Reason  string `json:"reason,omitempty"`
	OK      bool   `json:"ok"`
	Head    string `json:"head,omitempty"` // hash of the last good entry
}

// Verify walks the whole chain in pages of pageSize (DefaultPageSize when
// pageSize <= 0), one short read transaction per page so a long walk never
// holds back writers; the chain is append-only, so pages stay consistent.
func Verify(ctx context.Context, st store.Store, pageSize int) (Result, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	var (
		res              Result
		prevID           int64
		prevHash         string
		headID           int64
		headHash         string
		reachedHeadEntry bool
	)
	// The head as of now: entries appended during the walk come after it.
	err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		headID, headHash, err = tx.AuditHead(ctx)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("verify audit chain: %w", err)
	}
	reachedHeadEntry = headID == 0
	// done finishes a walk that found no bad link.
	done := func() (Result, error) {
		if !reachedHeadEntry {
			res.BadID = prevID + 1
			res.Reason = fmt.Sprintf("entries missing at the end: the chain ends at entry %d but its head records entry %d", prevID, headID)
			return res, nil
		}
		res.OK = true
		return res, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("verify audit chain: %w", err)
		}
		var page []desk.AuditEntry
		err := st.Read(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.ListAudit(ctx, prevID, pageSize)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("verify audit chain after entry %d: %w", prevID, err)
		}
		if len(page) == 0 {
			return done()
		}
		if bad, why := desk.VerifyChain(prevID, prevHash, page); bad != 0 {
			for _, e := range page {
				if e.ID == bad {
					break
				}
				res.Checked++
				res.Head = e.Hash
			}
			res.BadID, res.Reason = bad, why
			return res, nil
		}
		for _, e := range page {
			if e.ID == headID {
				if e.Hash != headHash {
					res.Checked += e.ID - prevID - 1
					res.BadID, res.Reason = e.ID, "hash differs from the one the chain head recorded"
					return res, nil
				}
				reachedHeadEntry = true
			}
		}
		last := page[len(page)-1]
		res.Checked += int64(len(page))
		res.Head = last.Hash
		prevID, prevHash = last.ID, last.Hash
		if len(page) < pageSize {
			return done()
		}
	}
}
