package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// maxIDLen is the longest path ID anything here can have (an externalId: 255 characters).
const maxIDLen = 255

// params is how request types read path, query and header parameters: the parameter half of
// the decoding layer (decode.go is the body half). Every value read through it is checked
// against the text rules; what is wrong is recorded, and the adapter answers for it before
// the endpoint runs:
//   - a query string that is not valid URL encoding, when a parameter is read from it: 400;
//   - a path ID that no resource can have (empty, too long, not text): 404, since asking for
//     it is asking for something that does not exist;
//   - a bad query parameter (not text, given twice, not of its type): 422 naming it.
//
// Parameters a request type does not read are not looked at.
type params struct {
	r         *http.Request
	query     url.Values // parsed on first use
	malformed bool
	badPath   bool
	errs      map[string]string
}

func newParams(r *http.Request) *params { return &params{r: r, errs: map[string]string{}} }

// err is the problem to answer, or nil when every parameter read was fine.
func (p *params) err() error {
	switch {
	case p.malformed:
		return errorf(http.StatusBadRequest, "malformed_query", "the query string is not valid URL encoding")
	case p.badPath:
		return errorf(http.StatusNotFound, "not_found", "nothing has this ID: IDs are 1 to %d characters of text", maxIDLen)
	case len(p.errs) > 0:
		return validationError(p.errs)
	}
	return nil
}

func (p *params) fail(name, msg string) {
	if _, ok := p.errs[name]; !ok {
		p.errs[name] = msg
	}
}

// path returns the path parameter name, decoded. An ID that cannot exist returns "" and makes
// the request a 404.
func (p *params) path(name string) string { return p.pathMax(name, maxIDLen) }

// pathMax is path for a parameter of up to maxLen characters (an Access Manager token).
func (p *params) pathMax(name string, maxLen int) string {
	v := chi.URLParam(p.r, name)
	if p.r.URL.RawPath != "" { // chi routed on the escaped path: its values are escaped too
		u, err := url.PathUnescape(v)
		if err != nil {
			p.badPath = true
			return ""
		}
		v = u
	}
	if v == "" || textLen(v) > maxLen || textProblem(v) != "" {
		p.badPath = true
		return ""
	}
	return v
}

// query1 returns the query parameter name ("" when absent) and whether it was given. A value
// that is not text, or a parameter given twice, is a 422.
func (p *params) query1(name string) (string, bool) {
	if p.query == nil {
		q, err := url.ParseQuery(p.r.URL.RawQuery)
		p.query, p.malformed = q, err != nil
	}
	vs, ok := p.query[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		p.fail(name, "must be given at most once")
		return "", false
	}
	if msg := textProblem(vs[0]); msg != "" {
		p.fail(name, msg)
		return "", false
	}
	return vs[0], true
}

// text reads a string query parameter of at most maxLen characters; empty means absent.
func (p *params) text(name string, maxLen int) string {
	v, _ := p.query1(name)
	if textLen(v) > maxLen {
		p.fail(name, fmt.Sprintf("must be at most %d characters", maxLen))
		return ""
	}
	return v
}

// limit reads a page size from 1 to most, def when absent.
func (p *params) limit(def, most int) int {
	v, ok := p.query1("limit")
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most || v != strconv.Itoa(n) {
		p.fail("limit", fmt.Sprintf("must be a whole number from 1 to %d", most))
		return def
	}
	return n
}

// enum reads a parameter that must be one of allowed; "" when absent.
func (p *params) enum(name string, allowed []string) string {
	v, ok := p.query1(name)
	if ok && !slices.Contains(allowed, v) {
		p.fail(name, "must be one of "+strings.Join(allowed, ", "))
		return ""
	}
	return v
}

// time reads an RFC 3339 time; the zero time when absent.
func (p *params) time(name string) time.Time {
	v, ok := p.query1(name)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.fail(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		return time.Time{}
	}
	return t
}

// header returns a request header, for the few that carry parameters (Prefer).
func (p *params) header(name string) string { return p.r.Header.Get(name) }

// boolean reads a true/false query parameter (absent: false).
func (p *params) boolean(name string) bool {
	return p.enum(name, []string{"true", "false"}) == "true"
}
