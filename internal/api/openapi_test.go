package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/auth"
)

// loadSpec parses and validates openapi.yaml, with servers cleared so any test host matches.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(pnonboard.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	doc.Servers = nil
	return doc
}

// specValidator checks real responses against the spec.
type specValidator struct {
	router routers.Router
}

func newSpecValidator(t *testing.T) *specValidator {
	t.Helper()
	router, err := legacy.NewRouter(loadSpec(t))
	require.NoError(t, err)
	return &specValidator{router: router}
}

// check fails t if resp (to req) is not what the spec promises for the operation. Requests the
// spec does not describe (unknown paths) are not checked.
func (v *specValidator) check(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return
	}
	for _, p := range params {
		if p == "" { // the legacy router lets a template's last parameter match nothing
			return
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out),
		"%s %s → %d does not match openapi.yaml:\n%s", req.Method, req.URL.Path, status, body)
}

// TestOpenAPIMatchesRouter: the spec's operations and the router's routes are the same set,
// and every guarded operation's x-required-scope is the scope the router enforces.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	ts := newTestServer(t)

	specOps := map[string]string{} // "METHOD /path" → required scope ("" if public)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			scope, _ := op.Extensions["x-required-scope"].(string)
			if op.Security == nil || len(*op.Security) > 0 {
				require.NotEmpty(t, scope, "%s %s needs x-required-scope", method, path)
			}
			specOps[method+" "+path] = scope
		}
	}
	routerOps := map[string]string{}
	for _, rt := range walkRoutes(t, ts.handler) {
		if strings.HasPrefix(rt.pattern, "/riverui") {
			continue // the River job UI: a browser app, not part of the API contract
		}
		routerOps[rt.method+" "+rt.pattern] = string(rt.scope)
	}
	require.Equal(t, sortedKeys(specOps), sortedKeys(routerOps), "router and openapi.yaml disagree on the operations")
	require.Equal(t, specOps, routerOps, "router and openapi.yaml disagree on scopes")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestMethodNotAllowedSaysWhatIs: every path of the contract answers each method it does not
// offer with 405, problem+json and an Allow header listing exactly the methods it does offer
// (RFC 9110 §15.5.6; issue 11 found 89 pairs without one). A path that matches nothing is a 404,
// whatever the method, and so is a path with an empty segment.
func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	ts := newTestServer(t)
	key := ts.key(t, auth.AllScopes()...)
	standard := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

	pairs := 0
	for path, item := range doc.Paths.Map() {
		offered := map[string]bool{}
		for method, op := range item.Operations() {
			if op.OperationID != "deleteTenant" { // exists only to explain its 405
				offered[method] = true
			}
		}
		var allow []string
		for _, m := range standard {
			if offered[m] {
				allow = append(allow, m)
			}
		}
		concrete := pathParam.ReplaceAllString(path, "x")
		for _, m := range append(standard, "FOO") {
			if offered[m] {
				continue
			}
			pairs++
			resp := ts.do(t, m, concrete, key, nil)
			require.Equal(t, http.StatusMethodNotAllowed, resp.Status, "%s %s", m, concrete)
			require.Equal(t, strings.Join(allow, ", "), resp.Header.Get("Allow"), "%s %s", m, concrete)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		}
	}
	t.Logf("%d method/path pairs answered 405 with Allow", pairs)

	for _, c := range [][2]string{
		{"FOO", "/nowhere"}, {"PUT", "/nowhere"}, {"POST", "/v1/tenants//disable"}, {"GET", "/v1/tenants//disable"},
		{"GET", "/v1/tenants//events"}, {"DELETE", "/v1/tenants//"}, {"GET", "/v1//tenants"}, {"PATCH", "/v1/webhook-endpoints//deliveries"},
	} {
		resp := ts.do(t, c[0], c[1], key, nil)
		require.Equal(t, http.StatusNotFound, resp.Status, "%s %s", c[0], c[1])
		require.Empty(t, resp.Header.Get("Allow"))
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata/openapi.version after a bumped openapi.yaml")

// TestOpenAPIVersionBumped: a change to openapi.yaml must come with a new info.version, so a
// client can tell contracts apart. testdata/openapi.version holds the version and the hash of
// the document it was given to; after changing the document and bumping the version, run
// go test ./internal/api -run TestOpenAPIVersionBumped -update.
func TestOpenAPIVersionBumped(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	sum := sha256.Sum256(pnonboard.OpenAPI())
	current := doc.Info.Version + " sha256:" + hex.EncodeToString(sum[:])
	path := filepath.Join("testdata", "openapi.version")
	golden, err := os.ReadFile(path)
	require.NoError(t, err)
	version, hash, _ := strings.Cut(strings.TrimSpace(string(golden)), " ")
	if *updateGolden && hash != "sha256:"+hex.EncodeToString(sum[:]) {
		require.NotEqual(t, version, doc.Info.Version, "openapi.yaml changed: bump info.version before -update")
		require.NoError(t, os.WriteFile(path, []byte(current+"\n"), 0o644))
		return
	}
	require.Equal(t, strings.TrimSpace(string(golden)), current,
		"openapi.yaml changed since testdata/openapi.version: bump info.version, then run with -update")
}
