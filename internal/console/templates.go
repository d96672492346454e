package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// pageNames are the templates in templates/, each a page shown inside layout.html.
func pageNames() []string {
	return []string{"signin", "home", "error", "tenants", "tenant", "confirm", "webhooks", "endpoint", "events"}
}

// parsePages parses each page with the layout. A template that does not parse is a build
// bug: it panics at start-up.
func parsePages(assets map[string]string) map[string]*template.Template {
	f := funcs()
	f["asset"] = func(name string) string { return Prefix + "/static/" + name + "?v=" + assets[name] }
	pages := map[string]*template.Template{}
	for _, name := range pageNames() {
		pages[name] = template.Must(template.New(name).Funcs(f).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// funcs are the helpers templates may call; none of them produces unescaped HTML.
func funcs() template.FuncMap {
	return template.FuncMap{
		"prefix": func() string { return Prefix },
		// tenantURL and friends build console paths with each segment escaped.
		"tenantURL":   func(externalID string) string { return consolePath("tenants", externalID) },
		"endpointURL": func(id string) string { return consolePath("webhooks", id) },
		"redeliverURL": func(endpointID, deliveryID string) string {
			return consolePath("webhooks", endpointID, "deliveries", deliveryID, "redeliver")
		},
		"revokeTokenURL": func(externalID, tokenID string) string {
			return consolePath("tenants", externalID, "tokens", tokenID, "revoke")
		},
		"time": formatTime,
		"ptime": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return formatTime(*t)
		},
		"str": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"int": func(n *int) string {
			if n == nil {
				return ""
			}
			return fmt.Sprint(*n)
		},
		"detail": detailPairs,
		"stateClass": func(s tenants.State) string {
			return "state state-" + string(s)
		},
		"keysetClass": func(s tenants.KeysetState) string {
			return "state keyset-" + string(s)
		},
		"join": strings.Join,
		"scopes": func(scopes []auth.Scope) string {
			out := make([]string, len(scopes))
			for i, s := range scopes {
				out[i] = string(s)
			}
			return strings.Join(out, ", ")
		},
		"ms": func(d time.Duration) int64 { return d.Milliseconds() },
	}
}

// formatTime shows an instant in UTC to the second, as the API's timestamps are.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// detailPairs is a timeline event's detail as sorted "key: value" lines. Scalars show as
// they are; lists and objects (a drift entry, a before/after) as compact JSON, as the API
// shows them, rather than Go's map syntax.
func detailPairs(d map[string]any) []string {
	out := make([]string, 0, len(d))
	for k, v := range d {
		switch v.(type) {
		case map[string]any, []any:
			if b, err := json.Marshal(v); err == nil {
				out = append(out, k+": "+string(b))
				continue
			}
		}
		out = append(out, fmt.Sprintf("%s: %v", k, v))
	}
	sort.Strings(out)
	return out
}

// assetVersions hashes each static file, so pages can link them with a version that changes
// with their content and let browsers cache them for good.
func assetVersions(static fs.FS) map[string]string {
	out := map[string]string{}
	_ = fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:6])
		return nil
	})
	return out
}

// staticHandler serves the embedded static files: the stylesheet, htmx and its licence.
func (c *Console) staticHandler() http.Handler {
	files := http.FileServerFS(c.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, known := c.assets[r.URL.Path]; !known {
			http.NotFound(w, r) // no directory listings, nothing that is not a file
			return
		}
		if v := r.URL.Query().Get("v"); v != "" && v == c.assets[r.URL.Path] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

// --- Home

type homeRequest struct{}

// home sends the person to the tenants, or, for a key that cannot read them, shows what the
// key can do.
func (c *Console) home(_ context.Context, u *user, _ *homeRequest) (*page, error) {
	if u.Can(auth.ScopeTenantsRead) {
		return &page{redirect: Prefix + "/tenants"}, nil
	}
	return &page{name: "home", title: "Console", data: nil}, nil
}
