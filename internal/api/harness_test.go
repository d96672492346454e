package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"riverqueue.com/riverui"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/metrics"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
	"github.com/pnonboard/pnonboard/internal/usage"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

// testServer is the API over a real database, served by httptest.
type testServer struct {
	db       *pgtest.DB
	keys     *auth.Service
	handler  http.Handler
	srv      *httptest.Server
	logs     *logging.Buffer
	spec     *specValidator
	tenants  *tenants.Service
	webhooks *webhooks.Service
	usage    *usage.Service
	metrics  *metrics.Metrics
	river    *river.Client[pgx.Tx]
	keyring  *secrets.Keyring
	// sb is the data plane the token service calls (Access Manager).
	sb *sandbox.Sandbox
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	db := pgtest.NewDB(t)
	logs := &logging.Buffer{}
	ts := &testServer{db: db, keys: auth.NewService(db.Pool, nil), logs: logs, spec: newSpecValidator(t)}
	keyring, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	ts.keyring = keyring
	// An API replica's River client: it inserts jobs; no worker runs them here.
	workers := river.NewWorkers()
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{}))
	river.AddWorker(workers, webhooks.NewDeliveryWorker(webhooks.DeliveryWorkerOpts{}))
	inserter, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Workers: workers})
	require.NoError(t, err)
	ts.river = inserter
	profiles := provisioner.DefaultProfiles()
	ts.tenants = tenants.NewService(tenants.ServiceOpts{
		DB: db.Pool, Enqueuer: &provisioner.Enqueuer{Client: inserter}, Opener: keyring,
		Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults(),
	})
	ts.webhooks = webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool, River: inserter, Keyring: keyring})
	ts.sb = sandbox.New(&sandbox.Opts{APIKey: sandboxKey, RatePerMinute: -1})
	sbSrv := httptest.NewServer(ts.sb)
	t.Cleanup(sbSrv.Close)
	tokenService := tokens.NewService(tokens.ServiceOpts{
		Pool: db.Pool, Tenants: ts.tenants, Keyring: keyring, Client: accessmanager.New(sbSrv.URL, nil),
		Environments: []tokens.Environment{{Name: "development"}, {Name: "staging", AccessManager: true, TokenRevoke: true},
			{Name: "production", AccessManager: true, TokenRevoke: true}},
		RetryBase: time.Millisecond,
	})
	ts.usage = usage.NewService(usage.ServiceOpts{Pool: db.Pool})
	logger := logging.New(logs, "json", slog.LevelDebug)
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(inserter, nil), Logger: logger, Prefix: "/riverui"})
	require.NoError(t, err)
	uiCtx, stopUI := context.WithCancel(context.Background())
	t.Cleanup(stopUI)
	require.NoError(t, ui.Start(uiCtx))
	ts.metrics = metrics.New(metrics.Sources{DB: db.Pool}, logger)
	watcher := tenants.NewWatcher(db.Pool.Config().ConnConfig, logger)
	watchCtx, stopWatching := context.WithCancel(context.Background())
	t.Cleanup(stopWatching)
	go watcher.Run(watchCtx)
	ts.handler = api.NewServer(&api.ServerOpts{
		Metrics:       ts.metrics.Handler(),
		OnRequestFunc: ts.metrics.ObserveRequest,
		JobUI:         ui,
		JobUIPrefix:   "/riverui",
		Webhooks:      ts.webhooks,
		Logger:        logger,
		Ready:         func(context.Context) error { return nil },
		Keys:          ts.keys,
		Tenants:       ts.tenants,
		Watcher:       watcher,
		// Only the Watcher wakes a Prefer: wait create in time: a test that needed the poll
		// would time out.
		WaitPoll: 10 * time.Minute,
		OpenAPI:  pnonboard.OpenAPI(),
		Tokens:   tokenService,
		Usage:    ts.usage,
	})
	ts.srv = httptest.NewServer(ts.handler)
	t.Cleanup(ts.srv.Close)
	return ts
}

// key mints a key with exactly scopes.
func (ts *testServer) key(t *testing.T, scopes ...auth.Scope) string {
	t.Helper()
	_, plaintext, err := ts.keys.Create(context.Background(), auth.CreateParams{Name: "test", Scopes: scopes, CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)
	return plaintext
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map (or fails the test).
func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// requireDecode decodes the body into a T, strictly (no member T does not declare), or fails
// the test: typed assertions instead of walking a map.
func requireDecode[T any](t *testing.T, r *response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v), string(r.Body))
	return v
}

// problemBody is a problem+json answer as tests read it.
type problemBody struct {
	Type, Title, Detail, Code, RequestID string
	Status                               int
	Errors                               []struct{ Field, Message string }
	CurrentState                         tenants.State   `json:"currentState"`
	AllowedFrom                          []tenants.State `json:"allowedFrom"`
}

// eventsBody is a timeline page.
type eventsBody struct {
	Data []struct {
		ID     int64
		Time   time.Time
		Actor  string
		Action tenants.Action
		Detail map[string]any
	}
	NextCursor *string
}

// do sends method path with body (a string or a value to encode) and key ("" for none).
func (ts *testServer) do(t *testing.T, method, path, key string, body any) *response {
	t.Helper()
	header := ""
	if key != "" {
		header = "Bearer " + key
	}
	return ts.send(t, method, path, header, body)
}

// doHeader sends a bodiless request with a raw Authorization header ("" for none).
func (ts *testServer) doHeader(t *testing.T, method, path, authorization string) *response {
	t.Helper()
	return ts.send(t, method, path, authorization, nil)
}

func (ts *testServer) send(t *testing.T, method, path, authorization string, body any) *response {
	t.Helper()
	return ts.sendWith(t, method, path, authorization, "application/json", body)
}

// sendType sends body as contentType with the key.
func (ts *testServer) sendType(t *testing.T, method, path, key, contentType string, body any) *response {
	t.Helper()
	return ts.sendWith(t, method, path, "Bearer "+key, contentType, body)
}

func (ts *testServer) sendWith(t *testing.T, method, path, authorization, contentType string, body any) *response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, ts.srv.URL+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return ts.roundTrip(t, req)
}

// roundTrip sends req, reads the whole answer and checks it against the spec.
func (ts *testServer) roundTrip(t *testing.T, req *http.Request) *response {
	t.Helper()
	resp, err := ts.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	ts.spec.check(t, req, resp.StatusCode, resp.Header, b)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
