package accessmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is an error answer from Access Manager: a status outside 2xx, with
// the fields of its error body
//
//	{"error": {"message": "Invalid ttl", "source": "grant",
//	           "details": [{"message": "Range should be 1 to 43200 minute(s).",
//	                        "location": "ttl", "locationType": "body"}]},
//	 "service": "Access Manager", "status": 400}
//
// or of the older shape {"message": "Forbidden", "error": true, ...}. Its
// text never holds a secret key or the token being revoked.
type Error struct {
	Op         string // "grant" or "revoke"
	StatusCode int    // the HTTP status
	Message    string // error.message (or the older top-level message); empty for a non-JSON body
	Source     string // error.source: "grant", "revoke", …
	Details    []ErrorDetail
}

// ErrorDetail is one entry of error.details: what is wrong and where.
type ErrorDetail struct {
	Message      string // "Range should be 1 to 43200 minute(s)."
	Location     string // "ttl", "token", "signature", …
	LocationType string // "body", "path" or "query"
}

// Error describes the failure for an operator.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "accessmanager: %s: %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		if d.Location != "" {
			b.WriteString(d.Location)
			if d.LocationType != "" {
				b.WriteString(" in " + d.LocationType)
			}
			b.WriteString(": ")
		}
		b.WriteString(d.Message)
		if i == len(e.Details)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// TransportError is a call that got no usable answer: the request could not
// be sent or its answer not read (timeout, refused or reset connection), or
// a 2xx answer could not be decoded. A grant may have been issued, a revoke
// applied, upstream.
type TransportError struct {
	Op     string // "grant" or "revoke"
	Method string
	// Path is the URL path, with the token of a revoke replaced by
	// "(token)".
	Path string
	// StatusCode is the 2xx status whose body was unusable, or 0 when no
	// answer arrived.
	StatusCode int
	// Canceled is true when the caller's own context ended the call: the
	// caller gave up, nothing failed upstream, so it is not retryable.
	Canceled bool
	Err      error
}

// Error describes the failure with the transport's own message.
func (e *TransportError) Error() string {
	return fmt.Sprintf("accessmanager: %s: %s %s: %v", e.Op, e.Method, e.Path, e.Err)
}

// Unwrap returns the cause, so that errors.Is(err, context.DeadlineExceeded)
// works.
func (e *TransportError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying at once: a 5xx or 408
// answer, or a transport failure (timeout, the http.Client's own Timeout
// included, refused or reset connection, unreadable answer) that the
// caller's context did not cause. A 429 is not: Access Manager asks to be
// called less, and retrying at once is the opposite; it is not permanent
// either (IsPermanent), so the caller may try again later.
func IsRetryable(err error) bool {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		return s >= 500 || s == http.StatusRequestTimeout
	}
	var tErr *TransportError
	if errors.As(err, &tErr) {
		return !tErr.Canceled
	}
	return false
}

// IsPermanent reports whether retrying err cannot help: a 4xx answer other
// than 408 and 429 (400 invalid request, 403 bad signature, skewed clock or
// Access Manager off…), or input refused before sending
// (ErrInvalidArgument, *ValidationError).
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidArgument) {
		return true
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
	}
	return false
}

// errorBody is Access Manager's error answer, in both known shapes.
type errorBody struct {
	Error   json.RawMessage `json:"error"` // an object, or true in the older shape
	Message string          `json:"message"`
}

type errorObject struct {
	Message string `json:"message"`
	Source  string `json:"source"`
	Details []struct {
		Message      string `json:"message"`
		Location     string `json:"location"`
		LocationType string `json:"locationType"`
	} `json:"details"`
}

// newError decodes an error answer leniently (a non-JSON body leaves only
// the status) and removes the given secrets, and anything shaped like a
// secret key, from every text.
func newError(op string, status int, raw []byte, secrets ...string) *Error {
	e := &Error{Op: op, StatusCode: status}
	var body errorBody
	if json.Unmarshal(raw, &body) != nil {
		return e
	}
	var obj errorObject
	if len(body.Error) > 0 && body.Error[0] == '{' && json.Unmarshal(body.Error, &obj) == nil {
		e.Message, e.Source = obj.Message, obj.Source
		for _, d := range obj.Details {
			e.Details = append(e.Details, ErrorDetail{Message: redact(d.Message, secrets...), Location: d.Location, LocationType: d.LocationType})
		}
	} else {
		e.Message = body.Message
	}
	e.Message = redact(e.Message, secrets...)
	return e
}

// redacted replaces secrets in anything the package prints.
const redacted = "(redacted)"

// redact replaces each non-empty secret, and every "sec-c-…" key, in s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	const prefix = "sec-c-"
	if !strings.Contains(s, prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i] + prefix + "…" + redacted)
		s = strings.TrimLeftFunc(s[i+len(prefix):], func(r rune) bool {
			return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_+/=", r)
		})
	}
}
