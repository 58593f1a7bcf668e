package attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"custos/internal/desk"
	"custos/internal/store"
)

// Blobs keeps attachment bytes by id: on the file system (FSBlobs, one
// node) or in the database (DBBlobs, several nodes); object storage (S3 and
// friends) fits behind the same three methods.
type Blobs interface {
	// Put stores everything r yields under id, durably, before returning
	// nil. If r fails, nothing is left behind and r's error is returned
	// (wrapped).
	Put(ctx context.Context, id string, r io.Reader) error
	// Open returns the bytes of id; a missing id is desk.ErrNotFound.
	Open(ctx context.Context, id string) (io.ReadSeekCloser, error)
	// Delete removes id; deleting a missing id is not an error.
	Delete(ctx context.Context, id string) error
}

// FSBlobs stores blobs as files under Root/ab/cd/<id>, where ab and cd are
// characters of the id after its prefix, so no directory grows past a few
// thousand entries.
type FSBlobs struct {
	Root string
}

func (b FSBlobs) path(id string) string {
	k := id[len(idPrefix):]
	return filepath.Join(b.Root, k[0:2], k[2:4], id)
}

// Put writes to a temporary file beside the target, fsyncs it and renames
// it into place, so a crash never leaves a half-written blob under its id.
func (b FSBlobs) Put(ctx context.Context, id string, r io.Reader) (err error) {
	if !validID(id) {
		return desk.Errorf(desk.EInvalid, "bad attachment id")
	}
	final := b.path(id)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("attach: mkdir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+id+"-*")
	if err != nil {
		return fmt.Errorf("attach: create temp: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("attach: write blob: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("attach: sync blob: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("attach: close blob: %w", err)
	}
	if err = os.Rename(tmp, final); err != nil {
		return fmt.Errorf("attach: rename blob: %w", err)
	}
	// The rename itself must survive a crash too.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Open opens the blob file.
func (b FSBlobs) Open(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	if !validID(id) {
		return nil, desk.NotFound("attachment")
	}
	f, err := os.Open(b.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, desk.NotFound("attachment")
	}
	if err != nil {
		return nil, fmt.Errorf("attach: open blob: %w", err)
	}
	return f, nil
}

// Delete removes the blob file.
func (b FSBlobs) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	err := os.Remove(b.path(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("attach: delete blob: %w", err)
	}
	return nil
}

// ctxReader stops a long copy when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// DBBlobs keeps blobs in the database (table attachment_blobs), for several
// nodes that share the database but not a disk: an upload received by one
// node is served by any. A blob is read whole into memory on Put and on
// Open, which the upload limit (DefaultMaxSize) keeps small.
type DBBlobs struct {
	St store.Store
}

// Put reads r to its end and stores it in one write: committed means
// durable, as with FSBlobs' fsync and rename.
func (b DBBlobs) Put(ctx context.Context, id string, r io.Reader) error {
	if !validID(id) {
		return desk.Errorf(desk.EInvalid, "bad attachment id")
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("attach: read blob: %w", err)
	}
	if err := b.St.Write(ctx, func(tx store.Tx) error { return tx.PutBlob(ctx, id, data) }); err != nil {
		return fmt.Errorf("attach: store blob: %w", err)
	}
	return nil
}

// Open loads the blob.
func (b DBBlobs) Open(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	if !validID(id) {
		return nil, desk.NotFound("attachment")
	}
	var data []byte
	err := b.St.Read(ctx, func(tx store.Tx) error {
		var err error
		data, err = tx.GetBlob(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

// Delete removes the blob.
func (b DBBlobs) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	return b.St.Write(ctx, func(tx store.Tx) error { return tx.DeleteBlob(ctx, id) })
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
