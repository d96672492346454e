package sandbox

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Writes can reach the persister out of order (two requests change the store
// one after the other, then race to the file). An older snapshot must never
// replace a newer one on disk.
func TestPersisterNeverWritesAnOlderSnapshot(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sandbox.json")
	p := &persister{path: path}
	older := &pendingSave{seq: 1, state: State{NextAppID: firstAppID + 1, Apps: []App{{ID: "1000001", Name: "older"}}}}
	newer := &pendingSave{seq: 2, state: State{NextAppID: firstAppID + 2, Apps: []App{{ID: "1000001", Name: "older"}, {ID: "1000002", Name: "newer"}}}}

	require.NoError(t, p.write(newer))
	require.NoError(t, p.write(older))

	got, found, err := readStateFile(path)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, newer.state, got)
}
