package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

// paramsSeeds are path IDs and query strings as they go on the wire (percent-encoded): the
// cases of issue 11 and their neighbours.
func paramsSeeds() [][2]string {
	long := strings.Repeat("a", 300)
	longE := strings.Repeat("%C3%A9", 256)
	return [][2]string{
		{"acme", "q=acme&limit=50&createdAfter=2026-01-02T15:04:05Z&state=" + string(tenants.StateActive) + "&drifted=true"},
		{"a%00b", "q=a%00b"},
		{"acme", "tenant=a%00b"},
		{"%00", "q=%00"},
		{"%ff", "q=%ff"},
		{"%FF%FE", "q=a%FFb"},
		{"%ED%A0%80", "q=%ED%A0%80"}, // a surrogate, UTF-8 encoded
		{"a%2Fb", "q=a%2Fb"},
		{"a%20b", "q=a+b"},
		{"%1B%5B31m", "q=%1B%5B31m"},
		{"%C2%85", "q=%C2%9B"}, // C1 controls
		{"%C3%A9", "q=%C3%A9"},
		{"..", "q=.."},
		{long, "q=" + long},
		{strings.Repeat("a", 255), "q=" + strings.Repeat("a", 255)},
		{longE, "q=" + longE},
		{"acme", "limit=0"}, {"acme", "limit=-1"}, {"acme", "limit=201"}, {"acme", "limit=200"}, {"acme", "limit=1"},
		{"acme", "limit=01"}, {"acme", "limit=+5"}, {"acme", "limit=1.5"}, {"acme", "limit=1e2"}, {"acme", "limit="},
		{"acme", "limit=99999999999999999999999"}, {"acme", "limit=%00"}, {"acme", "limit=10&limit=10"},
		{"acme", "createdAfter=2026-01-02T15:04:05Z"}, {"acme", "createdAfter=2026-01-02T15:04:05.123456789%2B02:00"},
		{"acme", "createdAfter=2026-01-02"}, {"acme", "createdAfter=yesterday"}, {"acme", "createdAfter="},
		{"acme", "createdAfter=2026-13-45T25:61:61Z"}, {"acme", "createdAfter=0000-01-01T00:00:00Z"},
		{"acme", "createdAfter=9999-12-31T23:59:59.999999999Z"}, {"acme", "createdAfter=2026-01-02T15:04:05%00Z"},
		{"acme", "createdAfter=2026-01-02T15:04:05Z&createdAfter=2026-01-02T15:04:05Z"},
		{"acme", "state=nope"}, {"acme", "state="}, {"acme", "drifted=yes"}, {"acme", "drifted=TRUE"},
		{"acme", "cursor=" + encodeUsageCursor(42)}, {"acme", "cursor=dXI6MA"}, {"acme", "cursor=dXI6LTE"},
		{"acme", "cursor=dXI6MDQy"}, {"acme", "cursor=dXI6NDJ"}, {"acme", "cursor=%00"},
		{"acme", "cursor=" + strings.Repeat("A", 513)}, {"acme", "cursor=****"},
		{"acme", "%"}, {"acme", "q=%zz"}, {"acme", "q=%"}, {"acme", "q=a&q=b"}, {"acme", "&&&="}, {"acme", ";"},
		{"", ""}, {"%", ""}, {"%zz", ""},
	}
}

// FuzzParams feeds the parameter half of the decoding layer (params.go) arbitrary path IDs and
// query strings, through chi as a request reaches it. It must never panic; whatever it refuses
// is one problem with a 4xx status (400 for bad URL encoding, 404 for an impossible path ID,
// 422 naming only the parameters at fault); whatever it accepts is text (valid UTF-8, no
// control character) within its length, a limit in range, a time that parses, an enum member.
//
//	go test -run '^$' -fuzz '^FuzzParams$' -fuzztime 10s ./internal/api
func FuzzParams(f *testing.F) {
	for _, s := range paramsSeeds() {
		f.Add(s[0], s[1])
	}
	states := []string{string(tenants.StateActive), string(tenants.StateFailed)}
	f.Fuzz(func(t *testing.T, rawID, rawQuery string) {
		req, err := http.NewRequest(http.MethodGet, "http://x/t/"+rawID+"?"+rawQuery, nil)
		if err != nil || req.URL.RawQuery != rawQuery {
			return // not a request a client can send: net/http refuses it before us
		}
		var (
			ran                 bool
			id, q, cur, st      string
			lim                 int
			after               time.Time
			drifted             bool
			perr                error
			usageAfter          int64
			usageErr, usageSeen = error(nil), false
		)
		r := chi.NewRouter()
		r.Get("/t/{id}", func(w http.ResponseWriter, r *http.Request) {
			ran = true
			p := newParams(r)
			id = p.path("id")
			q = p.text("q", 255)
			lim = p.limit(50, 200)
			after = p.time("createdAfter")
			st = p.enum("state", states)
			drifted = p.boolean("drifted")
			cur = p.text("cursor", maxCursorLen)
			perr = p.err()
			if cur != "" {
				usageAfter, usageErr = decodeUsageCursor(cur)
				usageSeen = true
			}
		})
		r.ServeHTTP(httptest.NewRecorder(), req)
		if !ran {
			return // chi found no route (an ID holding a raw slash): a 404 before any parameter
		}

		values, parseErr := url.ParseQuery(rawQuery)
		var apiErr *Error
		if perr != nil {
			if !errors.As(perr, &apiErr) {
				t.Fatalf("refusal %T %v is not a problem", perr, perr)
			}
			if apiErr.Status < 400 || apiErr.Status > 499 {
				t.Fatalf("refusal with status %d: %v", apiErr.Status, perr)
			}
		}
		status := func() int {
			if apiErr == nil {
				return 0
			}
			return apiErr.Status
		}

		// URL encoding: bad encoding is a 400, and nothing else is.
		if parseErr != nil && status() != http.StatusBadRequest {
			t.Fatalf("query %q does not parse (%v), answered %d", rawQuery, parseErr, status())
		}
		if status() == http.StatusBadRequest && parseErr == nil {
			t.Fatalf("400 for query %q, which parses", rawQuery)
		}
		// The path ID: accepted only as text of 1 to 255 characters; otherwise the request
		// is refused (404, or 400 when the query is also broken).
		if id == "" {
			if perr == nil {
				t.Fatalf("no ID from %q, and no refusal", rawID)
			}
		} else {
			requireText(t, "id", id, maxIDLen)
			if strings.Contains(id, "%") && !strings.Contains(rawID, "%25") {
				t.Fatalf("ID %q from %q is still escaped", id, rawID)
			}
		}
		if status() == http.StatusNotFound && id != "" {
			t.Fatalf("404 although the ID %q was accepted", id)
		}
		// 422: only parameters that were given, and each with a message.
		if status() == http.StatusUnprocessableEntity {
			if len(apiErr.Errors) == 0 {
				t.Fatalf("422 naming no parameter for %q", rawQuery)
			}
			for _, fe := range apiErr.Errors {
				if _, given := values[fe.Field]; !given || fe.Message == "" {
					t.Fatalf("422 on %q (%q) for query %q", fe.Field, fe.Message, rawQuery)
				}
			}
		}
		if parseErr != nil || perr != nil {
			return
		}

		// Accepted: every value read is text, given once, and of its type.
		for name, vs := range values {
			known := map[string]bool{"q": true, "limit": true, "createdAfter": true, "state": true, "drifted": true, "cursor": true}
			if !known[name] {
				continue
			}
			if len(vs) != 1 {
				t.Fatalf("accepted %s given %d times", name, len(vs))
			}
			if textProblem(vs[0]) != "" {
				t.Fatalf("accepted %s=%q: %s", name, vs[0], textProblem(vs[0]))
			}
		}
		requireText(t, "q", q, 255)
		requireText(t, "cursor", cur, maxCursorLen)
		if lim < 1 || lim > 200 {
			t.Fatalf("limit %d out of range for %q", lim, rawQuery)
		}
		if v, ok := values["createdAfter"]; ok {
			want, err := time.Parse(time.RFC3339Nano, v[0])
			if err != nil || !want.Equal(after) {
				t.Fatalf("createdAfter=%q accepted as %v", v[0], after)
			}
		} else if !after.IsZero() {
			t.Fatalf("createdAfter absent, read as %v", after)
		}
		if st != "" && st != states[0] && st != states[1] {
			t.Fatalf("state %q accepted", st)
		}
		if drifted != (values.Get("drifted") == "true") {
			t.Fatalf("drifted=%q read as %v", values.Get("drifted"), drifted)
		}
		// The usage cursor: what it accepts is a positive position that encodes back to the
		// same position.
		if usageSeen && usageErr == nil {
			if usageAfter <= 0 {
				t.Fatalf("cursor %q decoded to %d", cur, usageAfter)
			}
			again, err := decodeUsageCursor(encodeUsageCursor(usageAfter))
			if err != nil || again != usageAfter {
				t.Fatalf("cursor %q → %d does not round-trip (%d, %v)", cur, usageAfter, again, err)
			}
		}
	})
}

// requireText fails unless s is valid text of at most maxLen characters.
func requireText(t *testing.T, name, s string, maxLen int) {
	t.Helper()
	if p := textProblem(s); p != "" {
		t.Fatalf("accepted %s %q: %s", name, s, p)
	}
	if strings.ContainsRune(s, 0) {
		t.Fatalf("accepted %s %q holding NUL", name, s)
	}
	if n := textLen(s); n > maxLen {
		t.Fatalf("accepted %s %q of %d characters (at most %d)", name, s, n, maxLen)
	}
}

// TestParamsSeedsAreJudged pins what FuzzParams' invariants alone cannot: issue 11's cases are
// refused, with the status and the parameter named.
func TestParamsSeedsAreJudged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rawID, rawQuery string
		status          int
		field           string
	}{
		{"a%00b", "", http.StatusNotFound, ""},
		{"%00", "", http.StatusNotFound, ""},
		{"%ff", "", http.StatusNotFound, ""},
		{strings.Repeat("a", 256), "", http.StatusNotFound, ""},
		{"acme", "q=a%00b", http.StatusUnprocessableEntity, "q"},
		{"acme", "q=%ff", http.StatusUnprocessableEntity, "q"},
		{"acme", "q=" + strings.Repeat("%C3%A9", 256), http.StatusUnprocessableEntity, "q"},
		{"acme", "tenant=a%00b", 0, ""}, // not a parameter this request reads
		{"acme", "limit=0", http.StatusUnprocessableEntity, "limit"},
		{"acme", "limit=01", http.StatusUnprocessableEntity, "limit"},
		{"acme", "limit=201", http.StatusUnprocessableEntity, "limit"},
		{"acme", "limit=10&limit=10", http.StatusUnprocessableEntity, "limit"},
		{"acme", "createdAfter=2026-01-02", http.StatusUnprocessableEntity, "createdAfter"},
		{"acme", "q=%zz", http.StatusBadRequest, ""},
		{"a%2Fb", "q=a%2Fb", 0, ""},
		{"acme", "limit=200&createdAfter=2026-01-02T15:04:05Z", 0, ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/t/"+tc.rawID+"?"+tc.rawQuery, nil)
		var err error
		var id string
		r := chi.NewRouter()
		r.Get("/t/{id}", func(w http.ResponseWriter, r *http.Request) {
			p := newParams(r)
			id = p.path("id")
			p.text("q", 255)
			p.limit(50, 200)
			p.time("createdAfter")
			err = p.err()
		})
		r.ServeHTTP(httptest.NewRecorder(), req)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s?%s: %v", tc.rawID, tc.rawQuery, err)
			}
			if tc.rawID == "a%2Fb" && id != "a/b" {
				t.Errorf("a%%2Fb read as %q", id)
			}
			continue
		}
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != tc.status {
			t.Errorf("%s?%s: got %v, want %d", tc.rawID, tc.rawQuery, err, tc.status)
			continue
		}
		if tc.field != "" && (len(apiErr.Errors) != 1 || apiErr.Errors[0].Field != tc.field) {
			t.Errorf("%s?%s: got %+v, want one error on %s", tc.rawID, tc.rawQuery, apiErr.Errors, tc.field)
		}
	}
}
