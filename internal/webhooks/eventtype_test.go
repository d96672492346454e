package webhooks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// Every outcome is announced as its own declared event type (one an endpoint can subscribe
// to), never as the fallback spelled from the outcome's name.
func TestEveryOutcomeHasItsEventType(t *testing.T) {
	t.Parallel()
	seen := map[string]tenants.Outcome{}
	for _, o := range tenants.Outcomes() {
		typ := webhooks.EventTypeOf(o)
		require.Contains(t, webhooks.EventTypes(), typ, "outcome %s", o)
		prev, dup := seen[typ]
		require.False(t, dup, "outcomes %s and %s share %s", prev, o, typ)
		seen[typ] = o
	}
	require.Len(t, seen, len(webhooks.EventTypes()), "every event type announces an outcome")
}
