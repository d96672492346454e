// Package sandbox is an in-memory stand-in for the PubNub Admin API v2, an
// http.Handler that serves the endpoints pnonboard calls with PubNub's
// documented bodies, status codes, error format and pagination.
//
// Every test and dev run talks to this sandbox instead of PubNub, so where
// the Admin API reference (docs/pubnub.md) leaves behaviour unknown the
// sandbox picks the strictest plausible reading and says so in a "[U]" note
// next to the code. It also models what the real API may do to a caller: a
// per-key rate limit, latency, the Service Integration's permission rows
// (see ParsePermissions; 403 naming the missing row), and injected faults
// (random or scripted) that fail a request before or after its change is
// applied.
//
// Beside the API, tests and dev mode can change the sandbox behind the
// client's back, as a person in the Admin Portal would (DeleteKeyset,
// UnassignKeyset, Rename*, SetAccessManager, DeleteCustomer), also over HTTP
// under AdminPrefix, and Prefill thousands of tenants at once. Usage metrics
// are synthetic but exact (KeysetDailyUsage, UsageValue). With
// Opts.StateFile (see Open) the state survives restarts and SIGKILL.
//
// The package imports nothing of this module, so it stays an independent
// model of the API rather than a mirror of the client.
package sandbox

import (
	"crypto/subtle"
	"net/http"
	"time"
)

// Defaults for zero Opts fields.
const (
	// DefaultRatePerMinute is the request budget per window: the Admin
	// API's documented 120 requests per minute.
	DefaultRatePerMinute = 120
	// DefaultWindow is the rate-limit window.
	DefaultWindow = time.Minute
	// DefaultTimeoutHang is the longest a timeout fault hangs.
	DefaultTimeoutHang = time.Minute
)

// Opts configure a Sandbox. Zero fields take the defaults; a nil
// *Opts means all defaults.
type Opts struct {
	// APIKey is the one Authorization value accepted. Empty: a random key is
	// generated; read it with Sandbox.APIKey.
	APIKey string
	// RatePerMinute is how many requests a key may make per Window
	// (default 120); < 0 disables rate limiting and its headers.
	RatePerMinute int
	// Window is the rate-limit window (default one minute); tests shorten it
	// or move Now past it.
	Window time.Duration
	// Latency is added before every request is handled.
	Latency time.Duration
	// Faults are random failure rates; see FaultRates. New takes them as
	// given; validate user input with ParseFaults.
	Faults FaultRates
	// Seed seeds the fault randomness, so a run with the same seed and the
	// same request order fails the same requests.
	Seed int64
	// TimeoutHang bounds how long a timeout fault hangs (default one minute).
	// It always ends earlier when the request's context is done.
	TimeoutHang time.Duration
	// Now is the clock for timestamps, rate-limit windows, secret-key expiry
	// and recorded calls (default time.Now).
	Now func() time.Time
	// Permissions are the Service Integration rows the API key holds (see
	// ParsePermissions); a request without its row is refused with 403. nil
	// means full access (FullAccess); an empty, non-nil list grants nothing.
	Permissions []Permission
	// StateFile, when set, makes the state durable: Open loads it and every
	// change is written through to it before it is answered (see Open and
	// the "Durable state" notes in persist.go).
	StateFile string
	// UsageShape is the answer shape of GET /v2/usage-metrics (default
	// UsageShapeObject).
	UsageShape UsageShape
}

// Sandbox is the in-memory Admin API. It is safe for concurrent use. Create
// it with New (or Open, for a durable one) and serve it at the root (paths
// start with /v2/) or behind http.StripPrefix.
type Sandbox struct {
	apiKey      string
	latency     time.Duration
	timeoutHang time.Duration
	now         func() time.Time

	mux     *http.ServeMux
	store   *store
	limiter *limiter
	faults  *faultInjector
	calls   *callLog
	pam     *pamStore // Access Manager tokens (pam.go)
	perms   permissions
}

// New returns an empty sandbox configured by opts (nil: defaults). With
// Opts.StateFile set it is Open, and panics if the file cannot be loaded
// or written; call Open to handle that error instead.
func New(opts *Opts) *Sandbox {
	s, err := Open(opts)
	if err != nil {
		panic("sandbox: New: " + err.Error() + " (use Open to handle this error)")
	}
	return s
}

// newSandbox builds a sandbox from opts, without loading any state.
func newSandbox(opts *Opts) *Sandbox {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.APIKey == "" {
		o.APIKey = newAPIKey()
	}
	if o.RatePerMinute == 0 {
		o.RatePerMinute = DefaultRatePerMinute
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.TimeoutHang <= 0 {
		o.TimeoutHang = DefaultTimeoutHang
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sandbox{
		apiKey:      o.APIKey,
		latency:     o.Latency,
		timeoutHang: o.TimeoutHang,
		now:         o.Now,
		mux:         http.NewServeMux(),
		store:       newStore(o.Now, o.UsageShape),
		limiter:     newLimiter(o.RatePerMinute, o.Window),
		faults:      newFaultInjector(o.Faults, o.Seed),
		calls:       newCallLog(),
		pam:         newPAMStore(),
	}
	s.SetPermissions(o.Permissions)
	s.addRoutes()
	return s
}

// route is one Admin API endpoint: its method and path pattern, operation,
// the oldest PubNub-Version that serves it, the query parameters it accepts,
// and its logic.
type route struct {
	pattern    string
	op         Operation
	minVersion string
	query      []string
	handler    func(*store, *http.Request) result
}

// routes lists every endpoint the sandbox serves. It is a function, not a
// variable, so the package holds no state; ParseFaults reads it to resolve
// "METHOD /path" names.
func routes() []route {
	page := []string{"page", "limit"}
	return []route{
		{"POST /v2/apps", OpCreateApp, MinCoreVersion, nil, (*store).createApp},
		{"GET /v2/apps", OpListApps, MinCoreVersion, page, (*store).listApps},
		{"GET /v2/apps/{id}", OpGetApp, MinCoreVersion, nil, (*store).getApp},
		{"POST /v2/keysets", OpCreateKeyset, MinCoreVersion, nil, (*store).createKeyset},
		{"GET /v2/keysets", OpListKeysets, MinListKeysetsVersion, page, (*store).listKeysets},
		{"GET /v2/keysets/{id}", OpGetKeyset, MinCoreVersion, nil, (*store).getKeyset},
		{"GET /v2/keysets/{id}/config", OpGetKeysetConfig, MinCoreVersion, nil, (*store).getKeysetConfig},
		{"PATCH /v2/keysets/{id}/config", OpUpdateKeysetConfig, MinCoreVersion, nil, (*store).updateKeysetConfig},
		{"GET /v2/keysets/{keysetId}/secret-keys", OpListSecretKeys, MinSecretKeyVersion, []string{"activeOnly"}, (*store).listSecretKeys},
		{"POST /v2/keysets/{keysetId}/secret-keys", OpRotateSecretKey, MinSecretKeyVersion, nil, (*store).rotateSecretKey},
		{"POST /v2/oem/customers", OpCreateCustomer, MinOEMVersion, nil, (*store).createCustomer},
		{"GET /v2/oem/customers", OpListCustomers, MinOEMVersion, []string{"appId"}, (*store).listCustomers},
		{"GET /v2/oem/customers/{customerId}", OpGetCustomer, MinOEMVersion, nil, (*store).getCustomer},
		{"POST /v2/oem/customers/{customerId}/keysets", OpAssignKeysets, MinOEMVersion, nil, (*store).assignKeysets},
		{"GET /v2/usage-metrics", OpGetUsageMetrics, MinCoreVersion, []string{"entityType", "entityId", "from", "to", "metrics"}, (*store).getUsageMetrics},
		{"PATCH /v2/apps/{id}", OpUpdateApp, MinCoreVersion, nil, (*store).updateApp},
		{"PATCH /v2/keysets/{id}", OpUpdateKeyset, MinCoreVersion, nil, (*store).updateKeyset},
		{"DELETE /v2/keysets/{id}", OpDeleteKeyset, MinCoreVersion, nil, (*store).deleteKeyset},
		{"PUT /v2/oem/customers/{customerId}", OpUpdateCustomer, MinOEMVersion, nil, (*store).updateCustomer},
		{"DELETE /v2/oem/customers/{customerId}", OpDeleteCustomer, MinDeleteCustomerVersion, nil, (*store).deleteCustomer},
		{"GET /v2/oem/keysets", OpListCustomerKeysets, MinOEMVersion, []string{"customerId", "appId"}, (*store).listCustomerKeysets},
	}
}

// addRoutes mounts every route behind the pipeline, and a catch-all that
// answers 404 in PubNub's format.
func (s *Sandbox) addRoutes() {
	for _, rt := range routes() {
		h := func(r *http.Request) result { return rt.handler(s.store, r) }
		s.mux.Handle(rt.pattern, s.pipeline(endpoint{op: rt.op, minVersion: rt.minVersion, query: rt.query}, h))
	}
	s.addPAMRoutes() // POST /v3/pam/{subscribeKey}/grant, DELETE /v3/pam/{subscribeKey}/grant/{token}
	s.mux.Handle("/", s.pipeline(endpoint{op: OpUnknown}, notFound))
	s.addAdminRoutes()
}

// ServeHTTP serves the Admin API; paths start with /v2/.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// APIKey returns the Authorization value the sandbox accepts.
func (s *Sandbox) APIKey() string { return s.apiKey }

// Reset forgets all apps, keysets, customers, recorded calls, scripted
// faults and rate-limit windows, as if the sandbox were new (same options
// and API key): IDs start again from the first ones. With a state file the
// empty state is written through; should that write fail, the next change
// writes the full state again.
func (s *Sandbox) Reset() {
	_ = s.mutate(func(st *store) error {
		st.resetLocked()
		return nil
	})
	s.calls.reset()
	s.limiter.reset()
	s.pam.reset()
	s.ClearFaults()
}

// authorized reports whether r carries the API key, raw (a "Bearer " prefix
// makes it wrong, as on the real API).
func (s *Sandbox) authorized(r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(s.apiKey)) == 1
}

// notFound answers requests that match no endpoint, in PubNub's format.
func notFound(r *http.Request) result {
	return errorResult(http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path)
}
