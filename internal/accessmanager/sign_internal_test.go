package accessmanager

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPamEncode(t *testing.T) {
	t.Parallel()

	tests := []struct{ in, want string }{
		{"plain-._value09", "plain-._value09"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"*!'()[]~", "%2A%21%27%28%29%5B%5D%7E"},
		{"/?&=#%", "%2F%3F%26%3D%23%25"},
		{"£", "%C2%A3"},
		{"", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, pamEncode(tt.in), "pamEncode(%q)", tt.in)
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()

	q := url.Values{"uuid": {"u 1"}, "signature": {"v2.x"}, "b": {"2", "1"}, "a": {""}}

	require.Equal(t, "a=&b=2&b=1&uuid=u%201", canonicalQuery(q))
	require.Empty(t, canonicalQuery(nil))
}
