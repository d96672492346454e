package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// replica is one in-process pnonboard (serve with every role) on the shared database.
type replica struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, cfg config, hardStop bool) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	go func() {
		a, err := newApp(ctx, cfg, logger, appOpts{})
		if err != nil {
			r.done <- err
			return
		}
		defer a.close()
		r.done <- a.run(ctx, ln, a.handler, runOpts{hardStop: hardStop})
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	return r
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// TestSoak runs two replicas against a misbehaving sandbox, kills one mid-run, and checks that
// nothing was lost, duplicated or leaked. About 20 s alone; bounded at a few minutes.
func TestSoak(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	const (
		tenantsN = 60
		envs     = 3
		rate     = 900 // per minute, the sandbox's limit and our budget
	)
	ctx := context.Background()
	db := pgtest.NewDB(t)

	sb := sandbox.New(&sandbox.Opts{
		APIKey: "soak", RatePerMinute: rate, Latency: 5 * time.Millisecond, Seed: 42,
		Faults: sandbox.FaultRates{ServerError: 0.05, Lost: 0.03, Timeout: 0.02},
	})
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)

	// A partner's webhook receiver, verifying every delivery.
	var (
		mu       sync.Mutex
		secret   string
		verified = map[string]map[string]bool{} // externalId → event IDs of verified tenant.provisioned
		bad      int
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var p webhooks.Payload
		require.NoError(t, json.Unmarshal(body, &p))
		if p.Type == webhooks.TypeProvisioned {
			if verified[p.Data.Tenant.ExternalID] == nil {
				verified[p.Data.Tenant.ExternalID] = map[string]bool{}
			}
			verified[p.Data.Tenant.ExternalID][r.Header.Get("webhook-id")] = true
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	key, err := secrets.ParseKey(secrets.NewKey())
	require.NoError(t, err)
	cfg := config{
		DatabaseURL: db.URL, Role: roleAll, LogLevel: slog.LevelWarn, ShutdownTimeout: 10 * time.Second,
		PubNubURL: sbSrv.URL + "/v2", PubNubAPIKey: "soak", PubNubVersion: "2026-02-09",
		PubNubRatePerMinute: rate, PubNubTimeout: 2 * time.Second, // the injected timeouts hang until it; a shorter one times out honest answers under -race and the rest of the suite
		EncryptionKey: key, Workers: 10,
		Webhooks: webhooks.Policy{AllowHTTP: true, AllowPrivate: true}, WebhookSecretOverlap: time.Hour,
	}
	_, apiKey, err := auth.NewService(db.Pool, nil).Create(ctx, auth.CreateParams{Name: "soak", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)

	a := startReplica(t, cfg, true)
	b := startReplica(t, cfg, false)

	call := func(base, method, path string, body any) (int, map[string]any) {
		return callAPI(t, base, apiKey, method, path, body)
	}
	status, ep := call(b.url, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": receiver.URL})
	require.Equal(t, http.StatusCreated, status)
	mu.Lock()
	secret = ep["secret"].(string)
	mu.Unlock()

	// 60 tenants at once, spread over both replicas.
	var wg sync.WaitGroup
	for i := range tenantsN {
		wg.Go(func() {
			base := a.url
			if i%2 == 1 {
				base = b.url
			}
			status, body := call(base, http.MethodPost, "/v1/tenants", map[string]any{"externalId": fmt.Sprintf("soak-%02d", i), "name": fmt.Sprintf("Soak %d", i)})
			require.Equal(t, http.StatusAccepted, status, "%v", body)
		})
	}
	wg.Wait()

	countActive := func() int {
		return tenantstest.Count(t, db.Pool, tenants.StateActive)
	}
	// Kill replica A hard once a fair share of the work is done, and start a replacement.
	require.Eventually(t, func() bool { return countActive() >= tenantsN/4 }, 60*time.Second, 50*time.Millisecond)
	a.cancel()
	require.NoError(t, <-a.done)
	a.done <- nil // for cleanup
	startReplica(t, cfg, false)

	// Alone it takes about 20 s; the bound is for liveness (backoffs after repeated faults grow
	// exponentially on a machine loaded by the rest of the suite), not a speed target.
	if !assert.Eventually(t, func() bool { return countActive() == tenantsN }, 180*time.Second, 100*time.Millisecond,
		"every tenant ends active") {
		for _, tn := range tenantstest.All(t, db.Pool) {
			if tn.State != tenants.StateActive {
				t.Logf("%s: %s (failed step %q, last error %q)", tn.ExternalID, tn.State, tn.FailedStep, tn.LastError)
			}
		}
		t.FailNow()
	}

	// Exactly one customer, one app and E keysets upstream per tenant; nothing else.
	apps, customers := map[string]int{}, map[string]int{}
	for _, app := range sb.Apps() {
		apps[app.Name]++
	}
	for _, c := range sb.Customers() {
		customers[c.ExternalID]++
		require.Len(t, c.KeysetIDs(), envs, "customer %s holds its keysets", c.ExternalID)
	}
	keysets := map[string]int{}
	for _, k := range sb.Keysets() {
		keysets[k.Name]++
		require.NotEmpty(t, k.CustomerID, "keyset %s assigned", k.Name)
	}
	require.Len(t, apps, tenantsN)
	require.Len(t, customers, tenantsN)
	require.Len(t, keysets, tenantsN*envs)
	for i := range tenantsN {
		ext := fmt.Sprintf("soak-%02d", i)
		require.Equal(t, 1, apps["pnonboard-"+ext], ext)
		require.Equal(t, 1, customers[ext], ext)
		for _, env := range []string{"development", "staging", "production"} {
			require.Equal(t, 1, keysets["pnonboard-"+ext+"-"+env], ext+"/"+env)
		}
	}

	// Every tenant's tenant.provisioned webhook arrived and verified; one event per tenant.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(verified) == tenantsN
	}, 60*time.Second, 50*time.Millisecond)
	mu.Lock()
	require.Zero(t, bad, "every delivery verifies")
	for ext, ids := range verified {
		require.Len(t, ids, 1, "one tenant.provisioned event for %s", ext)
	}
	mu.Unlock()

	// The shared budget kept PubNub from ever answering 429, even with three replicas.
	faults := 0
	for _, c := range sb.Calls() {
		require.NotEqual(t, http.StatusTooManyRequests, c.Status, "%+v", c)
		if c.Status >= 500 || c.Status == 0 {
			faults++
		}
	}
	require.Greater(t, faults, 0, "the sandbox did misbehave")
	t.Logf("soak: %d upstream calls, %d faulted, all %d tenants active, exactly once upstream", len(sb.Calls()), faults, tenantsN)
}
