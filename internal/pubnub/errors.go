package pubnub

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrInvalidArgument is wrapped by errors for arguments the client refuses
// before sending anything (an empty ID, a non-numeric keyset ID for an OEM
// call). Such errors are permanent: retrying cannot help.
var ErrInvalidArgument = errors.New("invalid argument")

// Error is an error answer from the API: a status outside 2xx with PubNub's
// error body and the rate-limit headers. Its text names the operation, the
// request line, the status and PubNub's messages, with any secret removed.
type Error struct {
	Op         string // the client operation, e.g. "create keyset"
	Method     string // HTTP method
	Path       string // URL path, without query
	StatusCode int
	Body       ErrorBody // zero when the body was not PubNub's JSON error
	RateLimit  RateLimit
	// RetryAfter is the Retry-After header (seconds or HTTP date), 0 when
	// absent.
	RetryAfter time.Duration
}

// ErrorBody is PubNub's error schema {"statusCode", "error", "message"}.
// Error is a name like "BadRequest", or on the usage endpoint a reason
// phrase like "Bad Request"; switch on StatusCode, not on it. Message is
// decoded from an array of strings or a single string.
type ErrorBody struct {
	StatusCode int
	Error      string
	Message    []string
}

// RateLimit is what the X-RateLimit-* headers said. Limit is 0 when they
// were absent.
type RateLimit struct {
	Limit     int           // X-RateLimit-Limit: requests per window
	Remaining int           // X-RateLimit-Remaining
	Reset     time.Duration // X-RateLimit-Reset: time until the window resets
}

// Error describes the failure for an operator.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pubnub: %s: %s %s: %d", e.Op, e.Method, e.Path, e.StatusCode)
	if name := cmp.Or(e.Body.Error, http.StatusText(e.StatusCode)); name != "" {
		b.WriteString(" " + name)
	}
	if len(e.Body.Message) > 0 {
		b.WriteString(": " + strings.Join(e.Body.Message, "; "))
	}
	if wait, ok := RateLimitWait(e); ok {
		fmt.Fprintf(&b, " (retry in %s)", wait)
	}
	return b.String()
}

// TransportError is a call that got no usable answer: the request could not
// be sent or its response not read (timeout, refused or reset connection,
// EOF), or a 2xx body could not be decoded. The change may or may not have
// been applied upstream.
type TransportError struct {
	Op     string
	Method string
	Path   string
	// StatusCode is the 2xx status whose body could not be read or decoded,
	// or 0 (no response arrived, or it was a 2xx create answer without an
	// ID).
	StatusCode int
	// Canceled is true when the caller's own context ended the call (it was
	// cancelled or its deadline passed). That is the caller giving up, not
	// an upstream fault, so such errors are not retryable.
	Canceled bool
	Err      error
}

// Error describes the failure; the cause is the transport's own message.
func (e *TransportError) Error() string {
	cause := e.Err
	var urlErr *url.Error
	if errors.As(cause, &urlErr) {
		cause = urlErr.Err // the URL is already in Method and Path
	}
	return fmt.Sprintf("pubnub: %s: %s %s: %v", e.Op, e.Method, e.Path, cause)
}

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded) and
// similar work.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether no answer came in time: a deadline, or a network
// timeout (the http.Client's own included).
func (e *TransportError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || errors.As(e.Err, &ne) && ne.Timeout()
}

// Refused reports whether the connection was refused (nothing listens).
func (e *TransportError) Refused() bool { return errors.Is(e.Err, syscall.ECONNREFUSED) }

// Lost reports whether the connection broke before the answer was complete.
func (e *TransportError) Lost() bool {
	return errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF) ||
		errors.Is(e.Err, syscall.ECONNRESET) || errors.Is(e.Err, syscall.EPIPE)
}

// IsRetryable reports whether err is worth retrying later: a 429, a 408, a
// 5xx, or a transport failure (timeout, including the http.Client's own
// Timeout, connection refused or reset, EOF, undecodable 2xx body) that the
// caller's context did not cause. A call ended by the caller's own context
// is not retryable: nothing went wrong upstream, the caller gave up.
func IsRetryable(err error) bool {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500
	}
	var tErr *TransportError
	if errors.As(err, &tErr) {
		return !tErr.Canceled
	}
	return false
}

// IsPermanent reports whether retrying err cannot help and someone must act:
// a 4xx other than 408 and 429 (bad request, unauthorized, forbidden, not
// found, conflict...), or an argument the client refused (ErrInvalidArgument).
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidArgument) {
		return true
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		return s >= 400 && s < 500 && s != http.StatusTooManyRequests && s != http.StatusRequestTimeout
	}
	return false
}

// IsRateLimited reports whether err is a 429.
func IsRateLimited(err error) bool { return StatusCode(err) == http.StatusTooManyRequests }

// IsForbidden reports whether err is a 403: the Service Integration lacks a
// permission row for the call (or the account is not an OEM partner). The
// error text carries PubNub's message, which names what is missing.
func IsForbidden(err error) bool { return StatusCode(err) == http.StatusForbidden }

// IsNotFound reports whether err is a 404.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// StatusCode returns the HTTP status of an *Error in err's chain, or 0.
func StatusCode(err error) int {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// RateLimitWait returns how long a 429 asks the caller to wait: the
// X-RateLimit-Reset header, else Retry-After. ok is false when err is not a
// 429 or the answer named no wait (back off on your own then).
func RateLimitWait(err error) (wait time.Duration, ok bool) {
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if apiErr.RateLimit.Reset > 0 {
		return apiErr.RateLimit.Reset, true
	}
	if apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter, true
	}
	return 0, false
}

// newError builds the *Error for an error answer. The body is decoded
// leniently: a non-JSON body (a proxy's HTML page) leaves Body zero. Secrets
// are removed from PubNub's text in case it echoes them.
func (c *Client) newError(req request, httpReq *http.Request, resp *http.Response, raw []byte) *Error {
	e := &Error{Op: req.op, Method: req.method, Path: httpReq.URL.Path, StatusCode: resp.StatusCode}
	if err := json.Unmarshal(raw, &e.Body); err != nil {
		e.Body = ErrorBody{}
	}
	e.Body.Error = c.redact(e.Body.Error)
	for i, m := range e.Body.Message {
		e.Body.Message[i] = c.redact(m)
	}
	ref := time.Now()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		ref = d
	}
	e.RateLimit = parseRateLimit(resp.Header, ref)
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), ref)
	return e
}

// UnmarshalJSON decodes PubNub's error body, tolerating the variants seen in
// the docs: statusCode as number or string, message as array or string.
func (b *ErrorBody) UnmarshalJSON(data []byte) error {
	var w struct {
		StatusCode json.RawMessage `json:"statusCode"`
		Error      json.RawMessage `json:"error"`
		Message    json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	var status flexID
	if json.Unmarshal(w.StatusCode, &status) == nil {
		b.StatusCode, _ = strconv.Atoi(string(status))
	}
	_ = json.Unmarshal(w.Error, &b.Error)
	var one string
	switch {
	case json.Unmarshal(w.Message, &b.Message) == nil:
	case json.Unmarshal(w.Message, &one) == nil:
		b.Message = []string{one}
	}
	return nil
}

// parseRateLimit reads the X-RateLimit-* headers. Reset is documented (by
// our design) as seconds until the reset; a value that can only be a Unix
// time (over a billion) is read as one, relative to ref, to be safe.
func parseRateLimit(h http.Header, ref time.Time) RateLimit {
	var rl RateLimit
	rl.Limit, _ = strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	rl.Remaining, _ = strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if s, err := strconv.ParseFloat(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 64); err == nil && s > 0 {
		if s > 1e9 {
			rl.Reset = max(time.Unix(int64(s), 0).Sub(ref), 0)
		} else {
			rl.Reset = time.Duration(s * float64(time.Second))
		}
	}
	return rl
}

// parseRetryAfter reads Retry-After as delay seconds or an HTTP date
// (relative to ref, the response's Date when it has one). 0 if absent.
func parseRetryAfter(v string, ref time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(ref), 0)
	}
	return 0
}

// redacted replaces secrets in anything the client prints.
const redacted = "(redacted)"

// redact removes the API key and anything shaped like a secret key from s.
func (c *Client) redact(s string) string {
	if k := c.key.apiKey; k != "" {
		s = strings.ReplaceAll(s, k, redacted)
	}
	return redactSecretKeys(s)
}

// redactSecretKeys replaces every "sec-c-" token with its redacted form.
func redactSecretKeys(s string) string { return redactPrefixed(s, "sec-c-") }

// RedactKeys replaces every PubNub key in s (secret, publish and subscribe:
// "sec-c-", "pub-c-", "sub-c-" and what follows) with its redacted form,
// for text that may quote one, such as an error message shown to people.
func RedactKeys(s string) string {
	return redactPrefixed(s, "sec-c-", "pub-c-", "sub-c-")
}

// redactPrefixed replaces each token that starts with one of prefixes.
func redactPrefixed(s string, prefixes ...string) string {
	var b bytes.Buffer
	for {
		i, prefix := -1, ""
		for _, p := range prefixes {
			if j := strings.Index(s, p); j >= 0 && (i < 0 || j < i) {
				i, prefix = j, p
			}
		}
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(prefix + "…" + redacted)
		s = s[i+len(prefix):]
		s = strings.TrimLeftFunc(s, isSecretChar)
	}
}

func isSecretChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_+/=", r)
}
