package attach

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/store/sqlite"
)

// TestDBBlobs: with attachment_store = database the bytes round-trip
// through the database, nothing touches the data directory, refused and
// oversize uploads leave no blob, and a failed metadata write removes its
// blob.
func TestDBBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "custos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := New(dir, db, Options{MaxSize: 4096, Blobs: DBBlobs{St: db}})
	if err != nil {
		t.Fatal(err)
	}
	att, err := s.Save(ctx, "shot.png", bytes.NewReader(pngBytes), desk.AuthorContact, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, rc, err := s.Open(ctx, att.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if got.ContentType != "image/png" || !bytes.Equal(b, pngBytes) {
		t.Fatalf("round trip: %+v %d bytes", got, len(b))
	}
	// Seekable, as Range requests need.
	_, rc, _ = s.Open(ctx, att.ID)
	if _, err := rc.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(rc)
	if !bytes.Equal(rest, pngBytes[4:]) {
		t.Fatal("seek")
	}
	if _, err := os.Stat(filepath.Join(dir, "attachments")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the data directory was used: %v", err)
	}

	_, err = s.Save(ctx, "big.txt", bytes.NewReader(bytes.Repeat([]byte("a"), 4097)), desk.AuthorContact, 1)
	if desk.ErrorCode(err) != desk.ETooLarge || !strings.Contains(err.Error(), "4 KiB") {
		t.Fatalf("oversize: %v", err)
	}
	if _, err := s.Save(ctx, "evil.png", strings.NewReader("<html><script>"), desk.AuthorContact, 1); desk.ErrorCode(err) != EUnsupportedType {
		t.Fatalf("html: %v", err)
	}
	var blobs int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM attachment_blobs`).Scan(&blobs); err != nil || blobs != 1 {
		t.Fatalf("blobs stored: %d %v (want only the accepted one)", blobs, err)
	}

	// The metadata write fails: the blob goes too.
	boom := errors.New("boom")
	_, err = s.Save(ctx, "note.txt", strings.NewReader("txid 0x1"), desk.AuthorContact, 1,
		func(context.Context, store.Tx, desk.Attachment) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("failing InTx: %v", err)
	}
	if err := db.SQL().QueryRow(`SELECT count(*) FROM attachment_blobs`).Scan(&blobs); err != nil || blobs != 1 {
		t.Fatalf("blob of a failed save left behind: %d %v", blobs, err)
	}
	if _, _, err := s.Open(ctx, "at_"+strings.Repeat("Z", 26)); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}
