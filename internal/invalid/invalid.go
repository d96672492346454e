// Package invalid is how the domain packages say "the caller's input breaks a rule": one small
// interface, Fielder, for every error that names the fields at fault (the API answers it with a
// 422 listing them), a ready-made error implementing it, and the one sentinel every listing
// returns for a cursor it did not make. The domain packages import it, or, when they may
// import nothing of this module (internal/accessmanager), implement Fielder themselves; it
// imports nothing.
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

// Fielder is an error about input that breaks rules: FieldErrors returns field → what is
// wrong with it, for every field at fault (the field names are the API's JSON names).
type Fielder interface {
	error
	FieldErrors() map[string]string
}

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

// FieldsOf returns the fields at fault when err is (or wraps) a Fielder: an *Error, or any
// domain error with a FieldErrors method. One that names no field is not taken: a refusal
// must say what to fix.
func FieldsOf(err error) (map[string]string, bool) {
	var e Fielder
	if !errors.As(err, &e) {
		return nil, false
	}
	fields := e.FieldErrors()
	return fields, len(fields) > 0
}
