package api

import (
	"embed"
	"net/http"
)

// docsFiles holds the vendored API reference renderer (Redoc's standalone bundle) and its
// licences; docs/VENDORED.txt says which version and from where.
//
//go:embed docs
var docsFiles embed.FS

// docsPage is the API reference: Redoc rendering the served /openapi.yaml, every byte from
// this service (no CDN, no fonts from elsewhere).
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pnonboard API reference</title>
</head>
<body>
<redoc spec-url="/openapi.yaml"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
`

// docsPolicy is the reference page's Content-Security-Policy: scripts only from here, no
// eval; Redoc injects its styles at run time, so inline styles are allowed on this page (and
// only here: it has no session, no forms, nothing to steal). Its search runs in a blob: worker.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func docsHeaders(h http.Header) {
	h.Set("Content-Security-Policy", docsPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
}

// handleDocs serves the API reference page (GET /docs, public like /openapi.yaml).
func (s *Server) handleDocs(w http.ResponseWriter, _ *http.Request) {
	docsHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(docsPage))
}

// handleDocsScript serves the vendored Redoc bundle the reference page loads.
func (s *Server) handleDocsScript(w http.ResponseWriter, r *http.Request) {
	b, err := docsFiles.ReadFile("docs/redoc.standalone.js")
	if err != nil {
		s.writeError(w, r, err) // embedded at build time: cannot happen
		return
	}
	docsHeaders(w.Header())
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
