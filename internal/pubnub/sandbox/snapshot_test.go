package sandbox_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	sb, _ := newSandbox(t, nil)
	ids := createKeysets(t, sb, 2)
	res := do(t, sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "acme", "name": "Acme", "keysetIds": ids})
	require.Equal(t, http.StatusOK, res.Status)

	raw, err := json.Marshal(sb.Snapshot())
	require.NoError(t, err)
	var state sandbox.State
	require.NoError(t, json.Unmarshal(raw, &state))

	// A new sandbox (the next dev-mode run) restored from the saved state.
	next, _ := newSandbox(t, nil)
	require.NoError(t, next.Restore(state))
	require.Equal(t, sb.Apps(), next.Apps())
	require.Equal(t, sb.Keysets(), next.Keysets())
	require.Equal(t, sb.Customers(), next.Customers())

	// The restored state behaves: its rules hold and new IDs continue after the old ones.
	res = do(t, next, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "acme", "name": "Again"})
	require.Equal(t, http.StatusBadRequest, res.Status, "the externalId is still taken")
	app := createApp(t, next, "another")
	require.NotContains(t, []string{state.Apps[0].ID}, app.ID)

	state.Customers = append(state.Customers, state.Customers[0])
	require.Error(t, next.Restore(state), "a duplicate customer is refused")
	require.Len(t, next.Customers(), 1, "and nothing changed")
}
