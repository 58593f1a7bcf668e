package desk

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// AuditHash is the hash that links entry e into the chain: sha256 over
// PrevHash and every field but Hash, each length-prefixed so that no two
// different entries encode the same. Time is UTC with microseconds (what both
// databases keep).
func AuditHash(e AuditEntry) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(e.PrevHash)
	field(strconv.FormatInt(e.ID, 10))
	field(e.At.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"))
	field(string(e.ActorKind))
	field(strconv.FormatInt(e.ActorID, 10))
	field(e.ActorName)
	field(e.Action)
	field(e.Target)
	field(e.Detail)
	field(e.IP)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyChain checks entries (in ID order, starting after an entry whose
// hash is prevHash and whose ID is prevID) and returns the ID of the first
// bad entry and why, or 0 and "" when all are good. A gap in IDs (deleted
// entry), a wrong PrevHash (reordered or removed) and a wrong Hash (edited)
// are all caught.
func VerifyChain(prevID int64, prevHash string, entries []AuditEntry) (badID int64, reason string) {
	for _, e := range entries {
		switch {
		case e.ID != prevID+1:
			return e.ID, "expected entry " + strconv.FormatInt(prevID+1, 10) + " (an entry was deleted or reordered)"
		case e.PrevHash != prevHash:
			return e.ID, "prev_hash does not match the entry before (deleted or reordered)"
		case AuditHash(e) != e.Hash:
			return e.ID, "hash does not match the content (entry edited)"
		}
		prevID, prevHash = e.ID, e.Hash
	}
	return 0, ""
}
