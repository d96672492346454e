package accessmanager_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

const sandboxAPIKey = "test-api-key"

// sandboxServer is a sandbox served over HTTP with one keyset.
type sandboxServer struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	prefix string // the mount's path prefix
	keyset sandbox.Keyset
	keys   accessmanager.Keys
}

// sandboxOpts shape newSandboxServer.
type sandboxOpts struct {
	now    func() time.Time // sandbox clock (default time.Now)
	config map[string]any   // the keyset's config (default: Access Manager and token revoke on)
	prefix string           // mount behind http.StripPrefix(prefix)
}

// newSandboxServer starts a sandbox behind httptest (closed at cleanup)
// and creates an app and a keyset through its Admin API.
func newSandboxServer(tb testing.TB, opts *sandboxOpts) *sandboxServer {
	tb.Helper()
	if opts == nil {
		opts = &sandboxOpts{}
	}
	sb := sandbox.New(&sandbox.Opts{APIKey: sandboxAPIKey, RatePerMinute: -1, Now: opts.now})
	var h http.Handler = sb
	if opts.prefix != "" {
		h = http.StripPrefix(opts.prefix, sb)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	s := &sandboxServer{sb: sb, srv: srv, prefix: opts.prefix}

	config := opts.config
	if config == nil {
		config = map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": true}}
	}
	var app struct {
		ID string `json:"id"`
	}
	s.admin(tb, http.MethodPost, "/v2/apps", map[string]any{"name": "app"}, http.StatusCreated, &app)
	s.admin(tb, http.MethodPost, "/v2/keysets", map[string]any{"keyset": map[string]any{"name": "ks", "appId": app.ID, "type": "production"}, "config": config}, http.StatusCreated, nil)
	s.keyset = sb.Keysets()[0]
	s.keys = accessmanager.Keys{
		SubscribeKey: s.keyset.SubscribeKey,
		PublishKey:   s.keyset.PublishKey,
		SecretKey:    accessmanager.Secret(s.keyset.SecretKeys[0].Value),
	}
	return s
}

// origin is the data-plane origin of the server, its mount prefix included.
func (s *sandboxServer) origin() string { return s.srv.URL + s.prefix }

// admin calls the sandbox's Admin API and decodes the answer into out.
func (s *sandboxServer) admin(tb testing.TB, method, path string, body any, status int, out any) {
	tb.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(tb, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.origin()+path, r)
	require.NoError(tb, err)
	req.Header.Set("Authorization", sandboxAPIKey)
	req.Header.Set("PubNub-Version", "2026-02-09")
	req.Header.Set("Content-Type", "application/json")
	res, err := s.srv.Client().Do(req)
	require.NoError(tb, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(tb, err)
	require.Equal(tb, status, res.StatusCode, "body: %s", raw)
	if out != nil {
		require.NoError(tb, json.Unmarshal(raw, out))
	}
}

// rotate replaces the keyset's main secret key at once and returns the new
// keys.
func (s *sandboxServer) rotate(t *testing.T) accessmanager.Keys {
	t.Helper()
	var out struct {
		SecretKey string `json:"secretKey"`
	}
	s.admin(t, http.MethodPost, "/v2/keysets/"+s.keyset.ID+"/secret-keys", nil, http.StatusCreated, &out)
	keys := s.keys
	keys.SecretKey = accessmanager.Secret(out.SecretKey)
	return keys
}

// resignTransport edits request bodies and signs them again, as a client
// without this package's validation would: it lets tests reach the
// sandbox's own validation.
type resignTransport struct {
	keys   accessmanager.Keys
	editFn func(body string) string
}

func (rt resignTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	body := rt.editFn(string(raw))
	q := req.URL.Query()
	q.Del("signature")
	sig := accessmanager.Sign(rt.keys.SecretKey.Reveal(), rt.keys.PublishKey, req.Method, req.URL.EscapedPath(), q, []byte(body))
	out := req.Clone(req.Context())
	out.URL.RawQuery = strings.SplitN(req.URL.RawQuery, "&signature=", 2)[0] + "&signature=" + sig
	out.Body = io.NopCloser(strings.NewReader(body))
	out.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(out)
}
