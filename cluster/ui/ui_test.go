package ui

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func TestServesFiles(t *testing.T) {
	h := newTestHandler(t)
	for _, tc := range []struct{ path, ctype, has string }{
		{"/ui/", "text/html", "<title>vproc console</title>"},
		{"/ui/index.html", "text/html", "<title>vproc console</title>"},
		{"/ui/console.js", "javascript", "/v1/spawn"},
		{"/ui/console.css", "text/css", ".panel"},
	} {
		w := serve(t, h, http.MethodGet, tc.path, nil)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", tc.path, w.Code)
			continue
		}
		if ct := w.Header().Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.has) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.has)
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
	}
}

func TestETagRevalidates(t *testing.T) {
	h := newTestHandler(t)
	w := serve(t, h, http.MethodGet, "/ui/console.js", nil)
	etag := w.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
		t.Fatalf("ETag %q, want a quoted hash", etag)
	}
	if w := serve(t, h, http.MethodGet, "/ui/console.js", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", w.Code)
	}
	if w := serve(t, h, http.MethodGet, "/ui/console.js", map[string]string{"If-None-Match": `"other"`}); w.Code != http.StatusOK {
		t.Errorf("If-None-Match with another ETag: %d, want 200", w.Code)
	}
	if w := serve(t, h, http.MethodHead, "/ui/", nil); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /ui/: %d with %d bytes, want 200 and no body", w.Code, w.Body.Len())
	}
}

func TestErrors(t *testing.T) {
	h := newTestHandler(t)
	if w := serve(t, h, http.MethodGet, "/ui", nil); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to /ui/", w.Code, w.Header().Get("Location"))
	}
	for _, p := range []string{"/ui/nope.js", "/ui/static/index.html", "/other"} {
		if w := serve(t, h, http.MethodGet, p, nil); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
	w := serve(t, h, http.MethodPost, "/ui/", nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/: %d, Allow %q; want 405 with GET, HEAD", w.Code, w.Header().Get("Allow"))
	}
}

func TestNewNeedsIndex(t *testing.T) {
	fsys := fstest.MapFS{"static/app.js": {Data: []byte("x")}}
	if _, err := newHandler(fsys, "static"); err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Errorf("newHandler without index.html: %v, want an error naming it", err)
	}
	if _, err := newHandler(fstest.MapFS{}, "missing"); err == nil {
		t.Error("newHandler over a missing directory: no error")
	}
}

func TestRedirect(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := Redirect(api)
	browser := map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
	if w := serve(t, h, http.MethodGet, "/", browser); w.Code != http.StatusFound || w.Header().Get("Location") != Prefix {
		t.Errorf("a browser's GET /: %d to %q, want 302 to %s", w.Code, w.Header().Get("Location"), Prefix)
	}
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
	}{
		{http.MethodGet, "/", map[string]string{"Accept": "application/json"}},
		{http.MethodGet, "/", nil},
		{http.MethodPost, "/", browser},
		{http.MethodGet, "/v1/procs", browser},
	} {
		if w := serve(t, h, tc.method, tc.path, tc.hdr); w.Code != http.StatusTeapot {
			t.Errorf("%s %s %v: %d, want it passed to the API", tc.method, tc.path, tc.hdr, w.Code)
		}
	}
}

// TestSelfContained checks that the page loads only its own files: every
// src and href names an embedded file, and no file names another host.
func TestSelfContained(t *testing.T) {
	h := newTestHandler(t)
	index := string(h.files["index.html"].body)
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d files, want the script and the style sheet", len(refs))
	}
	for _, m := range refs {
		if _, ok := h.files[m[1]]; !ok {
			t.Errorf("index.html references %q, which is not embedded", m[1])
		}
	}
	names, err := filepath.Glob(filepath.Join("static", "*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("glob static: %v, %d files", err, len(names))
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another host: %q", n, m)
		}
		if _, ok := h.files[filepath.Base(n)]; !ok {
			t.Errorf("%s is not embedded", n)
		}
	}
}
