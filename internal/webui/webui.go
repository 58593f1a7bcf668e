// Package webui serves the built agent console (a React SPA) and the customer
// widget script, embedded in the binary. scripts/build-web.sh builds
// web/console and web/widget and copies their output into dist/ before
// `go build`; the built files are never committed.
package webui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// UI serves the embedded assets.
type UI struct {
	console fs.FS
	widget  fs.FS
	index   []byte
	built   time.Time
}

// New returns the UI over the embedded files.
func New() *UI {
	console, _ := fs.Sub(dist, "dist/console")
	widget, _ := fs.Sub(dist, "dist/widget")
	u := &UI{console: console, widget: widget, built: time.Now()}
	u.index, _ = fs.ReadFile(console, "index.html")
	return u
}

// Built reports whether the console was built into this binary.
func (u *UI) Built() bool { return len(u.index) > 0 }

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Custos</title>
<p>The agent console is not built into this binary. Run <code>scripts/build-web.sh</code> and rebuild, or use <code>scripts/run.sh</code>.</p>`

// Console serves the SPA: real files under /assets/, index.html for every
// other path so client-side routes survive a reload.
func (u *UI) Console() http.Handler {
	files := http.FileServerFS(u.console)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if p != "" && p != "index.html" {
			if f, err := u.console.Open(p); err == nil {
				f.Close()
				if strings.HasPrefix(p, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(p, "assets/") {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		if !u.Built() {
			w.Write([]byte(notBuilt))
			return
		}
		http.ServeContent(w, r, "index.html", u.built, bytes.NewReader(u.index))
	})
}

// Widget serves /widget.js (any origin may load it) and the demo host page
// at /demo/.
func (u *UI) Widget() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "widget.js"
		ctype := "text/javascript; charset=utf-8"
		switch {
		case r.URL.Path == "/demo/demo.js":
			name = "demo.js"
		case strings.HasPrefix(r.URL.Path, "/demo"):
			name, ctype = "demo.html", "text/html; charset=utf-8"
		}
		b, err := fs.ReadFile(u.widget, name)
		if err != nil {
			http.Error(w, "widget not built: run scripts/build-web.sh", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(w, r, name, u.built, bytes.NewReader(b))
	})
}
