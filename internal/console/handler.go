package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pageFunc is how every console page is written: a typed request in, a page (or a redirect)
// out. u is the signed-in person, nil on public pages. Pages never touch the ResponseWriter,
// so tests can call them directly.
type pageFunc[Req any] func(ctx context.Context, u *user, req *Req) (*page, error)

// page is what a pageFunc returns: a template and its data, or a redirect.
type page struct {
	name     string // template, in templates/<name>.html
	title    string
	nav      string // the navigation entry to mark current
	status   int    // zero means 200
	data     any
	redirect string // answered with 303 See Other when set
	cookies  []*http.Cookie
	headers  map[string]string
}

// extractor is a request that reads path, query or form parameters. Problems are recorded in
// params and answered with 400 before the page runs.
type extractor interface {
	extract(p *params)
}

// handle adapts fn to HTTP: the signed-in user (set by guard), a bounded context, parameter
// extraction, then the page, then rendering (or the error page: errorPage maps every error).
func handle[Req any](c *Console, fn pageFunc[Req]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		ctx, cancel := context.WithTimeout(r.Context(), c.timeout)
		defer cancel()
		req := new(Req)
		if ex, ok := any(req).(extractor); ok {
			p := &params{r: r}
			ex.extract(p)
			if err := p.err(); err != nil {
				c.render(w, r, u, c.errorPage(ctx, err))
				return
			}
		}
		pg, err := fn(ctx, u, req)
		if err != nil {
			pg = c.errorPage(ctx, err)
		}
		c.render(w, r, u, pg)
	})
}

// view is what every template gets: the page's own data in Page, and what the layout needs.
type view struct {
	Title     string
	Nav       string
	User      *user
	Page      any
	RequestID string
	Dev       bool
}

// render writes pg: templates execute into a buffer first, so a template failure is a clean
// 500, never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, u *user, pg *page) {
	for _, ck := range pg.cookies {
		http.SetCookie(w, ck)
	}
	for k, v := range pg.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Cache-Control", "no-store")
	if pg.redirect != "" {
		if r.Header.Get("HX-Request") == "true" {
			// htmx would follow a redirect inside the page; make the browser go there.
			w.Header().Set("HX-Redirect", pg.redirect)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Redirect(w, r, pg.redirect, http.StatusSeeOther)
		return
	}
	tmpl, ok := c.pages[pg.name]
	if !ok {
		c.logger.ErrorContext(r.Context(), "console page has no template", "template", pg.name)
		pg, tmpl = c.errorPage(r.Context(), errNoTemplate), c.pages["error"]
	}
	var buf bytes.Buffer
	err := tmpl.ExecuteTemplate(&buf, "layout", view{
		Title: pg.title, Nav: pg.nav, User: u, Page: pg.data, Dev: c.dev,
		RequestID: w.Header().Get("X-Request-Id"), // set by the API's middleware
	})
	if err != nil {
		c.logger.ErrorContext(r.Context(), "render console page", "template", pg.name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Something went wrong showing this page.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status := pg.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// params reads a request's parameters and records what is wrong with them.
type params struct {
	r    *http.Request
	errs map[string]string
}

func (p *params) fail(name, msg string) {
	if p.errs == nil {
		p.errs = map[string]string{}
	}
	p.errs[name] = msg
}

func (p *params) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return &paramError{fields: p.errs}
}

// path is a path parameter, as routed.
func (p *params) path(name string) string { return p.r.PathValue(name) }

// query is a query parameter: trimmed, single-line text of at most max characters.
func (p *params) query(name string, max int) string {
	return p.text(name, p.r.URL.Query().Get(name), max)
}

// form is a field of the (already parsed) POST form: trimmed text of at most max characters.
func (p *params) form(name string, max int) string {
	return p.text(name, p.r.PostFormValue(name), max)
}

func (p *params) text(name, v string, max int) string {
	v = strings.TrimSpace(v)
	switch {
	case !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl):
		p.fail(name, "must be text on one line")
		return ""
	case utf8.RuneCountInString(v) > max:
		p.fail(name, "is too long")
		return ""
	}
	return v
}

// enum is a query parameter that must be one of allowed ("" when absent).
func (p *params) enum(name string, allowed []string) string {
	v := p.r.URL.Query().Get(name)
	if v == "" {
		return ""
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, "must be one of "+strings.Join(allowed, ", "))
	return ""
}

// flag reports whether a checkbox query parameter is on.
func (p *params) flag(name string) bool {
	switch p.r.URL.Query().Get(name) {
	case "on", "true", "1":
		return true
	}
	return false
}

// paramError is a request whose parameters are wrong: field → message.
type paramError struct{ fields map[string]string }

func (e *paramError) Error() string {
	var b strings.Builder
	for f, m := range e.fields {
		b.WriteString(f + " " + m + "; ")
	}
	return "bad parameters: " + b.String()
}

// consolePath joins the console's prefix and path segments, escaping each segment.
func consolePath(segments ...string) string {
	var b strings.Builder
	b.WriteString(Prefix)
	for _, s := range segments {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}

// withQuery is path with the non-empty values of kv (name, value pairs) as its query.
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// pager is a list page's links to its first and next pages, as the "pager" template shows them.
type pager struct {
	First string // URL of the first page, "" on it
	Next  string // URL of the next page, "" on the last
}

// pageLinks is the pager of the list at path, filtered by kv (name, value pairs) and paged by
// its "cursor" parameter: cursor is this page's ("" on the first), next the next page's ("" on
// the last).
func pageLinks(path, cursor, next string, kv ...string) pager {
	var p pager
	if next != "" {
		p.Next = withQuery(path, append(kv[:len(kv):len(kv)], "cursor", next)...)
	}
	if cursor != "" {
		p.First = withQuery(path, kv...)
	}
	return p
}

// logAction logs what a person did, for operators (the tenant's timeline has it too).
func (c *Console) logAction(ctx context.Context, action string, attrs ...any) {
	c.logger.InfoContext(ctx, "console action", append([]any{slog.String("action", action)}, attrs...)...)
}
