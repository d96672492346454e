package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// TestContract is a property-based conformance test driven by openapi.yaml, like the fuzzing
// of issue 11: for every operation it sends generated requests (valid ones, and ones with
// missing, extra, mistyped, too long, NUL, control-character, bad UTF-8 and lone-surrogate
// values, malformed and huge bodies, wrong content types, bad path IDs and query parameters,
// no key and a key without the scope) through the real router, and fails on
//   - any 5xx;
//   - any answer the spec does not describe for the operation (status, content type, body);
//   - a 2xx or 3xx to a request the spec refuses (kin-openapi's request validation judges,
//     with the text rules the spec states in words: textRefuses);
//   - a 400, 413 or 415 to a request the spec accepts, or a 422 naming a field whose valid
//     values the spec does describe (dependent lists the few it cannot: a cursor only the
//     server makes, a tenant's environments): the server may not be stricter than the spec;
//   - a 401 or 403 to a request with the key that holds every scope;
//   - a 405 without Allow.
//
// The generator is seeded, so a run is repeatable; it sends about 1,900 requests.
func TestContract(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	ts := newTestServer(t)
	full := ts.key(t, auth.AllScopes()...)

	type operation struct {
		path, method string
		op           *openapi3.Operation
		params       openapi3.Parameters
	}
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{path, method, op, append(slices.Clone(item.Parameters), op.Parameters...)})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].op.OperationID < ops[j].op.OperationID })
	require.Len(t, ops, 36)

	for i, o := range ops {
		t.Run(o.op.OperationID, func(t *testing.T) {
			t.Parallel()
			g := &generator{t: t, rng: rand.New(rand.NewPCG(uint64(i), 2026)), full: full}
			ids := fixtures(t, ts, o.op.OperationID)
			scope, _ := o.op.Extensions["x-required-scope"].(string)
			var wrong string
			if scope != "" {
				var others []auth.Scope
				for _, s := range auth.AllScopes() {
					if string(s) != scope {
						others = append(others, s)
					}
				}
				wrong = ts.key(t, others...)
			}

			sent := 0
			for range 3 { // three valid bases, each with its variations
				// The valid request: fixture path IDs, valid query values, a valid body.
				base := request{op: o.op.OperationID, method: o.method, path: o.path, pathValues: ids, query: url.Values{}, key: full}
				for _, p := range o.params {
					// A cursor is valid only as the server made it: the valid request has none.
					if p.Value.In == "query" && p.Value.Name != "cursor" && g.rng.IntN(2) == 0 {
						base.query.Set(p.Value.Name, g.validParam(p.Value.Schema.Value))
					}
				}
				var bodySchema *openapi3.Schema
				if rb := o.op.RequestBody; rb != nil {
					if mt := rb.Value.Content.Get("application/json"); mt != nil {
						bodySchema = mt.Schema.Value
						base.bodySchema = bodySchema
						base.body, base.contentType = g.jsonBody(g.valid(bodySchema, "")), "application/json"
					}
				}

				cases := []request{base}
				add := func(name string, change func(r *request)) {
					r := base.clone()
					r.name = name
					change(&r)
					cases = append(cases, r)
				}
				if scope != "" {
					add("NoKey", func(r *request) { r.key = "" })
					add("WrongScope", func(r *request) { r.key = wrong })
				}
				for name := range ids {
					for label, bad := range badIDs() {
						add("Path"+name+label, func(r *request) { r.pathValues = with(r.pathValues, name, bad) })
					}
				}
				for _, p := range o.params {
					if p.Value.In != "query" {
						continue
					}
					name := p.Value.Name
					for label, bad := range g.badParams(p.Value.Schema.Value) {
						add("Query"+name+label, func(r *request) { r.query.Set(name, bad) })
					}
					add("Query"+name+"Twice", func(r *request) {
						v := g.validParam(p.Value.Schema.Value)
						r.query[name] = []string{v, v}
					})
				}
				if bodySchema != nil {
					for label, body := range g.badBodies(bodySchema) {
						add("Body"+label, func(r *request) { r.body = body })
					}
					add("ContentTypeText", func(r *request) { r.contentType = "text/plain" })
					add("ContentTypeForm", func(r *request) { r.contentType = "application/x-www-form-urlencoded" })
					add("NoBody", func(r *request) { r.body = nil })
				}
				for _, r := range cases {
					g.send(ts, router, r)
				}
				sent += len(cases)
			}
			t.Logf("%d requests", sent)
		})
	}
}

// fixtures makes what an operation's path IDs point at, its own so operations can run in
// parallel (one deletes its endpoint, another revokes its key).
func fixtures(t *testing.T, ts *testServer, opID string) map[string]string {
	t.Helper()
	ctx := context.Background()
	ids := map[string]string{}
	switch {
	case strings.Contains(opID, "Tenant") && opID != "createTenant" && opID != "listTenants":
		ext := "spec-" + strings.ToLower(opID)
		_, _, err := ts.tenants.Create(ctx, tenants.CreateParams{ExternalID: ext, Name: "Spec " + opID, Actor: "test"})
		require.NoError(t, err)
		ids["externalId"] = ext
		if opID == "revokeTenantToken" {
			ids["token"] = "tok_aaaaaaaaaaaaaaaaaaaaaaaaaa"
		}
	case strings.Contains(opID, "Webhook") && opID != "createWebhookEndpoint" && opID != "listWebhookEndpoints":
		u := "https://hooks.example.com/" + opID
		e, _, err := ts.webhooks.CreateEndpoint(ctx, webhooks.EndpointParams{URL: &u})
		require.NoError(t, err)
		ids["id"] = e.ID
		if opID == "retryWebhookDelivery" {
			ids["deliveryId"] = "3b241101-e2bb-4255-8caf-4136c566a962"
		}
	case opID == "revokeApiKey":
		k, _, err := ts.keys.Create(ctx, auth.CreateParams{Name: "victim", Scopes: []auth.Scope{auth.ScopeTenantsRead}, CreatedBy: auth.SystemActor("test")})
		require.NoError(t, err)
		ids["id"] = k.ID
	}
	return ids
}

// badIDs are path IDs that no resource has: percent-encoded as they go on the wire.
func badIDs() map[string]string {
	return map[string]string{
		"NUL": "a%00b", "ANSI": "%1B%5B31m", "BadUTF8": "%FF%FE", "LoneSurrogateUTF8": "%ED%A0%80",
		"TooLong": strings.Repeat("a", 300), "Unknown": "nobody-here", "UUID": "3b241101-e2bb-4255-8caf-4136c566a962",
		"Dots": "..", "EncodedSlash": "a%2Fb", "Space": "a%20b", "Unicode": "%C3%A9",
	}
}

type request struct {
	op, name, method, path string
	bodySchema             *openapi3.Schema
	pathValues             map[string]string // already percent-encoded
	query                  url.Values        // raw values, encoded on send
	key                    string
	contentType            string
	body                   []byte
}

func (r request) clone() request {
	c := r
	c.pathValues = with(r.pathValues, "", "")
	c.query = url.Values{}
	for k, v := range r.query {
		c.query[k] = slices.Clone(v)
	}
	c.body = slices.Clone(r.body)
	return c
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		out[a] = b
	}
	if k != "" {
		out[k] = v
	}
	return out
}

type generator struct {
	t    *testing.T
	rng  *rand.Rand
	full string // the key with every scope
}

// send makes the HTTP request, then holds the answer against the spec.
func (g *generator) send(ts *testServer, router routers.Router, r request) {
	t := g.t
	t.Helper()
	path := r.path
	for k, v := range r.pathValues {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	target := ts.srv.URL + path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, target, body)
	require.NoError(t, err)
	if r.contentType != "" && r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	specErr := specRefuses(router, req, r.body)
	if specErr == nil && r.body != nil && r.contentType == "application/json" {
		specErr = notWellFormed(r.body) // JSON Schema cannot see duplicates or trailing data
	}
	if specErr == nil {
		specErr = textRefuses(r)
	}

	resp, err := ts.srv.Client().Do(req)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	what := fmt.Sprintf("%s: %s %s → %d %s", cmpOr(r.name, "Valid"), r.method, path, resp.StatusCode, truncate(got))

	require.Less(t, resp.StatusCode, 500, what)
	if resp.StatusCode == http.StatusMethodNotAllowed {
		require.NotEmpty(t, resp.Header.Get("Allow"), what)
	}
	if specErr != nil {
		require.GreaterOrEqual(t, resp.StatusCode, 400, "%s\nthe spec refuses this request: %v", what, specErr)
	} else {
		// Two-sided: what the spec accepts, the server accepts too. Only what depends on state
		// the request cannot see may refuse it: the key (401 without one, 403 without the
		// scope), a resource that does not exist or is in the wrong state (404, 409, when the
		// operation documents them; ts.spec.check fails an undocumented status).
		if resp.StatusCode == http.StatusUnprocessableEntity {
			requireDependent(t, r.op, got, what)
		} else {
			require.NotContains(t, []int{400, 413, 415}, resp.StatusCode,
				"%s\nthe spec accepts this request, the server refuses it: server and spec disagree", what)
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			require.Empty(t, r.key, "%s\na key was sent", what)
		case http.StatusForbidden:
			require.NotEqual(t, g.full, r.key, "%s\nthe key holds every scope", what)
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(r.body))
	ts.spec.check(t, req, resp.StatusCode, resp.Header, got)
}

// dependent are the fields of each operation whose valid values the spec cannot list, as it
// says in words: a request the spec accepts may get a 422 naming only these. Every other
// 422 to such a request is a disagreement between server and spec.
func dependent() map[string]map[string]string {
	cursor := map[string]string{"cursor": "the previous page's nextCursor: only the server makes one"}
	return map[string]map[string]string{
		"listTenants": cursor, "listTenantEvents": cursor, "listTenantTokens": cursor, "listEvents": cursor,
		"listWebhookDeliveries": cursor, "getUsageReport": cursor,
		"parseToken": {"token": "a token that is not one answers 422 on token"},
		"createTenantToken": {
			"environment": "one of the tenant's environments whose keyset has Access Manager on",
			"resources":   "at least one resource or pattern (channels, channelGroups, userIds, or patterns)",
		},
		"getTenantUsage": {"environment": "per-environment usage only where it is synced (PNONBOARD_USAGE_BY_ENVIRONMENT)"},
	}
}

// requireDependent fails unless the 422 body names only fields of op that depend on what the
// spec cannot see.
func requireDependent(t *testing.T, op string, body []byte, what string) {
	t.Helper()
	var p struct{ Errors []struct{ Field string } }
	require.NoError(t, json.Unmarshal(body, &p), what)
	require.NotEmpty(t, p.Errors, what)
	for _, e := range p.Errors {
		_, ok := dependent()[op][e.Field]
		require.True(t, ok, "%s\nthe spec accepts this request, the server refuses %q: server and spec disagree", what, e.Field)
	}
}

// textRefuses applies the text rules the spec states in words because JSON Schema cannot
// express them (a JSON Schema validator sees decoded strings, and one value per parameter):
// no invalid UTF-8 and no lone surrogate escapes, in the body and the query; no query
// parameter twice; and propertyNames, which kin-openapi does not check. nil when none is
// broken.
func textRefuses(r request) error {
	for name, vs := range r.query {
		if len(vs) > 1 {
			return fmt.Errorf("query parameter %s given twice", name)
		}
		if !utf8.ValidString(vs[0]) {
			return fmt.Errorf("query parameter %s is not UTF-8", name)
		}
	}
	if r.body == nil || r.contentType != "application/json" {
		return nil
	}
	if !utf8.Valid(r.body) {
		return errors.New("the body is not UTF-8")
	}
	if loneSurrogate(r.body) {
		return errors.New("the body holds a lone surrogate escape")
	}
	var v any
	if r.bodySchema != nil && json.Unmarshal(r.body, &v) == nil {
		return propertyNamesRefuse(r.bodySchema, v, "")
	}
	return nil
}

// loneSurrogate reports whether JSON text holds a \uD800-\uDFFF escape that is not half of
// a pair.
func loneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escape such as \\ or \": skip its second byte
			continue
		}
		r, ok := hex4(i)
		switch {
		case !ok:
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low half first
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := hex4(i + 6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6
		}
		i += 5
	}
	return false
}

// propertyNamesRefuse checks v's member names against the schema's propertyNames, all the way
// down.
func propertyNamesRefuse(s *openapi3.Schema, v any, at string) error {
	switch v := v.(type) {
	case map[string]any:
		for name, member := range v {
			if pn := s.PropertyNames; pn != nil {
				if err := pn.Value.VisitJSON(name); err != nil {
					return fmt.Errorf("%s: member name %q: %w", at, name, err)
				}
			}
			var sub *openapi3.Schema
			if p := s.Properties[name]; p != nil {
				sub = p.Value
			} else if ap := s.AdditionalProperties.Schema; ap != nil {
				sub = ap.Value
			}
			if sub != nil {
				if err := propertyNamesRefuse(sub, member, at+"/"+name); err != nil {
					return err
				}
			}
		}
	case []any:
		if s.Items != nil {
			for i, item := range v {
				if err := propertyNamesRefuse(s.Items.Value, item, fmt.Sprintf("%s/%d", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// specRefuses asks kin-openapi whether the spec accepts req (security aside).
func specRefuses(router routers.Router, req *http.Request, body []byte) error {
	clone := req.Clone(context.Background())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(clone)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: clone, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	})
}

// notWellFormed says why body is not one JSON value with unique member names, or nil.
func notWellFormed(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !json.Valid(body) {
		return fmt.Errorf("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // the next token of an object is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return fmt.Errorf("member %q appears twice", name)
			}
			top.names[name], top.key = true, false
			continue
		}
		if top != nil && top.object {
			top.key = true
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
		case '[':
			stack = append(stack, &frame{})
		case ']':
			stack = stack[:len(stack)-1]
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// word is random text of n characters, some of them two-byte, so byte and character counts
// differ.
func (g *generator) word(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	for range n {
		if g.rng.IntN(4) == 0 {
			b.WriteString("é")
		} else {
			b.WriteByte(letters[g.rng.IntN(len(letters))])
		}
	}
	return b.String()
}

func isType(s *openapi3.Schema, typ string) bool { return s.Type != nil && s.Type.Is(typ) }

// validParam is a valid value for a query parameter's schema.
func (g *generator) validParam(s *openapi3.Schema) string {
	switch {
	case s.Example != nil:
		return fmt.Sprint(s.Example)
	case len(s.Enum) > 0:
		return fmt.Sprint(s.Enum[g.rng.IntN(len(s.Enum))])
	case isType(s, "integer"):
		lo, hi := 1, 100
		if s.Min != nil {
			lo = int(*s.Min)
		}
		if s.Max != nil {
			hi = int(*s.Max)
		}
		return fmt.Sprint([]int{lo, hi, lo + g.rng.IntN(hi-lo+1)}[g.rng.IntN(3)])
	case s.Format == "date-time":
		return "2026-01-02T15:04:05Z"
	}
	return g.word(1 + g.rng.IntN(8))
}

// badParams are values a query parameter's schema refuses (or, for free text, the server's
// text rules do).
func (g *generator) badParams(s *openapi3.Schema) map[string]string {
	bad := map[string]string{"NUL": "a\x00b", "ANSI": "\x1b[31m", "BadUTF8": "a\xffb", "Newline": "a\nb"}
	switch {
	case len(s.Enum) > 0:
		bad["NotInEnum"], bad["Empty"] = "nope", ""
	case isType(s, "integer"):
		bad["Zero"], bad["TooBig"], bad["NotANumber"], bad["Fraction"], bad["Empty"], bad["Huge"] =
			"0", fmt.Sprint(int(*s.Max)+1), "ten", "1.5", "", "99999999999999999999999"
	case s.Format == "date-time":
		bad["NotATime"], bad["Empty"] = "yesterday", ""
	}
	if s.MaxLength != nil {
		bad["AtMaxLength"] = strings.Repeat("é", int(*s.MaxLength)) // valid, and at the edge
		bad["OverMaxLength"] = strings.Repeat("é", int(*s.MaxLength)+1)
	}
	return bad
}

// valid makes a value the schema accepts: required properties and, at random, others.
func (g *generator) valid(s *openapi3.Schema, name string) any {
	switch {
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[g.rng.IntN(len(s.Enum))]
	case isType(s, "object"):
		obj := map[string]any{}
		for pname, p := range s.Properties {
			if slices.Contains(s.Required, pname) || g.rng.IntN(2) == 0 {
				obj[pname] = g.valid(p.Value, pname)
			}
		}
		if ap := s.AdditionalProperties.Schema; ap != nil && len(s.Properties) == 0 {
			obj[g.word(5)] = g.valid(ap.Value, "")
		}
		return obj
	case isType(s, "array"):
		items := []any{}
		n := max(int(s.MinItems), 1)
		for range n {
			v := g.valid(s.Items.Value, name)
			if !slices.ContainsFunc(items, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
				items = append(items, v)
			}
		}
		return items
	case isType(s, "boolean"):
		return g.rng.IntN(2) == 0
	case isType(s, "string"):
		switch {
		case name == "externalId":
			return "spec-" + strings.ReplaceAll(g.word(8), "é", "e")
		case s.Format == "uri":
			return "https://hooks.example.com/" + strings.ReplaceAll(g.word(6), "é", "e")
		case name == "environments":
			return "production"
		}
		n := 1 + g.rng.IntN(20)
		if s.MaxLength != nil && g.rng.IntN(3) == 0 {
			n = int(*s.MaxLength) // the boundary, in characters
		}
		return g.word(n)
	}
	return "x"
}

func (g *generator) jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(g.t, err)
	return b
}

// badBodies are bodies the spec or the text rules refuse, each a variation of a valid one.
func (g *generator) badBodies(s *openapi3.Schema) map[string][]byte {
	bad := map[string][]byte{
		"Malformed": []byte(`{"a":`), "Array": []byte(`[]`), "String": []byte(`"x"`), "Number": []byte(`1`),
		"Null": []byte(`null`), "TwoObjects": []byte(`{} {}`), "Deep": []byte(strings.Repeat("[", 10000)),
		"Huge": []byte(`{"x":"` + strings.Repeat("a", 70<<10) + `"}`), "RawNUL": []byte("{\"a\":\"\x00\"}"),
		"Unknown": []byte(`{"zzz":1}`),
	}
	valid := g.valid(s, "").(map[string]any)
	for pname, p := range s.Properties {
		mutate := func(label string, v any) {
			obj := with2(valid, pname, v)
			bad[pname+label] = g.jsonBody(obj)
		}
		if slices.Contains(s.Required, pname) {
			obj := with2(valid, "", nil)
			delete(obj, pname)
			bad[pname+"Missing"] = g.jsonBody(obj)
		}
		for label, v := range map[string]any{"Number": 7, "Bool": true, "Null": nil, "Object": map[string]any{}} {
			mutate(label, v)
		}
		ps := p.Value
		if isType(ps, "array") {
			mutate("String", "x")
			if ps.UniqueItems {
				item := g.valid(ps.Items.Value, "")
				mutate("Duplicates", []any{item, item})
			}
			continue
		}
		if isType(ps, "object") {
			mutate("KeyNUL", map[string]any{"a\x00": "b"})
			mutate("ValueNUL", map[string]any{"a": "b\x00"})
			mutate("ValueTooLong", map[string]any{"a": strings.Repeat("é", 513)})
			mutate("ValueNotString", map[string]any{"a": 1})
			continue
		}
		if !isType(ps, "string") {
			continue
		}
		mutate("Array", []any{"x"})
		mutate("NUL", "a\x00b")
		mutate("ANSI", "\x1b[31mred")
		mutate("Newline", "two\nlines")
		mutate("Blank", "   ")
		mutate("Empty", "")
		if ps.MaxLength != nil {
			mutate("OverMaxLength", strings.Repeat("é", int(*ps.MaxLength)+1))
			mutate("WayOverMaxLength", strings.Repeat("x", 10*int(*ps.MaxLength)+10))
		}
		// What json.Marshal cannot write: raw bad bytes, lone surrogates, duplicates, case.
		enc := string(g.jsonBody(valid))
		field := `"` + pname + `":`
		if i := strings.Index(enc, field); i >= 0 {
			insert := func(label, text string) { bad[pname+label] = []byte(enc[:i] + text + "," + enc[i:]) }
			replace := func(label, text string) {
				rest := enc[i+len(field):]
				var v json.RawMessage
				dec := json.NewDecoder(strings.NewReader(rest))
				require.NoError(g.t, dec.Decode(&v))
				bad[pname+label] = []byte(enc[:i] + field + text + rest[dec.InputOffset():])
			}
			replace("BadUTF8", "\"a\xffb\"")
			replace("LoneSurrogate", `"a\ud800b"`)
			insert("Duplicated", field+`"dup"`)
			upper := strings.ToUpper(pname[:1]) + pname[1:]
			replace("CaseFolded", `"x","`+upper+`":"y"`)
		}
	}
	return bad
}

func with2(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for a, b := range m {
		out[a] = b
	}
	if k != "" {
		out[k] = v
	}
	return out
}
