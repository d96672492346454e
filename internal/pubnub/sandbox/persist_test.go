package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// openDurable opens a sandbox on path with the test key, clock and no rate
// limit.
func openDurable(t *testing.T, path string, edit func(*sandbox.Opts)) *sandbox.Sandbox {
	t.Helper()
	clock := newFakeClock()
	opts := &sandbox.Opts{APIKey: testKey, RatePerMinute: -1, Now: clock.Now, StateFile: path}
	if edit != nil {
		edit(opts)
	}
	sb, err := sandbox.Open(opts)
	require.NoError(t, err)
	return sb
}

// reopen is what a restart after SIGKILL sees: a new sandbox from the file
// as it is on disk now.
func reopen(t *testing.T, path string) sandbox.State {
	t.Helper()
	return openDurable(t, path, nil).Snapshot()
}

func TestDurableState(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb   *sandbox.Sandbox
		path string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		path := filepath.Join(t.TempDir(), "sandbox.json")
		return &testBundle{sb: openDurable(t, path, nil), path: path}
	}

	t.Run("RestartMidStreamKeepsEverythingAndIDsMonotonic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ids := createKeysets(t, b.sb, 3)
		c := decode[customerResult](t, do(t, b.sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "acme", "name": "Acme", "keysetIds": ids[:2]}), http.StatusOK).Result
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodDelete, fmt.Sprint("/v2/keysets/", ids[2]), nil).Status)
		createApp(t, b.sb, "second")

		// SIGKILL here: the next process opens the same file.
		next := openDurable(t, b.path, nil)

		require.Equal(t, b.sb.Snapshot(), next.Snapshot())
		app := createApp(t, next, "third")
		ks := createKeyset(t, next, app.ID, nil)
		require.Equal(t, "1000003", app.ID, "app IDs continue")
		require.Equal(t, fmt.Sprint(ids[2]+1), ks.Keyset.ID, "the deleted keyset's ID is not reused")
		requireError(t, do(t, next, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "acme", "name": "Again"}), http.StatusBadRequest)
		require.Equal(t, http.StatusOK, do(t, next, http.MethodGet, "/v2/oem/customers/"+c.ID, nil).Status)
		// And again: the second process's changes are durable too.
		require.Equal(t, next.Snapshot(), reopen(t, b.path))
	})

	t.Run("EveryChangeIsWrittenThrough", func(t *testing.T) {
		t.Parallel()
		type change struct {
			name string
			run  func(t *testing.T, sb *sandbox.Sandbox, tn sandbox.PrefilledTenant)
		}
		api := func(method, path string, body any, status int) func(*testing.T, *sandbox.Sandbox, sandbox.PrefilledTenant) {
			return func(t *testing.T, sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) {
				p := path
				for from, to := range map[string]string{"{app}": tn.AppID, "{keyset}": tn.KeysetIDs[0], "{customer}": tn.CustomerID} {
					p = strings.ReplaceAll(p, from, to)
				}
				res := do(t, sb, method, p, body, withHeader("PubNub-Version", sandbox.MinDeleteCustomerVersion))
				require.Equal(t, status, res.Status, "body: %s", res.Body)
			}
		}
		portal := func(fn func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error) func(*testing.T, *sandbox.Sandbox, sandbox.PrefilledTenant) {
			return func(t *testing.T, sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) { require.NoError(t, fn(sb, tn)) }
		}
		changes := []change{
			{"CreateApp", api(http.MethodPost, "/v2/apps", map[string]any{"name": "a"}, http.StatusCreated)},
			{"UpdateApp", api(http.MethodPatch, "/v2/apps/{app}", map[string]any{"name": "a"}, http.StatusOK)},
			{"CreateKeyset", api(http.MethodPost, "/v2/keysets", map[string]any{"keyset": map[string]any{"name": "k", "appId": "1000001", "type": "testing"}}, http.StatusCreated)},
			{"UpdateKeyset", api(http.MethodPatch, "/v2/keysets/{keyset}", map[string]any{"type": "production"}, http.StatusOK)},
			{"DeleteKeyset", api(http.MethodDelete, "/v2/keysets/{keyset}", nil, http.StatusOK)},
			{"UpdateKeysetConfig", api(http.MethodPatch, "/v2/keysets/{keyset}/config", map[string]any{"accessManager": map[string]any{"enabled": true}}, http.StatusOK)},
			{"RotateSecretKey", api(http.MethodPost, "/v2/keysets/{keyset}/secret-keys", nil, http.StatusCreated)},
			{"CreateCustomer", api(http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "x", "name": "X"}, http.StatusOK)},
			{"UpdateCustomer", api(http.MethodPut, "/v2/oem/customers/{customer}", map[string]any{"name": "X"}, http.StatusOK)},
			{"DeleteCustomer", api(http.MethodDelete, "/v2/oem/customers/{customer}", nil, http.StatusOK)},
			{"AssignKeysets", func(t *testing.T, sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) {
				require.NoError(t, sb.UnassignKeyset(tn.KeysetIDs[0]))
				api(http.MethodPost, "/v2/oem/customers/{customer}/keysets", map[string]any{"keysetIds": []int{5000001}}, http.StatusOK)(t, sb, tn)
			}},
			{"PortalDeleteKeyset", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error { return sb.DeleteKeyset(tn.KeysetIDs[1]) })},
			{"PortalUnassign", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error { return sb.UnassignKeyset(tn.KeysetIDs[1]) })},
			{"PortalRenameApp", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error { return sb.RenameApp(tn.AppID, "r") })},
			{"PortalRenameKeyset", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error {
				return sb.RenameKeyset(tn.KeysetIDs[0], "r")
			})},
			{"PortalRenameCustomer", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error {
				return sb.RenameCustomer(tn.CustomerID, "r")
			})},
			{"PortalAccessManager", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error {
				return sb.SetAccessManager(tn.KeysetIDs[0], true)
			})},
			{"PortalDeleteCustomer", portal(func(sb *sandbox.Sandbox, tn sandbox.PrefilledTenant) error { return sb.DeleteCustomer(tn.CustomerID) })},
			{"Prefill", portal(func(sb *sandbox.Sandbox, _ sandbox.PrefilledTenant) error {
				_, err := sb.Prefill(2, &sandbox.PrefillOpts{ExternalIDFunc: strconv.Itoa})
				return err
			})},
			{"Restore", portal(func(sb *sandbox.Sandbox, _ sandbox.PrefilledTenant) error {
				return sb.Restore(sandbox.State{NextAppID: 2_000_000})
			})},
			{"Reset", portal(func(sb *sandbox.Sandbox, _ sandbox.PrefilledTenant) error { sb.Reset(); return nil })},
		}
		for _, ch := range changes {
			t.Run(ch.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				tenants, err := b.sb.Prefill(1, nil)
				require.NoError(t, err)
				before := b.sb.Snapshot()

				ch.run(t, b.sb, tenants[0])

				after := b.sb.Snapshot()
				require.NotEqual(t, before, after, "the change changed something")
				require.Equal(t, after, reopen(t, b.path))
			})
		}
	})

	t.Run("ReadsAndRefusalsWriteNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		createKeysets(t, b.sb, 1)
		before, err := os.ReadFile(b.path)
		require.NoError(t, err)
		info, err := os.Stat(b.path)
		require.NoError(t, err)

		do(t, b.sb, http.MethodGet, "/v2/apps", nil)
		do(t, b.sb, http.MethodGet, "/v2/keysets/5000001/config", nil)
		do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": ""})
		do(t, b.sb, http.MethodPatch, "/v2/keysets/5999999", map[string]any{"name": "x"})
		require.Error(t, b.sb.RenameApp("1999999", "x"))

		after, err := os.ReadFile(b.path)
		require.NoError(t, err)
		infoAfter, err := os.Stat(b.path)
		require.NoError(t, err)
		require.Equal(t, before, after)
		require.Equal(t, info.ModTime(), infoAfter.ModTime(), "the file was not rewritten")
	})

	t.Run("DurableBeforeTheAnswer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var onDisk sandbox.State
		w := &hookWriter{ResponseWriter: httptest.NewRecorder(), beforeHeader: func() { onDisk = reopen(t, b.path) }}
		req := httptest.NewRequest(http.MethodPost, "/v2/apps", jsonBody(t, map[string]any{"name": "a"}))
		req.Header.Set("Authorization", testKey)
		req.Header.Set("PubNub-Version", testVersion)
		req.Header.Set("Content-Type", "application/json")

		b.sb.ServeHTTP(w, req)

		require.Len(t, onDisk.Apps, 1, "the app was on disk when the 201 was written")
	})

	t.Run("LostAnswerIsDurable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpCreateApp, sandbox.Fault{Kind: sandbox.FaultLost}, 1)

		requireError(t, do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}), http.StatusInternalServerError)

		require.Len(t, reopen(t, b.path).Apps, 1)
	})

	t.Run("TimeoutIsDurableWhileItHangs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.InjectFault(sandbox.OpCreateApp, sandbox.Fault{Kind: sandbox.FaultTimeout}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}, withContext(ctx))
		}()

		require.Eventually(t, func() bool { return len(reopen(t, b.path).Apps) == 1 }, 5*time.Second, time.Millisecond)
		select {
		case <-done:
			t.Fatal("the request should still hang")
		default:
		}
		cancel()
		<-done
	})

	t.Run("ConcurrentChangesEndWithTheNewestState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				res := do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": fmt.Sprint("app", i)})
				require.Equal(t, http.StatusCreated, res.Status)
			})
		}
		wg.Wait()

		got := reopen(t, b.path)
		require.Len(t, got.Apps, 40)
		require.Equal(t, b.sb.Snapshot(), got)
	})

	t.Run("FailedWriteIsA500", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, os.Mkdir(dir, 0o700))
		sb := openDurable(t, filepath.Join(dir, "sandbox.json"), nil)
		require.NoError(t, os.RemoveAll(dir))

		requireError(t, do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}), http.StatusInternalServerError)
		require.ErrorContains(t, sb.RenameApp(sb.Apps()[0].ID, "b"), "save sandbox state")
	})

	t.Run("MissingFileIsCreatedEmpty", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "new.json")

		openDurable(t, path, nil)

		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		require.JSONEq(t, `{"version": 1, "state": {"NextAppID": 1000001, "NextKeysetID": 5000001, "Apps": [], "Keysets": [], "Customers": []}}`, string(raw))
		_, err = sandbox.Open(&sandbox.Opts{StateFile: filepath.Join(t.TempDir(), "no", "such", "dir.json")})
		require.ErrorContains(t, err, "save sandbox state")
	})

	t.Run("ReadsTheBareStateDevModeSaved", func(t *testing.T) {
		t.Parallel()
		old, _ := newSandbox(t, nil)
		createKeysets(t, old, 2)
		raw, err := json.Marshal(old.Snapshot())
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "sandbox.json")
		require.NoError(t, os.WriteFile(path, raw, 0o600))

		require.Equal(t, old.Snapshot(), reopen(t, path))
	})

	t.Run("NextIDsPastTheHighestID", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "sandbox.json")
		raw := `{"version":1,"state":{"NextAppID":1000001,"NextKeysetID":0,"Apps":[{"ID":"1000041","Name":"a"}],"Keysets":[],"Customers":[]}}`
		require.NoError(t, os.WriteFile(path, []byte(raw), 0o600))

		sb := openDurable(t, path, nil)

		require.Equal(t, "1000042", createApp(t, sb, "b").ID)
	})
}

func TestCorruptStateIsRefused(t *testing.T) {
	t.Parallel()

	tests := []struct{ name, content, message string }{
		{"NotJSON", "{not json", "is corrupt"},
		{"Empty", "", "it is empty"},
		{"Truncated", `{"version":1,"state":{"Apps":[`, "is corrupt"},
		{"UnknownVersion", `{"version":2,"state":{}}`, "version 2, want 1"},
		{"UnknownField", `{"version":1,"state":{"Tenants":[]}}`, "unknown field"},
		{"DuplicateApp", `{"version":1,"state":{"Apps":[{"ID":"1000001"},{"ID":"1000001"}]}}`, "app 1000001 twice"},
		{"KeysetInUnknownApp", `{"version":1,"state":{"Keysets":[{"ID":"5000001","AppID":"1"}]}}`, "keyset 5000001 repeated or in an unknown app"},
		{"NonNumericID", `{"version":1,"state":{"Apps":[{"ID":"app_1"}]}}`, `app ID "app_1" is not a positive number`},
		{"DanglingAssignment", `{"version":1,"state":{"Apps":[{"ID":"1000001"}],"Keysets":[{"ID":"5000001","AppID":"1000001","CustomerID":"c"}]}}`, "keyset 5000001 names unknown customer c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sandbox.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))

			_, err := sandbox.Open(&sandbox.Opts{StateFile: path})

			require.ErrorContains(t, err, path)
			require.ErrorContains(t, err, tt.message)
			raw, readErr := os.ReadFile(path)
			require.NoError(t, readErr)
			require.Equal(t, tt.content, string(raw), "a refused file is left as it was")
			require.Panics(t, func() { sandbox.New(&sandbox.Opts{StateFile: path}) })
		})
	}
}

// hookWriter runs beforeHeader just before the status is written.
type hookWriter struct {
	http.ResponseWriter
	beforeHeader func()
}

func (w *hookWriter) WriteHeader(status int) {
	w.beforeHeader()
	w.ResponseWriter.WriteHeader(status)
}

func jsonBody(t *testing.T, v any) *bytes.Reader {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(raw)
}
