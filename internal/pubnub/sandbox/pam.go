package sandbox

// The Access Manager v3 data plane: PubNub's grant and revoke token
// endpoints, next to the Admin API in the same handler.
//
// Addressing: one Sandbox serves both planes, told apart by path. /v2/… is
// the Admin API (API key, rate limit, PubNub-Version); /v3/pam/… is the data
// plane, authenticated by the request's v2 signature alone, outside the
// Admin API rate limit and without its key or version header. So one mount
// serves both: at the root, the Admin API base URL is http://host/v2 and the
// data-plane origin http://host; behind http.StripPrefix("/sandbox", sb) they
// are http://host/sandbox/v2 and http://host/sandbox. The signature is
// checked against the path the sandbox sees, /v3/pam/…, which is what a
// client signs when its origin carries a path prefix.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The data-plane operations, recorded in Calls and targets of InjectFault.
// Only faults scripted for them exactly apply to them: OpAny faults and the
// random Opts.Faults are left to the Admin API.
const (
	OpGrantToken  Operation = "GrantToken"  // POST /v3/pam/{subscribeKey}/grant
	OpRevokeToken Operation = "RevokeToken" // DELETE /v3/pam/{subscribeKey}/grant/{token}
)

// Access Manager limits.
const (
	// maxTimestampSkew is how far a request's timestamp may be from the
	// sandbox clock. [U] PubNub's tolerance is undocumented; a minute is
	// assumed (docs/pubnub.md, Access Manager v3).
	maxTimestampSkew = time.Minute
	// A grant's ttl is 1 to 43,200 minutes (a recorded live 400).
	minGrantTTL, maxGrantTTL = 1, 43_200
	// maxRevocableTTL: only tokens with a TTL of at most 30 days can be
	// revoked.
	maxRevocableTTL = 43_200
	// maxIssuedPerKeyset bounds the issued tokens kept per keyset for
	// inspection; the oldest tenth is dropped when it is reached. Revocation
	// does not depend on it: the sandbox recognises its tokens by their sig.
	maxIssuedPerKeyset = 100_000
	// tokenKey keys the HMAC in the sig of the tokens the sandbox issues. It
	// is fixed, not random, so that tokens survive a dev-mode restart; the
	// MAC also covers the subscribe key, so a token only counts for the
	// keyset it was issued for.
	tokenKey = "pnonboard sandbox access manager token key"
)

// TokenPermissions are the permission bits of a token's resources or
// patterns, by name, per resource type (users and spaces are PubNub's
// deprecated types). Maps are never nil.
type TokenPermissions struct {
	Channels map[string]int
	Groups   map[string]int
	UUIDs    map[string]int
	Users    map[string]int
	Spaces   map[string]int
}

// IssuedToken is a token the sandbox granted, for tests to inspect.
type IssuedToken struct {
	Token    string
	IssuedAt time.Time // by Opts.Now, whole seconds (the token's "t")
	TTL      int       // minutes
	// AuthorizedUserID is the grant's permissions.uuid, or "".
	AuthorizedUserID string
	Resources        TokenPermissions
	Patterns         TokenPermissions
	// Meta is the grant's meta; numbers are int64 when integral, else
	// float64. Never nil.
	Meta map[string]any
	// SecretKey is the keyset secret key the request's signature verified
	// with: its main key at the time.
	SecretKey string
	// RevokedAt is when the token was first revoked, or nil.
	RevokedAt *time.Time
}

// RevokedToken is a token the sandbox revoked.
type RevokedToken struct {
	Token     string
	RevokedAt time.Time
}

// pamStore holds the tokens issued and revoked, per subscribe key. Its
// mutex is never held together with the store's.
type pamStore struct {
	mu      sync.Mutex
	keysets map[string]*pamTokens
}

type pamTokens struct {
	issued  []*IssuedToken // oldest first
	revoked map[string]time.Time
}

func newPAMStore() *pamStore { return &pamStore{keysets: map[string]*pamTokens{}} }

func (p *pamStore) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.keysets)
}

// tokensLocked returns the keyset's tokens, creating them.
func (p *pamStore) tokensLocked(subscribeKey string) *pamTokens {
	t := p.keysets[subscribeKey]
	if t == nil {
		t = &pamTokens{revoked: map[string]time.Time{}}
		p.keysets[subscribeKey] = t
	}
	return t
}

func (p *pamStore) issue(subscribeKey string, tok *IssuedToken) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tokensLocked(subscribeKey)
	if len(t.issued) >= maxIssuedPerKeyset {
		t.issued = slices.Delete(t.issued, 0, maxIssuedPerKeyset/10)
	}
	t.issued = append(t.issued, tok)
}

// revoke records token as revoked at now, keeping an earlier revocation.
func (p *pamStore) revoke(subscribeKey, token string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tokensLocked(subscribeKey)
	if _, done := t.revoked[token]; !done {
		t.revoked[token] = now
	}
}

// IssuedTokens returns deep copies of the tokens the sandbox issued for the
// keyset with subscribeKey, oldest first (at most the last 100,000), with
// RevokedAt set for revoked ones. Reset forgets them.
func (s *Sandbox) IssuedTokens(subscribeKey string) []IssuedToken {
	p := s.pam
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.keysets[subscribeKey]
	if t == nil {
		return []IssuedToken{}
	}
	out := make([]IssuedToken, 0, len(t.issued))
	for _, tok := range t.issued {
		c := *tok
		c.Resources, c.Patterns = tok.Resources.clone(), tok.Patterns.clone()
		c.Meta = cloneMap(tok.Meta)
		if at, ok := t.revoked[tok.Token]; ok {
			c.RevokedAt = &at
		}
		out = append(out, c)
	}
	return out
}

// RevokedTokens returns the tokens revoked on the keyset with subscribeKey,
// in revocation order (ties by token). Reset forgets them.
func (s *Sandbox) RevokedTokens(subscribeKey string) []RevokedToken {
	p := s.pam
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []RevokedToken{}
	if t := p.keysets[subscribeKey]; t != nil {
		for tok, at := range t.revoked {
			out = append(out, RevokedToken{Token: tok, RevokedAt: at})
		}
	}
	slices.SortFunc(out, func(a, b RevokedToken) int {
		if c := a.RevokedAt.Compare(b.RevokedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Token, b.Token)
	})
	return out
}

func (p TokenPermissions) clone() TokenPermissions {
	return TokenPermissions{
		Channels: cloneMap(p.Channels), Groups: cloneMap(p.Groups), UUIDs: cloneMap(p.UUIDs),
		Users: cloneMap(p.Users), Spaces: cloneMap(p.Spaces),
	}
}

func cloneMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// addPAMRoutes maps the data-plane endpoints. Anything else under /v3/pam/
// is a 404 in Access Manager's shape, without asking for the Admin API key.
func (s *Sandbox) addPAMRoutes() {
	s.mux.Handle("POST /v3/pam/{subscribeKey}/grant", s.pamRoute(OpGrantToken, s.grantToken))
	s.mux.Handle("DELETE /v3/pam/{subscribeKey}/grant/{token}", s.pamRoute(OpRevokeToken, s.revokeToken))
	s.mux.Handle("/v3/pam/", s.pamRoute(OpUnknown, func(r *http.Request) result {
		return pamError(http.StatusNotFound, "Not found", "", pamDetail{Message: "Cannot " + r.Method + " " + r.URL.Path + ".", Location: "<root>", LocationType: "path"})
	}))
}

// pamRoute wraps h with what the data plane does around it: latency, then
// faults scripted for op, then h; it records the call. There is no API key,
// version header or rate limit: the signature authenticates.
func (s *Sandbox) pamRoute(op Operation, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := s.now()
		status := s.servePAM(w, r, op, h)
		s.calls.add(Call{Op: op, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, At: at})
	})
}

func (s *Sandbox) servePAM(w http.ResponseWriter, r *http.Request, op Operation, h handlerFunc) int {
	if !sleep(r.Context(), s.latency) {
		return 0
	}
	if op == OpUnknown {
		return writePAM(w, h(r))
	}
	f, faulty := s.faults.nextScripted(op)
	if !faulty {
		return writePAM(w, h(r))
	}
	msg := func(def string) string {
		if f.Message != "" {
			return f.Message
		}
		return def
	}
	switch f.Kind {
	case FaultStatus:
		return writePAM(w, pamError(f.Status, msg(fmt.Sprintf("Injected %d fault", f.Status)), pamSource(op)))
	case FaultLost:
		h(r)
		return writePAM(w, pamError(http.StatusInternalServerError, msg("Internal Server Error"), pamSource(op)))
	case FaultTimeout:
		h(r)
		if !sleep(r.Context(), s.timeoutHang) {
			return 0
		}
		return writePAM(w, pamError(http.StatusGatewayTimeout, msg("Gateway Timeout"), pamSource(op)))
	default: // FaultServerError
		return writePAM(w, pamError(http.StatusInternalServerError, msg("Internal Server Error"), pamSource(op)))
	}
}

func pamSource(op Operation) string {
	if op == OpRevokeToken {
		return "revoke"
	}
	return "grant"
}

// nextScripted is next for the data plane: only faults scripted for op
// itself, consuming one use.
func (fi *faultInjector) nextScripted(op Operation) (Fault, bool) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for i, sf := range fi.scripted {
		if sf.op != op {
			continue
		}
		if sf.remaining > 0 {
			sf.remaining--
			if sf.remaining == 0 {
				fi.scripted = append(fi.scripted[:i], fi.scripted[i+1:]...)
			}
		}
		return sf.fault, true
	}
	return Fault{}, false
}

// pamDetail is one entry of an Access Manager error's details.
type pamDetail struct {
	Message      string `json:"message"`
	Location     string `json:"location"`
	LocationType string `json:"locationType"`
}

// pamErrorBody is Access Manager's error answer, as recorded live:
// {"error":{"message","source","details":[…]},"service":"Access Manager","status"}.
type pamErrorBody struct {
	Error struct {
		Message string      `json:"message"`
		Source  string      `json:"source"`
		Details []pamDetail `json:"details"`
	} `json:"error"`
	Service string `json:"service"`
	Status  int    `json:"status"`
}

func pamError(status int, message, source string, details ...pamDetail) result {
	var b pamErrorBody
	b.Error.Message, b.Error.Source, b.Error.Details = message, source, details
	if b.Error.Details == nil {
		b.Error.Details = []pamDetail{}
	}
	b.Service, b.Status = "Access Manager", status
	return result{status: status, body: b}
}

// pamSuccess is the 200 answer; token is omitted when empty (revoke).
func pamSuccess(token string) result {
	type data struct {
		Message string `json:"message"`
		Token   string `json:"token,omitempty"`
	}
	return result{status: http.StatusOK, body: struct {
		Data    data   `json:"data"`
		Service string `json:"service"`
		Status  int    `json:"status"`
	}{data{"Success", token}, "Access Manager", http.StatusOK}}
}

// writePAM writes res as the data plane does, as text/javascript, encoding
// it first so that a failure can still become a clean 500.
func writePAM(w http.ResponseWriter, res result) int {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(res.body); err != nil {
		res = pamError(http.StatusInternalServerError, "sandbox could not encode its response", "")
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(res.body)
	}
	w.Header().Set("Content-Type", "text/javascript; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.WriteHeader(res.status)
	_, _ = w.Write(buf.Bytes())
	return res.status
}

// pamKeyset is what a data-plane request needs of its keyset, copied out of
// the store.
type pamKeyset struct {
	subscribeKey, publishKey string
	secretKey                string // the main key
	accessManager            AccessManagerConfig
}

// authenticate reads the body and checks the request as Access Manager
// does before anything else: the keyset exists (400), the timestamp is
// within maxTimestampSkew of the clock (403), the v2 signature verifies with
// the keyset's current main secret key (403) and Access Manager is on
// (403). [U] The messages and the 400 for an unknown subscribe key are the
// sandbox's; PubNub's are unrecorded.
func (s *Sandbox) authenticate(r *http.Request, source string) (pamKeyset, []byte, result, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return pamKeyset{}, nil, pamError(http.StatusBadRequest, "Invalid JSON", source, pamDetail{"Request body could not be read.", "<root>", "body"}), false
	}
	if len(raw) > maxBodyBytes {
		return pamKeyset{}, nil, pamError(http.StatusRequestEntityTooLarge, "Request too large", source, pamDetail{fmt.Sprintf("Request body is larger than %d bytes.", maxBodyBytes), "<root>", "body"}), false
	}
	ks, found := s.store.pamKeyset(r.PathValue("subscribeKey"))
	if !found {
		return ks, nil, pamError(http.StatusBadRequest, "Invalid subscribe key", source, pamDetail{"Subscribe key does not exist.", "subscribeKey", "path"}), false
	}
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if now := s.now().Unix(); err != nil || ts < now-int64(maxTimestampSkew/time.Second) || ts > now+int64(maxTimestampSkew/time.Second) {
		return ks, nil, pamError(http.StatusForbidden, "Invalid timestamp", source, pamDetail{"Timestamp must be the Unix time within 60 seconds of the server's clock; sync the clock with NTP.", "timestamp", "query"}), false
	}
	if len(q["signature"]) != 1 {
		return ks, nil, pamError(http.StatusForbidden, "Invalid signature", source, pamDetail{"Signature is missing.", "signature", "query"}), false
	}
	want := signV2(ks.secretKey, ks.publishKey, r.Method, r.URL.EscapedPath(), q, raw)
	if !hmac.Equal([]byte(q.Get("signature")), []byte(want)) {
		return ks, nil, pamError(http.StatusForbidden, "Invalid signature", source, pamDetail{"Signature does not match; sign with the keyset's current secret key.", "signature", "query"}), false
	}
	if !ks.accessManager.Enabled {
		return ks, nil, pamError(http.StatusForbidden, "Access Manager is disabled", source, pamDetail{"Access Manager is not enabled on this keyset.", "subscribeKey", "path"}), false
	}
	return ks, raw, result{}, true
}

// pamKeyset finds the keyset with subscribeKey and copies what the data
// plane needs, under the store's lock.
func (st *store) pamKeyset(subscribeKey string) (pamKeyset, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, id := range st.ksOrder {
		k := st.keysets[id]
		if k.SubscribeKey != subscribeKey {
			continue
		}
		ks := pamKeyset{subscribeKey: k.SubscribeKey, publishKey: k.PublishKey, accessManager: k.Config.AccessManager}
		ks.accessManager.TokenRevoke = clonePtr(ks.accessManager.TokenRevoke)
		for _, sk := range k.SecretKeys {
			if sk.ExpiresAt == nil {
				ks.secretKey = sk.Value
			}
		}
		return ks, ks.secretKey != ""
	}
	return pamKeyset{}, false
}

// signV2 is PubNub's v2 request signature: HMAC-SHA256 keyed with the
// secret key of METHOD\npublishKey\npath\nquery\nbody, where query is every
// parameter but signature, sorted, name=encoded value joined by &; base64
// URL-safe without padding, prefixed "v2.".
func signV2(secretKey, publishKey, method, path string, query url.Values, body []byte) string {
	names := make([]string, 0, len(query))
	for name := range query {
		if name != "signature" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var pairs []string
	for _, name := range names {
		for _, v := range query[name] {
			pairs = append(pairs, name+"="+pamEscape(v))
		}
	}
	mac := hmac.New(sha256.New, []byte(secretKey))
	fmt.Fprintf(mac, "%s\n%s\n%s\n%s\n", method, publishKey, path, strings.Join(pairs, "&"))
	mac.Write(body)
	return "v2." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// pamEscape is query escaping with %20 for a space and ~ escaped too (Go
// already escapes * ! ' ( ) [ ]).
func pamEscape(s string) string {
	e := url.QueryEscape(s)
	if strings.ContainsAny(e, "+~") {
		e = strings.ReplaceAll(strings.ReplaceAll(e, "+", "%20"), "~", "%7E")
	}
	return e
}

// grant is a validated grant request.
type grant struct {
	ttl       int
	uuid      string
	resources TokenPermissions
	patterns  TokenPermissions
	meta      map[string]any // string, bool, int64 or float64 values
	metaKeys  []string       // sorted
}

// grantToken serves POST /v3/pam/{subscribeKey}/grant: after authenticate,
// it validates the body and answers 200 with a new token.
func (s *Sandbox) grantToken(r *http.Request) result {
	const source = "grant"
	ks, raw, res, ok := s.authenticate(r, source)
	if !ok {
		return res
	}
	g, res, ok := parseGrant(r, raw)
	if !ok {
		return res
	}
	issued := s.now().UTC().Truncate(time.Second)
	token := encodeToken(ks.subscribeKey, issued, g)
	s.pam.issue(ks.subscribeKey, &IssuedToken{
		Token: token, IssuedAt: issued, TTL: g.ttl, AuthorizedUserID: g.uuid,
		Resources: g.resources.clone(), Patterns: g.patterns.clone(), Meta: cloneMap(g.meta),
		SecretKey: ks.secretKey,
	})
	return pamSuccess(token)
}

// grantSet is a resources or patterns object: name → permission bits.
type grantSet struct {
	Channels map[string]json.Number `json:"channels"`
	Groups   map[string]json.Number `json:"groups"`
	UUIDs    map[string]json.Number `json:"uuids"`
	Users    map[string]json.Number `json:"users"`
	Spaces   map[string]json.Number `json:"spaces"`
}

// parseGrant decodes and validates a grant body, answering 400 in Access
// Manager's shape: "Invalid JSON" (Content-Type other than
// application/json, malformed JSON, unknown property), "Invalid ttl"
// (missing, not an integer, or outside 1 to 43,200), "Invalid permissions"
// (no resource or pattern, bits that are zero, not an integer or not allowed
// for the type, a pattern that is not an RE2 regex) and "Invalid meta"
// (a value that is not a string, number or boolean).
//
// Strictest plausible choices ([U]): channels allow read, write, manage,
// delete, get, update and join; groups read and manage; uuids get, update
// and delete; the deprecated users and spaces any of the eight bits; a ttl
// given as a string and unknown properties are refused.
func parseGrant(r *http.Request, raw []byte) (grant, result, bool) {
	const source = "grant"
	invalid := func(message string, details ...pamDetail) (grant, result, bool) {
		return grant{}, pamError(http.StatusBadRequest, message, source, details...), false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return invalid("Invalid JSON", pamDetail{"Content-Type must be `application/json`.", "<root>", "body"})
	}
	var in struct {
		TTL         json.RawMessage `json:"ttl"`
		Permissions *struct {
			Resources *grantSet      `json:"resources"`
			Patterns  *grantSet      `json:"patterns"`
			Meta      map[string]any `json:"meta"`
			UUID      *string        `json:"uuid"`
		} `json:"permissions"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		msg := "Request body is not valid JSON."
		if name, ok := strings.CutPrefix(fmt.Sprint(err), "json: unknown field "); ok {
			msg = fmt.Sprintf("Unknown property %s.", name)
		}
		return invalid("Invalid JSON", pamDetail{msg, "<root>", "body"})
	}

	var g grant
	ttl, err := strconv.Atoi(string(in.TTL))
	if err != nil || ttl < minGrantTTL || ttl > maxGrantTTL {
		return invalid("Invalid ttl", pamDetail{"Range should be 1 to 43200 minute(s).", "ttl", "body"})
	}
	g.ttl = ttl
	if in.Permissions == nil {
		return invalid("Invalid permissions", pamDetail{"Permissions are required.", "permissions", "body"})
	}
	if in.Permissions.UUID != nil {
		g.uuid = *in.Permissions.UUID
	}

	var details []pamDetail
	convert := func(section string, set *grantSet, pattern bool) TokenPermissions {
		if set == nil {
			set = &grantSet{}
		}
		const all = 1<<8 - 1
		kinds := []struct {
			name    string
			in      map[string]json.Number
			allowed int
		}{
			{"channels", set.Channels, 1 | 2 | 4 | 8 | 32 | 64 | 128},
			{"groups", set.Groups, 1 | 4},
			{"uuids", set.UUIDs, 8 | 32 | 64},
			{"users", set.Users, all},
			{"spaces", set.Spaces, all},
		}
		out := make([]map[string]int, len(kinds))
		for i, k := range kinds {
			out[i] = make(map[string]int, len(k.in))
			for _, name := range sortedKeys(k.in) {
				loc := "permissions." + section + "." + k.name + "." + name
				bits, err := strconv.Atoi(k.in[name].String())
				switch {
				case err != nil || bits <= 0 || bits&^k.allowed != 0:
					details = append(details, pamDetail{fmt.Sprintf("Permission bits for %s must be a non-zero combination of %d.", k.name, k.allowed), loc, "body"})
					continue
				case pattern:
					if _, err := regexp.Compile(name); err != nil || name == "" {
						details = append(details, pamDetail{"Pattern must be a valid RE2 regular expression.", loc, "body"})
						continue
					}
				case name == "":
					details = append(details, pamDetail{"Resource name must not be empty.", loc, "body"})
					continue
				}
				out[i][name] = bits
			}
		}
		return TokenPermissions{Channels: out[0], Groups: out[1], UUIDs: out[2], Users: out[3], Spaces: out[4]}
	}
	g.resources = convert("resources", in.Permissions.Resources, false)
	g.patterns = convert("patterns", in.Permissions.Patterns, true)
	if details != nil {
		return invalid("Invalid permissions", details...)
	}
	if g.resources.empty() && g.patterns.empty() {
		return invalid("Invalid permissions", pamDetail{"At least one resource or pattern is required.", "permissions", "body"})
	}

	g.meta = map[string]any{}
	for _, k := range sortedKeys(in.Permissions.Meta) {
		switch v := in.Permissions.Meta[k].(type) {
		case string, bool:
			g.meta[k] = v
		case json.Number:
			if n, err := v.Int64(); err == nil {
				g.meta[k] = n
			} else if f, err := v.Float64(); err == nil && !math.IsInf(f, 0) {
				g.meta[k] = f
			} else {
				details = append(details, pamDetail{"Number is out of range.", "permissions.meta." + k, "body"})
			}
		default:
			details = append(details, pamDetail{"Meta values must be a string, a number or a boolean.", "permissions.meta." + k, "body"})
		}
	}
	if details != nil {
		return invalid("Invalid meta", details...)
	}
	g.metaKeys = sortedKeys(g.meta)
	return g, result{}, true
}

func (p TokenPermissions) empty() bool {
	return len(p.Channels)+len(p.Groups)+len(p.UUIDs)+len(p.Users)+len(p.Spaces) == 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// revokeToken serves DELETE /v3/pam/{subscribeKey}/grant/{token}: after
// authenticate, 403 when the keyset has token revoke off, 400 "Invalid
// token" for a token the sandbox did not issue for this keyset, an expired
// one ("Token is expired.", as recorded live) or one whose TTL is over 30
// days; else 200, recording the revocation. [U] Revoking a revoked token
// again answers 200 (revocation is a set insertion) and keeps the first
// time; the 403 and its message for token revoke off are the sandbox's.
func (s *Sandbox) revokeToken(r *http.Request) result {
	const source = "revoke"
	ks, _, res, ok := s.authenticate(r, source)
	if !ok {
		return res
	}
	if ks.accessManager.TokenRevoke == nil || !*ks.accessManager.TokenRevoke {
		return pamError(http.StatusForbidden, "Token revoke is disabled", source, pamDetail{"Token revoke (accessManager.tokenRevoke) is not enabled on this keyset.", "subscribeKey", "path"})
	}
	token := r.PathValue("token")
	issued, ttl, ok := verifyToken(ks.subscribeKey, token)
	invalid := func(msg string) result {
		return pamError(http.StatusBadRequest, "Invalid token", source, pamDetail{msg, "token", "path"})
	}
	now := s.now()
	switch {
	case !ok:
		return invalid("Token is malformed or was not issued for this subscribe key.")
	case !now.Before(issued.Add(time.Duration(ttl) * time.Minute)):
		return invalid("Token is expired.")
	case ttl > maxRevocableTTL:
		return invalid("Only tokens with a TTL of at most 43200 minutes (30 days) can be revoked.")
	}
	s.pam.revoke(ks.subscribeKey, token, now)
	return pamSuccess("")
}

// Tokens in PubNub's format: base64 URL-safe without padding of a CBOR map
// with byte-string keys v, t, ttl, res, pat, meta, uuid (when set) and sig,
// in that order, res and pat being maps of chan, grp, spc, usr and uuid
// (the order of a recorded live token), each a map of name → bits. sig is
// HMAC-SHA256 under tokenKey of the subscribe key, a zero byte and the CBOR
// before the sig entry, and is always the last 38 bytes.
//
// CBOR is written by hand (RFC 8949, definite lengths, shortest heads) so
// that the sandbox stays on the standard library.

const sigEntryLen = 6 + sha256.Size // 0x43 "sig" 0x58 0x20, then 32 bytes

func encodeToken(subscribeKey string, issued time.Time, g grant) string {
	var b cborWriter
	entries := 7
	if g.uuid != "" {
		entries++
	}
	b.head(5, uint64(entries))
	b.bytes("v")
	b.uint(2)
	b.bytes("t")
	b.uint(uint64(issued.Unix()))
	b.bytes("ttl")
	b.uint(uint64(g.ttl))
	for _, section := range []struct {
		key string
		p   TokenPermissions
	}{{"res", g.resources}, {"pat", g.patterns}} {
		b.bytes(section.key)
		b.head(5, 5)
		for _, kind := range []struct {
			key string
			m   map[string]int
		}{{"chan", section.p.Channels}, {"grp", section.p.Groups}, {"spc", section.p.Spaces}, {"usr", section.p.Users}, {"uuid", section.p.UUIDs}} {
			b.bytes(kind.key)
			b.head(5, uint64(len(kind.m)))
			for _, name := range sortedKeys(kind.m) {
				b.text(name)
				b.uint(uint64(kind.m[name]))
			}
		}
	}
	b.bytes("meta")
	b.head(5, uint64(len(g.metaKeys)))
	for _, k := range g.metaKeys {
		b.text(k)
		switch v := g.meta[k].(type) {
		case string:
			b.text(v)
		case bool:
			b.bool(v)
		case int64:
			b.int(v)
		case float64:
			b.float(v)
		}
	}
	if g.uuid != "" {
		b.bytes("uuid")
		b.text(g.uuid)
	}
	b.bytes("sig")
	b.head(2, sha256.Size)
	b = append(b, tokenMAC(subscribeKey, b[:len(b)-6])...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenMAC(subscribeKey string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(tokenKey))
	mac.Write([]byte(subscribeKey))
	mac.Write([]byte{0})
	mac.Write(body)
	return mac.Sum(nil)
}

// verifyToken reports whether token is one the sandbox issued for
// subscribeKey and returns its issue time and TTL. Padding and the standard
// base64 alphabet are accepted, as clients may send either.
func verifyToken(subscribeKey, token string) (issued time.Time, ttl int, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(urlAlphabet(strings.TrimRight(token, "=")))
	if err != nil || len(raw) < 1+sigEntryLen {
		return time.Time{}, 0, false
	}
	body, entry := raw[:len(raw)-sigEntryLen], raw[len(raw)-sigEntryLen:]
	if !bytes.Equal(entry[:6], []byte{0x43, 's', 'i', 'g', 0x58, 0x20}) || !hmac.Equal(entry[6:], tokenMAC(subscribeKey, body)) {
		return time.Time{}, 0, false
	}
	// The MAC proves the sandbox wrote body, so its layout is known: a map
	// head, then v, t and ttl.
	rest, ok := bytes.CutPrefix(body[1:], []byte{0x41, 'v', 0x02, 0x41, 't'})
	if !ok {
		return time.Time{}, 0, false
	}
	t, rest, ok := readUint(rest)
	if !ok {
		return time.Time{}, 0, false
	}
	rest, ok = bytes.CutPrefix(rest, []byte{0x43, 't', 't', 'l'})
	if !ok {
		return time.Time{}, 0, false
	}
	n, _, ok := readUint(rest)
	if !ok || t > math.MaxInt64 || n > math.MaxInt32 {
		return time.Time{}, 0, false
	}
	return time.Unix(int64(t), 0), int(n), true
}

// urlAlphabet maps base64's standard alphabet to the URL-safe one.
func urlAlphabet(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '+':
			return '-'
		case '/':
			return '_'
		}
		return r
	}, s)
}

// readUint reads a CBOR unsigned integer (major type 0).
func readUint(b []byte) (uint64, []byte, bool) {
	if len(b) == 0 || b[0]>>5 != 0 {
		return 0, nil, false
	}
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return uint64(info), b[1:], true
	case info == 24 && len(b) >= 2:
		return uint64(b[1]), b[2:], true
	case info == 25 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], true
	case info == 26 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), b[5:], true
	case info == 27 && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), b[9:], true
	}
	return 0, nil, false
}

// cborWriter appends CBOR data items.
type cborWriter []byte

// head writes a major type with its argument in the shortest form.
func (b *cborWriter) head(major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		*b = append(*b, m|byte(n))
	case n <= math.MaxUint8:
		*b = append(*b, m|24, byte(n))
	case n <= math.MaxUint16:
		*b = binary.BigEndian.AppendUint16(append(*b, m|25), uint16(n))
	case n <= math.MaxUint32:
		*b = binary.BigEndian.AppendUint32(append(*b, m|26), uint32(n))
	default:
		*b = binary.BigEndian.AppendUint64(append(*b, m|27), n)
	}
}

func (b *cborWriter) uint(n uint64) { b.head(0, n) }

func (b *cborWriter) int(n int64) {
	if n >= 0 {
		b.head(0, uint64(n))
		return
	}
	b.head(1, uint64(-(n + 1)))
}

func (b *cborWriter) bytes(s string) { b.head(2, uint64(len(s))); *b = append(*b, s...) }

func (b *cborWriter) text(s string) { b.head(3, uint64(len(s))); *b = append(*b, s...) }

func (b *cborWriter) bool(v bool) {
	if v {
		*b = append(*b, 0xf5)
		return
	}
	*b = append(*b, 0xf4)
}

func (b *cborWriter) float(f float64) {
	*b = binary.BigEndian.AppendUint64(append(*b, 0xfb), math.Float64bits(f))
}
