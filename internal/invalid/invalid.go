// Package invalid is how the domain packages say "the caller's input breaks a rule": one error
// type naming the fields at fault (the API answers it with a 422 listing them), and the one
// sentinel every listing returns for a cursor it did not make. The domain packages import it;
// it imports nothing.
package invalid

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrCursor says a listing was handed a cursor it did not make.
var ErrCursor = errors.New("invalid cursor")

// Error is input that breaks one or more rules: field → what is wrong with it.
type Error struct{ fields map[string]string }

// Field is an *Error about one field.
func Field(name, message string) *Error { return &Error{fields: map[string]string{name: message}} }

// Fields is an *Error about every field of m, or nil when m is empty (so a validator can
// collect problems and return Fields(problems) either way).
func Fields(m map[string]string) error {
	if len(m) == 0 {
		return nil
	}
	return &Error{fields: maps.Clone(m)}
}

// FieldErrors returns field → message for every field at fault.
func (e *Error) FieldErrors() map[string]string { return maps.Clone(e.fields) }

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.fields))
	for _, f := range slices.Sorted(maps.Keys(e.fields)) {
		parts = append(parts, f+": "+e.fields[f])
	}
	return fmt.Sprintf("invalid input: %s", strings.Join(parts, "; "))
}

// FieldsOf returns the fields at fault when err is (or wraps) an *Error.
func FieldsOf(err error) (map[string]string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.FieldErrors(), true
	}
	return nil, false
}
