package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// holdingReceiver is a webhook receiver that answers 204 at once, or, while held, keeps every
// request waiting (as a slow partner backend would) until released or its caller goes away.
type holdingReceiver struct {
	mu       sync.Mutex
	held     chan struct{} // nil: not holding
	received map[string]int
}

func (h *holdingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return
		}
	}
	h.mu.Lock()
	h.received[r.Header.Get("webhook-id")]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *holdingReceiver) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = make(chan struct{})
}

func (h *holdingReceiver) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held != nil {
		close(h.held)
		h.held = nil
	}
}

// TestKilledReplica starts two real server processes on one database, SIGKILLs one while it
// is provisioning, and requires every tenant active within 30 s of the kill with nothing
// duplicated upstream; then it does the same to a replica holding webhook deliveries.
func TestKilledReplica(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills real processes: skipped with -short")
	}
	const (
		tenantsN  = 30
		afterKill = 30 * time.Second
	)
	ctx := context.Background()
	db := pgtest.NewDB(t)
	// Every Admin API call takes 300 ms, so a tenant takes about 1.5 s and the kill lands
	// in the middle of the work.
	sb := sandbox.New(&sandbox.Opts{APIKey: "sandbox-key", RatePerMinute: -1, Latency: 300 * time.Millisecond})
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	receiver := &holdingReceiver{received: map[string]int{}}
	hooks := httptest.NewServer(receiver)
	t.Cleanup(hooks.Close)
	_, key, err := auth.NewService(db.Pool, nil).Create(ctx, auth.CreateParams{Name: "crash", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)
	env := map[string]string{
		"DATABASE_URL":                     db.URL,
		"PNONBOARD_ADDR":                   "127.0.0.1:0",
		"PNONBOARD_ENCRYPTION_KEY":         secrets.NewKey(),
		"PNONBOARD_PUBNUB_URL":             sbSrv.URL + "/v2",
		"PNONBOARD_PUBNUB_API_KEY":         "sandbox-key",
		"PNONBOARD_PUBNUB_RATE_PER_MINUTE": "60000",
		"PNONBOARD_WEBHOOK_ALLOW_HTTP":     "true",
		"PNONBOARD_WEBHOOK_ALLOW_PRIVATE":  "true",
	}
	type replica struct {
		p        *process
		url, id  string
		killedAt time.Time
	}
	start := func() *replica {
		p := startProcess(t, []string{"serve"}, env)
		addr, id := p.listening(t)
		return &replica{p: p, url: "http://" + addr, id: id}
	}
	replicas := []*replica{start(), start()}
	api := replicas[0].url

	code, _ := callAPI(t, api, key, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": hooks.URL})
	require.Equal(t, http.StatusCreated, code)

	// runningOn returns the replica holding a running job of kind, waiting until one does.
	runningOn := func(kind string) *replica {
		t.Helper()
		var victim *replica
		require.Eventually(t, func() bool {
			for _, r := range replicas {
				var n int
				require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job
					WHERE kind = $1 AND state = 'running' AND attempted_by[cardinality(attempted_by)] = $2`, kind, r.id).Scan(&n))
				if n > 0 {
					victim = r
					return true
				}
			}
			return false
		}, 30*time.Second, 5*time.Millisecond, "a replica is running a %s job", kind)
		return victim
	}
	count := func(query string, args ...any) int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, query, args...).Scan(&n))
		return n
	}
	requireWithin := func(since time.Time, what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Since(since) > afterKill {
				t.Fatalf("%s not true %s after the kill", what, afterKill)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s %.1f s after the kill", what, time.Since(since).Seconds())
	}

	// --- Provisioning: kill a replica in the middle of it.
	var wg sync.WaitGroup
	for i := range tenantsN {
		wg.Go(func() {
			code, body := callAPI(t, api, key, http.MethodPost, "/v1/tenants", map[string]any{"externalId": fmt.Sprintf("crash-%02d", i), "name": "Crash"})
			require.Equal(t, http.StatusAccepted, code, "%v", body)
		})
	}
	wg.Wait()
	victim := runningOn("tenant_reconcile")
	victim.p.kill(t)
	victim.killedAt = time.Now()
	requireWithin(victim.killedAt, "every tenant active", func() bool {
		return tenantstest.Count(t, db.Pool, tenants.StateActive) == tenantsN
	})
	byName := map[string]int{}
	for _, a := range sb.Apps() {
		byName[a.Name]++
	}
	for _, k := range sb.Keysets() {
		byName[k.Name]++
	}
	for i := range tenantsN {
		id := fmt.Sprintf("crash-%02d", i)
		require.Equal(t, 1, byName[tenants.AppName(id)], "one app for %s", id)
		for _, env := range []string{"development", "staging", "production"} {
			require.Equal(t, 1, byName[tenants.KeysetName(id, env)], "one %s keyset for %s", env, id)
		}
	}
	require.Len(t, sb.Customers(), tenantsN, "one customer per tenant")

	// --- Webhooks: the replica that replaces it, and a kill while deliveries are in flight.
	for i, r := range replicas {
		if r == victim {
			replicas[i] = start()
		}
	}
	if victim.url == api {
		api = replicas[0].url
		if api == victim.url {
			api = replicas[1].url
		}
	}
	requireWithin(victim.killedAt, "every provisioning webhook delivered", func() bool {
		return count(`SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'`) == tenantsN
	})
	receiver.hold()
	for i := range 10 {
		code, body := callAPI(t, api, key, http.MethodPost, fmt.Sprintf("/v1/tenants/crash-%02d/disable", i), nil)
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	victim = runningOn("webhook_deliver")
	victim.p.kill(t)
	victim.killedAt = time.Now()
	receiver.release()
	requireWithin(victim.killedAt, "every webhook delivered", func() bool {
		return count(`SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'`) == 0 &&
			count(`SELECT count(*) FROM webhook_deliveries`) == tenantsN+10
	})
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	require.Len(t, receiver.received, tenantsN+10, "the receiver heard every event")
}
