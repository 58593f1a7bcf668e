package chat

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
)

// TestCrossOriginAttachments: the widget runs on the exchange's site, not on
// Custos's: an allowed origin passes the preflight and reads the responses,
// and the download may be embedded cross-site; any other origin is told no.
func TestCrossOriginAttachments(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AllowedOrigins: []string{"exchange.example", "*.exchange.example"}})
	_, w := e.customer(nil)
	session := w.str("session")

	do := func(method, path, origin string, hdr map[string]string, body io.Reader) *http.Response {
		req, _ := http.NewRequest(method, e.http.URL+path, body)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r
	}
	pre := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://exchange.example", true},
		{"https://app.exchange.example", true},
		{"https://exchange.example.evil.test", false},
		{"https://evil.test", false},
		{"null", false},
	} {
		r := do("OPTIONS", "/chat/v1/attachments", tc.origin, pre, nil)
		got := r.Header.Get("Access-Control-Allow-Origin")
		if r.StatusCode != 204 || (got == tc.origin) != tc.ok || (!tc.ok && got != "") {
			t.Errorf("preflight from %s: %d allow-origin=%q, want allowed=%v", tc.origin, r.StatusCode, got, tc.ok)
		}
		if tc.ok && (r.Header.Get("Access-Control-Allow-Headers") == "" || r.Header.Get("Access-Control-Allow-Credentials") != "") {
			t.Errorf("preflight from %s: headers %v", tc.origin, r.Header)
		}
	}
	// A preflight for another method is not granted.
	if r := do("OPTIONS", "/chat/v1/attachments", "https://exchange.example", map[string]string{"Access-Control-Request-Method": "DELETE"}, nil); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("DELETE preflight granted")
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "shot.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"))
	mw.Close()
	r := do("POST", "/chat/v1/attachments", "https://exchange.example",
		map[string]string{"Content-Type": mw.FormDataContentType(), "Authorization": "Bearer " + session}, &body)
	if r.StatusCode != 201 || r.Header.Get("Access-Control-Allow-Origin") != "https://exchange.example" {
		t.Fatalf("upload: %d %v", r.StatusCode, r.Header)
	}
	// The same upload answered to a stranger's page carries no grant.
	r = do("POST", "/chat/v1/attachments", "https://evil.test", map[string]string{"Authorization": "Bearer " + session}, nil)
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("error response granted to evil.test: %v", r.Header)
	}
}

// TestCustomerDownloadIsCrossOrigin: the chat download may be embedded by
// the exchange's page; the console's download stays same-site.
func TestCustomerDownloadIsCrossOrigin(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	c, w := e.customer(nil)
	session := w.str("session")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "note.txt")
	fw.Write([]byte("deposit tx 0xabc"))
	mw.Close()
	req, _ := http.NewRequest("POST", e.http.URL+"/chat/v1/attachments", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("upload: %v %v", resp, err)
	}
	var att frame
	decodeJSON(t, resp.Body, &att)
	resp.Body.Close()
	c.send(frame{"type": "send", "client_id": "f1", "attachments": []string{att.str("id")}})
	c.ackAndMessage()
	r, err := http.Get(e.http.URL + att.str("url") + "?session=" + session)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || string(b) != "deposit tx 0xabc" || r.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" ||
		r.Header.Get("Content-Disposition") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %q %v", r.StatusCode, b, r.Header)
	}
}

func decodeJSON(t *testing.T, r io.Reader, v any) {
	t.Helper()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatal(err)
	}
}
