package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

const (
	testKey     = "test-api-key"
	testVersion = "2026-02-09"
)

func newFakeClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// newSandbox returns a sandbox with the test key, a fake clock and no rate
// limit; edit adjusts the options first.
func newSandbox(t *testing.T, edit func(*sandbox.Opts)) (*sandbox.Sandbox, *testclock.Clock) {
	t.Helper()
	clock := newFakeClock()
	opts := &sandbox.Opts{APIKey: testKey, RatePerMinute: -1, Now: clock.Now}
	if edit != nil {
		edit(opts)
	}
	return sandbox.New(opts), clock
}

// response is a recorded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorBody is PubNub's error schema.
type errorBody struct {
	StatusCode int      `json:"statusCode"`
	Error      string   `json:"error"`
	Message    []string `json:"message"`
}

// reqOption adjusts a request before it is served.
type reqOption func(*http.Request)

func withHeader(name, value string) reqOption {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func withoutHeader(name string) reqOption {
	return func(r *http.Request) { r.Header.Del(name) }
}

func withContext(ctx context.Context) reqOption {
	return func(r *http.Request) { *r = *r.WithContext(ctx) }
}

// do serves one request with valid headers (unless opts change them). A
// string body is sent verbatim; anything else is JSON-encoded.
func do(t *testing.T, sb *sandbox.Sandbox, method, path string, body any, opts ...reqOption) response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(t, err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.Header.Set("Authorization", testKey)
	req.Header.Set("PubNub-Version", testVersion)
	req.Header.Set("Content-Type", "application/json")
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	sb.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// decode decodes the body into T, requiring the given status.
func decode[T any](t *testing.T, res response, status int) T {
	t.Helper()
	require.Equal(t, status, res.Status, "body: %s", res.Body)
	var v T
	require.NoError(t, json.Unmarshal(res.Body, &v), "body: %s", res.Body)
	return v
}

// requireError requires a PubNub error answer with status whose messages
// include want (when given).
func requireError(t *testing.T, res response, status int, want ...string) errorBody {
	t.Helper()
	body := decode[errorBody](t, res, status)
	require.Equal(t, status, body.StatusCode)
	require.NotEmpty(t, body.Error)
	for _, w := range want {
		require.Contains(t, body.Message, w)
	}
	return body
}

type appJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

type keysetJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	AppID        string `json:"appId"`
	Type         string `json:"type"`
	PublishKey   string `json:"publishKey"`
	SubscribeKey string `json:"subscribeKey"`
	CreatedAt    string `json:"createdAt"`
	UpdatedAt    string `json:"updatedAt"`
}

type secretKeyJSON struct {
	SecretKey string  `json:"secretKey"`
	ExpiresAt *string `json:"expiresAt"`
}

type createdKeysetJSON struct {
	Keyset struct {
		keysetJSON
		SecretKeys []secretKeyJSON `json:"secretKeys"`
	} `json:"keyset"`
	Config map[string]map[string]any `json:"config"`
}

type customerJSON struct {
	ID         string `json:"id"`
	ExternalID string `json:"externalId"`
	Name       string `json:"name"`
	Created    string `json:"created"`
	Updated    string `json:"updated"`
	Keysets    []struct {
		ID         int64  `json:"id"`
		AssignedAt string `json:"assignedAt"`
	} `json:"keysets"`
}

func createApp(t *testing.T, sb *sandbox.Sandbox, name string) appJSON {
	t.Helper()
	return decode[appJSON](t, do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": name}), http.StatusCreated)
}

func createKeyset(t *testing.T, sb *sandbox.Sandbox, appID string, config map[string]any) createdKeysetJSON {
	t.Helper()
	body := map[string]any{"keyset": map[string]any{"name": "ks", "appId": appID, "type": "testing"}}
	if config != nil {
		body["config"] = config
	}
	return decode[createdKeysetJSON](t, do(t, sb, http.MethodPost, "/v2/keysets", body), http.StatusCreated)
}

// createKeysets creates an app with n keysets and returns their numeric IDs.
func createKeysets(t *testing.T, sb *sandbox.Sandbox, n int) []int64 {
	t.Helper()
	app := createApp(t, sb, "app")
	ids := make([]int64, n)
	for i := range ids {
		ks := createKeyset(t, sb, app.ID, nil)
		require.NoError(t, json.Unmarshal([]byte(ks.Keyset.ID), &ids[i]))
	}
	return ids
}

// newSandboxWithoutKey returns a sandbox that generated its own API key.
func newSandboxWithoutKey(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	return sandbox.New(&sandbox.Opts{RatePerMinute: -1})
}
