// Package attach stores and serves uploaded files (chat screenshots, voice
// notes, PDFs). It decides what a file is from its bytes, never from its name
// or declared type, accepts only an allow-list of inert formats, and serves
// them so that a browser never runs or re-interprets them.
//
// It must never serve anything with a content type it did not sniff itself,
// and never store metadata for bytes that are not durably stored.
package attach

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"custos/internal/desk"
	"custos/internal/store"
)

// EUnsupportedType is the error code for a file whose sniffed type is not on
// the allow-list. The HTTP layer maps it to 415 Unsupported Media Type.
const EUnsupportedType = "unsupported_type"

// DefaultMaxSize is the upload limit when Options leaves it zero.
const DefaultMaxSize = 10 << 20

// MaxName is the longest file name kept, in bytes.
const MaxName = 200

const idPrefix = "at_"

var (
	idRe = regexp.MustCompile(`^at_[a-z2-7]{26}$`)
	b32  = base32.StdEncoding.WithPadding(base32.NoPadding)
)

func validID(id string) bool { return idRe.MatchString(id) }

// Options configures a Service.
type Options struct {
	MaxSize int64            // bytes; 0 = DefaultMaxSize
	Blobs   Blobs            // nil = FSBlobs under DIR/attachments
	Now     func() time.Time // nil = time.Now
}

// Service saves, opens and serves attachments.
type Service struct {
	st    store.Store
	blobs Blobs
	max   int64
	now   func() time.Time
}

// New returns a service keeping blobs under dir/attachments (unless
// opts.Blobs is set) and metadata in st.
func New(dir string, st store.Store, opts Options) (*Service, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Blobs == nil {
		if dir == "" {
			return nil, errors.New("attach: data directory is required")
		}
		opts.Blobs = FSBlobs{Root: filepath.Join(dir, "attachments")}
	}
	return &Service{st: st, blobs: opts.Blobs, max: opts.MaxSize, now: opts.Now}, nil
}

// MaxSize is the upload limit in bytes.
func (s *Service) MaxSize() int64 { return s.max }

// Save stores an upload. The content type is sniffed from the first bytes
// and checked against the allow-list before anything is written; the bytes
// are then streamed to the blob store while being counted and hashed, and
// the metadata row is created only once the blob is durable. If the row
// cannot be created the blob is deleted, so an id in the database always has
// its bytes (a crash between the two leaves at worst an unreferenced blob).
func (s *Service) Save(ctx context.Context, name string, r io.Reader, uploaderKind desk.AuthorKind, uploaderID int64, also ...InTx) (desk.Attachment, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return desk.Attachment{}, fmt.Errorf("attach: read upload: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return desk.Attachment{}, desk.Errorf(desk.EInvalid, "the file is empty")
	}
	ctype, ok := Sniff(head)
	if !ok {
		return desk.Attachment{}, &desk.Error{Code: EUnsupportedType,
			Message: "this kind of file is not accepted (allowed: PNG, JPEG, GIF, WebP, PDF, plain text, MP4, WebM, Ogg, M4A)"}
	}

	id := newID()
	h := sha256.New()
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(head), r), h: h, max: s.max}
	if err := s.blobs.Put(ctx, id, cr); err != nil {
		if cr.tooLarge {
			return desk.Attachment{}, &desk.Error{Code: desk.ETooLarge,
				Message: "the file is larger than " + sizeText(s.max), Err: err}
		}
		return desk.Attachment{}, fmt.Errorf("attach: store blob: %w", err)
	}
	att := desk.Attachment{
		ID:           id,
		Name:         SanitizeName(name),
		ContentType:  ctype,
		Size:         cr.n,
		SHA256:       hex.EncodeToString(h.Sum(nil)),
		UploaderKind: uploaderKind,
		UploaderID:   uploaderID,
		CreatedAt:    s.now().UTC(),
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateAttachment(ctx, &att); err != nil {
			return err
		}
		for _, fn := range also {
			if err := fn(ctx, tx, att); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Detached context: the blob must go even if the request was
		// cancelled, or it is orphaned.
		_ = s.blobs.Delete(context.WithoutCancel(ctx), id)
		return desk.Attachment{}, fmt.Errorf("attach: save metadata: %w", err)
	}
	return att, nil
}

// InTx is extra work a caller of Save commits in the same transaction as the
// attachment's row (an audit entry for an agent's upload).
type InTx func(ctx context.Context, tx store.Tx, a desk.Attachment) error

// Get returns the metadata of id.
func (s *Service) Get(ctx context.Context, id string) (desk.Attachment, error) {
	if !validID(id) {
		return desk.Attachment{}, desk.NotFound("attachment")
	}
	var att desk.Attachment
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		att, err = tx.GetAttachment(ctx, id)
		return err
	})
	if err != nil {
		return desk.Attachment{}, fmt.Errorf("attach: get %s: %w", id, err)
	}
	return att, nil
}

// Open returns the metadata and the bytes of id. The caller closes rc.
func (s *Service) Open(ctx context.Context, id string) (desk.Attachment, io.ReadSeekCloser, error) {
	att, err := s.Get(ctx, id)
	if err != nil {
		return desk.Attachment{}, nil, err
	}
	rc, err := s.blobs.Open(ctx, id)
	if err != nil {
		return desk.Attachment{}, nil, fmt.Errorf("attach: open %s: %w", id, err)
	}
	return att, rc, nil
}

// Serve writes att's bytes with headers that keep the browser from running
// or re-sniffing them: the sniffed type with nosniff, a CSP that forbids
// everything and sandboxes the document, and Content-Disposition inline only
// for images, audio and video. Range requests work (seeking in voice notes).
// Serve does not close rc.
func Serve(w http.ResponseWriter, r *http.Request, att desk.Attachment, rc io.ReadSeeker) {
	h := w.Header()
	h.Set("Content-Type", att.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if h.Get("Cross-Origin-Resource-Policy") == "" {
		// The console's own pages; the chat endpoint opens it up for the
		// widget on the exchange's site.
		h.Set("Cross-Origin-Resource-Policy", "same-site")
	}
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("Content-Disposition", ContentDisposition(att))
	if att.SHA256 != "" {
		h.Set("ETag", `"`+att.SHA256+`"`)
	}
	http.ServeContent(w, r, "", att.CreatedAt, rc)
}

// Serve is the method form of the package function, for callers holding the
// service.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, att desk.Attachment, rc io.ReadSeeker) {
	Serve(w, r, att, rc)
}

// ContentDisposition is "inline" for media the browser renders inertly and
// "attachment" for everything else, with an ASCII fallback name and the
// exact name in RFC 5987 encoding.
func ContentDisposition(att desk.Attachment) string {
	disp := "attachment"
	switch {
	case strings.HasPrefix(att.ContentType, "image/"),
		strings.HasPrefix(att.ContentType, "audio/"),
		strings.HasPrefix(att.ContentType, "video/"):
		disp = "inline"
	}
	name := att.Name
	if name == "" {
		name = "file"
	}
	ascii := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ';' || c == '%' {
			c = '_'
		}
		ascii = append(ascii, c)
	}
	return disp + `; filename="` + string(ascii) + `"; filename*=UTF-8''` + url.PathEscape(name)
}

// SanitizeName keeps a display name safe to store and show: the last path
// element only, valid UTF-8, no control or bidi-override characters, no
// leading dots or spaces, at most MaxName bytes.
func SanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			continue
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			// Bidi overrides make "gpj.exe" display as "exe.jpg".
			continue
		}
		b.WriteRune(r)
	}
	name = strings.TrimLeft(strings.TrimSpace(b.String()), ". ")
	if len(name) > MaxName {
		cut := MaxName
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	if name == "" {
		name = "file"
	}
	return name
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return idPrefix + strings.ToLower(b32.EncodeToString(b))
}

// countingReader hashes and counts what passes and fails once more than max
// bytes have been read.
type countingReader struct {
	r        io.Reader
	h        hash.Hash
	n, max   int64
	tooLarge bool
}

var errTooLarge = errors.New("upload over the size limit")

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if c.n > c.max {
		c.tooLarge = true
		return n, errTooLarge
	}
	return n, err
}

// sizeText writes a limit for people: "10 MiB", "512 KiB", "300 bytes".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
