package sandbox

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// TestUsageMetricNamesMatchClient ties the sandbox's copy of the usage metric names (kept
// here because the sandbox imports only the standard library) to the client's list, both
// ways: a name added to or dropped from either side fails.
func TestUsageMetricNamesMatchClient(t *testing.T) {
	t.Parallel()
	require.Equal(t, pubnub.UsageMetricNames(), strings.Fields(usageMetricNames))
}
