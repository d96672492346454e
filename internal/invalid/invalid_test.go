package invalid_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/invalid"
)

// foreign is a domain error that cannot import invalid: it only has the method.
type foreign struct{ fields map[string]string }

func (e *foreign) Error() string                  { return "foreign" }
func (e *foreign) FieldErrors() map[string]string { return e.fields }

func TestFieldsOf(t *testing.T) {
	t.Parallel()

	fields, ok := invalid.FieldsOf(fmt.Errorf("create: %w", invalid.Field("name", "is required")))
	require.True(t, ok)
	require.Equal(t, map[string]string{"name": "is required"}, fields)

	// Any error with FieldErrors, wrapped or joined, is taken: not only *invalid.Error.
	fields, ok = invalid.FieldsOf(fmt.Errorf("grant: %w", &foreign{map[string]string{"ttl": "too long"}}))
	require.True(t, ok)
	require.Equal(t, map[string]string{"ttl": "too long"}, fields)
	_, ok = invalid.FieldsOf(errors.Join(errors.New("other"), &foreign{map[string]string{"a": "b"}}))
	require.True(t, ok)

	for _, err := range []error{nil, errors.New("plain"), invalid.ErrCursor, &foreign{}, invalid.Fields(nil)} {
		_, ok := invalid.FieldsOf(err)
		require.False(t, ok, "%v", err)
	}
	var f invalid.Fielder = invalid.Field("x", "y")
	require.Equal(t, map[string]string{"x": "y"}, f.FieldErrors())
}
