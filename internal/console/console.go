// Package console is pnonboard's support console: server-rendered pages under /console/ where
// support staff find a tenant, see why it is stuck or drifted, act on it with a reason that
// lands on its timeline, see and revoke the tokens issued for it and what it used in the last three months,
// and follow the webhooks sent about it.
//
// It holds no business rules. Every page calls the services the API calls (tenants, tokens,
// usage, webhooks, auth), and a person's rights are the scopes of the API key they signed in
// with: an action whose scope the key lacks has no button, and its POST answers 403.
//
// Security: sessions are stored hashed in Postgres (internal/auth); the cookie is HttpOnly,
// SameSite=Strict, and Secure outside dev mode. Every mutating request passes Go's
// cross-origin protection (http.CrossOriginProtection) and must carry the session's CSRF
// token. Every response has a strict Content-Security-Policy (no inline script or style) and
// X-Frame-Options: DENY, and html/template escapes everything shown. Failed sign-ins are rate
// limited per client address, in memory, so per replica.
package console

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
	"github.com/pnonboard/pnonboard/internal/usage"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// Prefix is where the console lives: New's handler serves Prefix and the paths under it, and
// expects to be mounted there with the request path unchanged.
const Prefix = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Opts wire the console. Logger, Keys, Tenants and Webhooks are required.
type Opts struct {
	Logger   *slog.Logger
	Keys     *auth.Service
	Tenants  *tenants.Service
	Webhooks *webhooks.Service
	// Tokens, when set, shows the tenant's live Access Manager tokens (tenants:read) with a
	// revoke button for keys with tokens:write.
	Tokens *tokens.Service
	// Usage, when set, shows the tenant's usage in this month and the two before it to keys
	// with usage:read.
	Usage *usage.Service
	// Dev drops the cookie's Secure attribute, for dev mode on http://127.0.0.1.
	Dev bool

	// Extension points, for features that exist only in some builds. Filters add checkboxes to
	// the tenant list after the built-in "drifted"; Actions add tenant actions beside retry,
	// disable, enable, check and repair; Sections add blocks to the tenant page after Drift,
	// Tokens and Usage. Each names the scope it needs.
	Filters  []ListFilter
	Actions  []Action
	Sections []Section

	// SignInFailures failed sign-ins from one client address per SignInWindow are allowed;
	// then sign-in answers 429 until the window has passed. Zero means 10 per 15 minutes.
	SignInFailures int
	SignInWindow   time.Duration
	// RequestTimeout bounds each page's work; zero means 30 s.
	RequestTimeout time.Duration
	// NowFunc is the clock of the sign-in limiter; nil means time.Now.
	NowFunc func() time.Time
}

// ListFilter is a checkbox of the tenant list, shown with Label and sent as Param=on, that
// narrows the listing through ApplyFunc. The built-in "drifted only" is one:
//
//	console.ListFilter{Param: "drifted", Label: "Drifted only",
//		ApplyFunc: func(p *tenants.ListParams) { p.Drifted = true }}
type ListFilter struct {
	Param     string
	Label     string
	ApplyFunc func(p *tenants.ListParams)
}

// Action is something a person may do to a tenant: a button on its page (when the key has
// Scope and OfferedFunc, if set, says so), a confirm page at /console/tenants/{id}/{Name}, and
// a POST there that calls DoFunc with the person's actor, then returns to the tenant page
// showing Done. Reason asks for a required reason, which DoFunc records on the timeline.
type Action struct {
	Name    string // URL segment, e.g. "disable"
	Label   string // button text, e.g. "Disable"
	Scope   auth.Scope
	Reason  bool
	Danger  bool   // styled as destructive
	Explain string // what it does, on the confirm page
	Done    string // what the tenant page says after it
	// OfferedFunc hides the button when it returns false (a presentation choice only: the
	// service decides whether the action is allowed, and the console shows its refusal).
	OfferedFunc func(t *tenants.Tenant) bool
	DoFunc      func(ctx context.Context, externalID, reason string, actor auth.Actor) error

	// section names the tenant page section whose buttons the action is ("" for the state
	// card's), question the confirm page's heading ("" for "<Label> this tenant?"), and also
	// a second scope the key needs beside Scope (checked after it): built-in actions only.
	section, question string
	also              auth.Scope
}

// allowed reports whether u's key has the scopes a needs.
func (a *Action) allowed(u *user) bool {
	return u.Can(a.Scope) && (a.also == "" || u.Can(a.also))
}

// Section is a block of the tenant page, under Title, for keys with Scope ("" for any key).
// Template is html/template text (so its output is escaped like every page's), executed with
// what DataFunc returns for the tenant.
type Section struct {
	Title    string
	Scope    auth.Scope
	Template string
	DataFunc func(ctx context.Context, t *tenants.Tenant) (any, error)
}

// Console is the console's http.Handler; New builds it.
type Console struct {
	logger   *slog.Logger
	keys     *auth.Service
	tenants  *tenants.Service
	webhooks *webhooks.Service
	tokens   *tokens.Service // nil: no Tokens section
	usage    *usage.Service  // nil: no Usage section
	dev      bool
	timeout  time.Duration

	filters  []ListFilter
	actions  []Action
	sections []section

	pages   map[string]*template.Template
	static  fs.FS
	assets  map[string]string // file name → content hash, for cache-busting URLs
	limiter *limiter
	handler http.Handler
}

// section is a Section with its template parsed.
type section struct {
	Section
	tmpl *template.Template
}

// New builds the console. A missing dependency or a template that does not parse is a wiring
// bug and panics here, at start-up.
func New(opts *Opts) http.Handler {
	if opts == nil || opts.Logger == nil || opts.Keys == nil || opts.Tenants == nil || opts.Webhooks == nil {
		panic("console.New: Logger, Keys, Tenants and Webhooks are required")
	}
	c := &Console{
		logger: opts.Logger, keys: opts.Keys, tenants: opts.Tenants, webhooks: opts.Webhooks,
		tokens: opts.Tokens, usage: opts.Usage, dev: opts.Dev, timeout: opts.RequestTimeout,
		filters: append(builtinFilters(), opts.Filters...),
	}
	if c.timeout == 0 {
		c.timeout = 30 * time.Second
	}
	failures, window, now := opts.SignInFailures, opts.SignInWindow, opts.NowFunc
	if failures == 0 {
		failures = 10
	}
	if window == 0 {
		window = 15 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	c.limiter = newLimiter(failures, window, now)
	seen := map[string]bool{}
	for _, f := range c.filters {
		if seen[f.Param] {
			panic(fmt.Sprintf("console.New: two list filters are sent as %q", f.Param))
		}
		seen[f.Param] = true
	}
	c.actions = append(append(c.builtinActions(), c.driftActions()...), opts.Actions...)
	for _, s := range opts.Sections {
		t, err := template.New(s.Title).Funcs(funcs()).Parse(s.Template)
		if err != nil {
			panic(fmt.Sprintf("console.New: section %q: %v", s.Title, err))
		}
		c.sections = append(c.sections, section{Section: s, tmpl: t})
	}
	var err error
	if c.static, err = fs.Sub(staticFS, "static"); err != nil {
		panic(err) // embedded at build time
	}
	c.assets = assetVersions(c.static)
	c.pages = parsePages(c.assets)

	mux := http.NewServeMux()
	c.addRoutes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, nil, &page{name: "error", title: "Refused", status: http.StatusForbidden,
			data: errorView{Message: "This request came from another site, so it was refused. Use the console's own forms."}})
	}))
	c.handler = cop.Handler(mux)
	return c
}

// ServeHTTP sets the headers every console response carries, then routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.handler.ServeHTTP(w, r)
}

// contentSecurityPolicy allows the console's own scripts, styles and requests, and nothing
// inline, framed or sent elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// addRoutes is the console's whole surface. Each signed-in page names the scope a key needs,
// like internal/api's routes; POSTs also need the session's CSRF token.
func (c *Console) addRoutes(mux *http.ServeMux) {
	// Public: sign-in and the static files its page needs.
	mux.Handle("GET "+Prefix, http.RedirectHandler(Prefix+"/", http.StatusMovedPermanently))
	mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", c.staticHandler()))
	mux.Handle("GET "+Prefix+"/sign-in", handle(c, c.signInPage))
	mux.Handle("POST "+Prefix+"/sign-in", handle(c, c.signIn))

	// Signed in.
	mux.Handle("GET "+Prefix+"/{$}", c.guard("", handle(c, c.home)))
	mux.Handle("POST "+Prefix+"/sign-out", c.guard("", handle(c, c.signOut)))
	mux.Handle("GET "+Prefix+"/tenants", c.guard(auth.ScopeTenantsRead, handle(c, c.listTenants)))
	mux.Handle("GET "+Prefix+"/tenants/{externalId}", c.guard(auth.ScopeTenantsRead, handle(c, c.tenantPage)))
	for _, a := range c.actions {
		// Reading the tenant for the confirm page needs tenants:read too; the action's own
		// scope is checked first, so a key without it gets 403 before anything is read.
		path := Prefix + "/tenants/{externalId}/" + a.Name
		mux.Handle("GET "+path, c.guard(a.Scope, c.guardAlso(a.also, handle(c, c.confirmAction(a)))))
		mux.Handle("POST "+path, c.guard(a.Scope, c.guardAlso(a.also, handle(c, c.doAction(a)))))
	}
	c.tokenRoutes(mux)
	mux.Handle("GET "+Prefix+"/webhooks", c.guard(auth.ScopeWebhooksRead, handle(c, c.listEndpoints)))
	mux.Handle("GET "+Prefix+"/webhooks/{id}", c.guard(auth.ScopeWebhooksRead, handle(c, c.endpointPage)))
	mux.Handle("GET "+Prefix+"/webhooks/{id}/deliveries/{deliveryId}/redeliver", c.guard(auth.ScopeWebhooksWrite, handle(c, c.confirmRedeliver)))
	mux.Handle("POST "+Prefix+"/webhooks/{id}/deliveries/{deliveryId}/redeliver", c.guard(auth.ScopeWebhooksWrite, handle(c, c.redeliver)))
	mux.Handle("GET "+Prefix+"/events", c.guard(auth.ScopeWebhooksRead, handle(c, c.listEvents)))

	mux.Handle(Prefix+"/", handle(c, c.notFound))
}
