// Package api is pnonboard's HTTP surface: a chi router whose every route is listed in
// routes.go with the scope it needs, typed endpoint functions, and problem+json errors.
package api

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
	"github.com/pnonboard/pnonboard/internal/usage"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// ServerOpts wires the server. Logger and Ready are required.
type ServerOpts struct {
	Logger *slog.Logger
	// Ready reports whether the service can serve: database reachable, migrations current.
	Ready func(ctx context.Context) error
	// ReadyChecks are the operator's checks GET /readyz?verbose=1 adds after Ready's (server
	// doctor's); nil means Ready's alone.
	ReadyChecks func(ctx context.Context) []ReadyCheck
	// WorkerOnly serves only the public probes: a worker replica answers health checks but
	// takes no API traffic (PNONBOARD_ROLE=worker).
	WorkerOnly bool
	// Keys issues and checks API keys.
	Keys *auth.Service
	// Tenants is the tenant domain service.
	Tenants *tenants.Service
	// Webhooks manages endpoints, deliveries and the event listing.
	Webhooks *webhooks.Service
	// Tokens grants, revokes, lists and parses Access Manager tokens.
	Tokens *tokens.Service
	// Usage, when set, serves the usage routes (a tenant's series, the monthly report).
	Usage *usage.Service
	// Metrics serves /metrics; MetricsPublic makes it need no key (otherwise: admin).
	Metrics       http.Handler
	MetricsPublic bool
	// JobUI is the River UI, served under JobUIPrefix (e.g. /riverui) to admin keys.
	JobUI       http.Handler
	JobUIPrefix string
	// Console, when set, is mounted at /console (internal/console builds it).
	Console http.Handler
	// Watcher wakes a Prefer: wait create the moment its tenant's state changes; nil means it
	// only polls.
	Watcher *tenants.Watcher
	// WaitPoll is how often a Prefer: wait create re-reads the tenant besides; zero means 2 s
	// (100 ms without a Watcher).
	WaitPoll time.Duration
	// OpenAPI is the contract served at /openapi.yaml.
	OpenAPI []byte
	// MaxBodyBytes caps request bodies (413 beyond); zero means 64 KiB.
	MaxBodyBytes int64
	// RequestTimeout bounds each request's context; zero means 30 s.
	RequestTimeout time.Duration
	// OnRequestFunc, when set, is told of every finished request (for metrics).
	OnRequestFunc func(method, route string, status int, elapsed time.Duration)
}

// Server holds the API's dependencies; NewServer exposes it as an http.Handler.
type Server struct {
	logger         *slog.Logger
	ready          func(ctx context.Context) error
	readyChecks    func(ctx context.Context) []ReadyCheck
	workerOnly     bool
	auth           Authenticator
	keys           *auth.Service
	tenants        *tenants.Service
	webhooks       *webhooks.Service
	watcher        *tenants.Watcher
	tokens         *tokens.Service
	usage          *usage.Service
	waitPoll       time.Duration
	metrics        http.Handler
	metricsPublic  bool
	jobUI          http.Handler
	jobUIPrefix    string
	console        http.Handler
	openAPI        []byte
	maxBody        int64
	requestTimeout time.Duration
	onRequest      func(method, route string, status int, elapsed time.Duration)

	mux     chi.Router      // the router, for working out Allow headers
	refused map[string]bool // "METHOD /pattern" of routes that exist only to explain a 405
}

// NewServer builds the router: middleware once, then every route of routes.go. A missing
// dependency is a wiring bug and panics here, at start-up, not on some later request.
func NewServer(opts *ServerOpts) http.Handler {
	if opts.Logger == nil || opts.Ready == nil {
		panic("api.NewServer: Logger and Ready are required")
	}
	if opts.Keys == nil || !opts.WorkerOnly && (opts.Tenants == nil || opts.Webhooks == nil) {
		panic("api.NewServer: Keys is required, and Tenants and Webhooks unless WorkerOnly")
	}
	s := &Server{
		logger:         opts.Logger,
		ready:          opts.Ready,
		readyChecks:    opts.ReadyChecks,
		workerOnly:     opts.WorkerOnly,
		auth:           opts.Keys,
		keys:           opts.Keys,
		tenants:        opts.Tenants,
		webhooks:       opts.Webhooks,
		watcher:        opts.Watcher,
		tokens:         opts.Tokens,
		usage:          opts.Usage,
		waitPoll:       opts.WaitPoll,
		metrics:        opts.Metrics,
		metricsPublic:  opts.MetricsPublic,
		jobUI:          opts.JobUI,
		jobUIPrefix:    opts.JobUIPrefix,
		console:        opts.Console,
		openAPI:        opts.OpenAPI,
		maxBody:        opts.MaxBodyBytes,
		requestTimeout: opts.RequestTimeout,
		onRequest:      opts.OnRequestFunc,
	}
	if s.maxBody == 0 {
		s.maxBody = 64 << 10
	}
	if s.waitPoll == 0 {
		s.waitPoll = 100 * time.Millisecond
		if s.watcher != nil {
			s.waitPoll = 2 * time.Second
		}
	}
	if s.requestTimeout == 0 {
		s.requestTimeout = 30 * time.Second
	}
	return s.router()
}

func (s *Server) router() chi.Router {
	r := chi.NewRouter()
	r.Use(requestID, s.observe, s.recoverer, s.noEmptySegments)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		allow := s.allowHeader(r)
		if allow == "" { // chi answers 405 for any method it does not know, even on no route
			s.notFound(w, r)
			return
		}
		w.Header().Set("Allow", allow)
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed here; allowed: %s", r.Method, allow))
	})
	s.addRoutes(r)
	s.mux, s.refused = r, map[string]bool{}
	_ = chi.Walk(r, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		if sh, ok := h.(*scopedHandler); ok {
			if _, ok := sh.next.(refusedHandler); ok {
				s.refused[method+" "+route] = true
			}
		}
		return nil
	})
	return r
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errorf(http.StatusNotFound, "not_found", "no route for %s %q", r.Method, r.URL.Path))
}

// noEmptySegments answers 404 for a path with an empty segment (/v1/tenants//disable): no
// resource has an empty ID, and chi would otherwise route it with an empty parameter.
func (s *Server) noEmptySegments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.EscapedPath(), "//") {
			s.notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowHeader is the Allow header for r's path (RFC 9110 §10.2.1): the methods that have a
// route there, less those that exist only to explain a refusal. "" when no route matches.
func (s *Server) allowHeader(r *http.Request) string {
	path := cmp.Or(r.URL.RawPath, r.URL.Path)
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		rctx := chi.NewRouteContext()
		if s.mux.Match(rctx, m, path) && !s.refused[m+" "+rctx.RoutePattern()] {
			allowed = append(allowed, m)
		}
	}
	return strings.Join(allowed, ", ")
}

// refusedHandler marks a route that exists only to explain why its method is not allowed
// (DELETE of a tenant); Allow headers leave its method out.
type refusedHandler struct{ http.Handler }

// route registers a handler that needs a key with scope. Every non-public route goes through
// here, so none can be added without a scope.
func (s *Server) route(r chi.Router, method, pattern string, scope auth.Scope, h http.Handler) {
	r.Method(method, pattern, &scopedHandler{s: s, scope: scope, next: h})
}
