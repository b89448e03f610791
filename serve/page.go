package serve

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web page at /: a playground that streams completions and chats, a
// classify box, a predict form, model cards with training curves, and the
// admin's keys and usage. It is a client of the public API like any other,
// embedded in the binary (no CDN: it works offline).
//
//go:embed web
var webFiles embed.FS

// pageCSP is the page's Content-Security-Policy: its script, styles and
// API calls come from this origin only (no inline script or style, no
// eval), it posts no forms, and no other site may frame it.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageHeaders are set on the page and its assets. Together with the API's
// lack of CORS headers (no Access-Control-Allow-Origin anywhere), another
// origin can neither read the API's answers nor the key the page keeps in
// its own sessionStorage.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

// page serves GET / (index.html) and GET /ui/{file} (its script and style).
func page() func(http.ResponseWriter, *http.Request, *requestInfo) error {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return func(w http.ResponseWriter, r *http.Request, _ *requestInfo) error {
		pageHeaders(w)
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return nil
		}
		name := r.URL.Path[len("/ui/"):]
		if name == "" || name == "index.html" {
			return &apiError{Status: http.StatusNotFound, Message: "no such file", Type: "not_found_error"}
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
		return nil
	}
}
