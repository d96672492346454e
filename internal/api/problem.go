package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"sort"
)

// Problem is an RFC 9457 problem+json body. Code is stable and meant for machines; Title and
// Detail are for people. Extensions carry typed context such as the scope a key lacks or the
// state a tenant is in.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Code      string         `json:"code"`
	Errors    []FieldError   `json:"errors,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
	Extra     map[string]any `json:"-"`
}

// FieldError names one invalid input field. Field is a JSON pointer-like path ("environments[1]",
// "metadata.plan") or the query/path/header parameter's name.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is what endpoints return for a failure the caller should see. Cause is logged but
// never serialised, so internal detail cannot reach the wire.
type Error struct {
	Status int
	Code   string
	Detail string
	Errors []FieldError
	Extra  map[string]any
	Cause  error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Detail, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail)
}

func (e *Error) Unwrap() error { return e.Cause }

// errorf builds an *Error with a formatted detail.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// validationError is a 422 listing every invalid field, sorted for stable output.
func validationError(fields map[string]string) *Error {
	errs := make([]FieldError, 0, len(fields))
	for f, m := range fields {
		errs = append(errs, FieldError{Field: f, Message: m})
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed",
		Detail: "the request has invalid fields; see errors", Errors: errs}
}

// problemFor turns any error into the Problem to send. Anything that is not an *Error is an
// internal error and says nothing about itself.
func problemFor(err error) (Problem, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return Problem{
			Type: problemType("internal"), Title: http.StatusText(http.StatusInternalServerError),
			Status: http.StatusInternalServerError, Code: "internal",
			Detail: "an unexpected error occurred; the request ID identifies it in our logs",
		}, false
	}
	status := cmp.Or(e.Status, http.StatusInternalServerError)
	return Problem{
		Type: problemType(e.Code), Title: http.StatusText(status), Status: status,
		Detail: e.Detail, Code: e.Code, Errors: e.Errors, Extra: e.Extra,
	}, true
}

func problemType(code string) string { return "urn:pnonboard:problem:" + code }
