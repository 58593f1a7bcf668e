package attach

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custos/internal/desk"
	"custos/internal/store/sqlite"
)

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func newService(t *testing.T, max int64) (*Service, string) {
	t.Helper()
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
	s, err := New(dir, db, Options{MaxSize: max})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestSaveAndRefuse(t *testing.T) {
	s, dir := newService(t, 1<<20)
	ctx := context.Background()
	tests := []struct {
		name, file string
		data       []byte
		code       string
		ctype      string
	}{
		{"png", "shot.png", pngBytes, "", "image/png"},
		{"jpeg named exe", "a.exe", append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 100)...), "", "image/jpeg"},
		{"pdf", "x.pdf", []byte("%PDF-1.7\n%...\n"), "", "application/pdf"},
		{"text", "note.txt", []byte("withdrawal txid 0xabc\n"), "", "text/plain; charset=utf-8"},
		{"m4a", "voice.m4a", append([]byte("\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom"), make([]byte, 64)...), "", "audio/mp4"},
		{"mp4", "v.mp4", append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 64)...), "", "video/mp4"},
		{"ogg", "v.ogg", append([]byte("OggS\x00\x02"), make([]byte, 64)...), "", "audio/ogg"},
		{"webm", "v.webm", append([]byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"), make([]byte, 64)...), "", "video/webm"},
		{"webp", "i.webp", append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 64)...), "", "image/webp"},
		{"html as png", "evil.png", []byte("<!DOCTYPE html><script>alert(1)</script>"), EUnsupportedType, ""},
		{"svg", "logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), EUnsupportedType, ""},
		{"svg after text", "a.txt", []byte("hello\n<svg onload=alert(1)>"), EUnsupportedType, ""},
		{"xml", "a.txt", []byte(`<?xml version="1.0"?><x/>`), EUnsupportedType, ""},
		{"exe", "setup.png", append([]byte("MZ\x90\x00"), make([]byte, 100)...), EUnsupportedType, ""},
		{"zip", "a.pdf", []byte("PK\x03\x04\x14\x00\x00\x00"), EUnsupportedType, ""},
		{"empty", "a.txt", nil, desk.EInvalid, ""},
		{"oversize", "big.txt", bytes.Repeat([]byte("a"), 1<<20+1), desk.ETooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			att, err := s.Save(ctx, tt.file, bytes.NewReader(tt.data), desk.AuthorContact, 1)
			if tt.code != "" {
				if desk.ErrorCode(err) != tt.code {
					t.Fatalf("err = %v, want code %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if att.ContentType != tt.ctype || att.Size != int64(len(tt.data)) || len(att.SHA256) != 64 || !strings.HasPrefix(att.ID, "at_") {
				t.Fatalf("attachment = %+v", att)
			}
			got, rc, err := s.Open(ctx, att.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got.ID != att.ID || got.ContentType != tt.ctype {
				t.Fatalf("open = %+v", got)
			}
		})
	}
	// Nothing refused, and no temp file, is left on disk.
	var files []string
	filepath.Walk(filepath.Join(dir, "attachments"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, filepath.Base(p))
		}
		return nil
	})
	if len(files) != 9 {
		t.Fatalf("files on disk: %v", files)
	}
	for _, f := range files {
		if !validID(f) {
			t.Fatalf("stray file %q", f)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	tests := map[string]string{
		"../../etc/passwd":       "passwd",
		`C:\Users\a\shot.png`:    "shot.png",
		"a\x00b\nc.png":          "abc.png",
		"...hidden":              "hidden",
		"":                       "file",
		"invoice\u202egpj.exe":   "invoicegpj.exe",
		strings.Repeat("한", 100): strings.Repeat("한", 66),
		"\xff\xfe.png":           "_.png",
	}
	for in, want := range tests {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeHeaders(t *testing.T) {
	s, _ := newService(t, 1<<20)
	ctx := context.Background()
	for _, tt := range []struct {
		name, file string
		data       []byte
		disp       string
	}{
		{"image inline", "스크린샷 1.png", pngBytes, `inline; filename="____________ 1.png"; filename*=UTF-8''%EC%8A%A4%ED%81%AC%EB%A6%B0%EC%83%B7%201.png`},
		{"pdf attachment", `a"b.pdf`, []byte("%PDF-1.4\n"), `attachment; filename="a_b.pdf"; filename*=UTF-8''a%22b.pdf`},
		{"text attachment", "t.txt", []byte("hi"), `attachment; filename="t.txt"; filename*=UTF-8''t.txt`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			att, err := s.Save(ctx, tt.file, bytes.NewReader(tt.data), desk.AuthorContact, 1)
			if err != nil {
				t.Fatal(err)
			}
			att, rc, err := s.Open(ctx, att.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			w := httptest.NewRecorder()
			s.Serve(w, httptest.NewRequest("GET", "/x", nil), att, rc)
			h := w.Result().Header
			want := map[string]string{
				"Content-Type":            att.ContentType,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; sandbox",
				"Content-Disposition":     tt.disp,
				"Cache-Control":           "private, max-age=86400",
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if !bytes.Equal(w.Body.Bytes(), tt.data) {
				t.Error("body differs")
			}
		})
	}
}
