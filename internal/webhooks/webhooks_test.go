package webhooks_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func TestPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	strict := webhooks.Policy{}
	lax := webhooks.Policy{AllowHTTP: true, AllowPrivate: true}

	t.Run("Registration", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			url    string
			policy webhooks.Policy
			ok     bool
		}{
			{"https://hooks.example.com/pnonboard", strict, true},
			{"https://93.184.215.14/hook", strict, true},
			{"https://203.0.113.10/hook", strict, false}, // documentation
			{"http://hooks.example.com/pnonboard", strict, false},
			{"http://hooks.example.com/pnonboard", webhooks.Policy{AllowHTTP: true}, true},
			{"https://127.0.0.1/hook", strict, false},
			{"https://[::1]/hook", strict, false},
			{"https://[::ffff:127.0.0.1]/hook", strict, false},
			{"https://10.1.2.3/hook", strict, false},
			{"https://192.168.0.10/hook", strict, false},
			{"https://172.16.5.5/hook", strict, false},
			{"https://169.254.169.254/latest/meta-data", strict, false},
			{"https://100.64.0.1/hook", strict, false},
			{"https://0.0.0.0/hook", strict, false},
			{"https://localhost/hook", strict, false},
			{"https://metadata.google.internal/x", strict, false},
			{"https://127.0.0.1/hook", webhooks.Policy{AllowPrivate: true}, true},
			{"http://127.0.0.1:8080/hook", lax, true},
			{"https://user:pass@hooks.example.com/", strict, false},
			{"ftp://hooks.example.com/", lax, false},
			{"/relative", lax, false},
			{"https://hooks.example.com/#frag", strict, false},
			{"https://[2606:4700::6810:84e5]/hook", strict, true},
			{"https://[::127.0.0.1]/hook", strict, false},         // IPv4-compatible
			{"https://[2002:7f00:1::1]/hook", strict, false},      // 6to4 of 127.0.0.1
			{"https://[2002:a9fe:a9fe::1]/hook", strict, false},   // 6to4 of 169.254.169.254
			{"https://[2002:808:808::1]/hook", strict, true},      // 6to4 of a public address
			{"https://[64:ff9b::a00:1]/hook", strict, false},      // NAT64 of 10.0.0.1
			{"https://[64:ff9b:1::a00:1]/hook", strict, false},    // local-use NAT64
			{"https://[fec0::1]/hook", strict, false},             // site-local
			{"https://[fd00:ec2::254]/hook", strict, false},       // AWS metadata (ULA)
			{"https://[2001:0:4136:e378::1]/hook", strict, false}, // Teredo
			{"https://168.63.129.16/hook", strict, false},         // Azure platform endpoint
		}
		for _, tt := range tests {
			err := tt.policy.CheckURL(ctx, tt.url)
			if tt.ok {
				require.NoError(t, err, tt.url)
			} else {
				require.Error(t, err, tt.url)
			}
		}
	})

	t.Run("RefusedAtConnectTime", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		// Whatever a URL resolved to at registration, the address actually dialled is checked:
		// loopback, private and metadata addresses are refused before a packet is sent.
		for _, url := range []string{srv.URL, "http://10.0.0.1:9/", "http://169.254.169.254/latest/meta-data"} {
			_, err := strict.HTTPClient().Get(url)
			require.ErrorIs(t, err, webhooks.ErrForbiddenAddress, url)
		}
		resp, err := lax.HTTPClient().Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
	})
}

// receiver is a webhook receiver on loopback that records what it gets and answers with
// the statuses it is told, in order (200 once they run out).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	statuses []int
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{header: r.Header.Clone(), body: body})
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		if status == http.StatusFound {
			w.Header().Set("Location", "https://elsewhere.example.com/")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"received": true}`))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

// harness is the webhooks package over a real database, with a River client working
// deliveries on a fast schedule.
type harness struct {
	db     *pgtest.DB
	svc    *webhooks.Service
	river  *river.Client[pgx.Tx]
	tenant *tenants.Tenant
}

func newHarness(t *testing.T, policy webhooks.Policy) *harness {
	t.Helper()
	db := pgtest.NewDB(t)
	keyring, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	workers := river.NewWorkers()
	schedule := []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}
	river.AddWorker(workers, webhooks.NewDeliveryWorker(webhooks.DeliveryWorkerOpts{
		Pool: db.Pool, Keyring: keyring, Policy: policy, Schedule: schedule, Logger: logger,
	}))
	river.AddWorker(workers, &webhooks.PruneWorker{Pool: db.Pool, Retention: time.Hour})
	rc, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger: logger, Workers: workers, TestOnly: true,
		Queues:        map[string]river.QueueConfig{webhooks.QueueWebhooks: {MaxWorkers: 5}, river.QueueDefault: {MaxWorkers: 1}},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.StopAndCancel(ctx)
	})

	tn := tenantstest.Insert(t, db.Pool, "acme", tenants.StateActive, "production")
	return &harness{db: db, river: rc, tenant: tn,
		svc: webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool, River: rc, Keyring: keyring, Policy: policy, SecretOverlap: time.Hour})}
}

func (h *harness) endpoint(t *testing.T, url string, types ...string) (*webhooks.Endpoint, string) {
	t.Helper()
	p := webhooks.EndpointParams{URL: &url}
	if len(types) > 0 {
		p.EventTypes = &types
	}
	e, secret, err := h.svc.CreateEndpoint(context.Background(), p)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	return e, secret
}

// announce records an event as the provisioner does: inside a transaction.
func (h *harness) announce(t *testing.T, outcome tenants.Outcome) {
	t.Helper()
	require.NoError(t, postgres.WithTx(context.Background(), h.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
		return webhooks.Announcer{Client: h.river}.Announce(ctx, tx, outcome, h.tenant)
	}))
}

func (h *harness) deliveries(t *testing.T, endpointID string) []*webhooks.Delivery {
	t.Helper()
	list, _, err := h.svc.ListDeliveries(context.Background(), endpointID, "", 100, "")
	require.NoError(t, err)
	return list
}

func (h *harness) waitDelivery(t *testing.T, endpointID string, status webhooks.DeliveryStatus, attempts int) *webhooks.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var list []*webhooks.Delivery
	for time.Now().Before(deadline) {
		list = h.deliveries(t, endpointID)
		if len(list) == 1 && list[0].Status == status && len(list[0].Attempts) == attempts {
			return list[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, d := range list {
		t.Logf("delivery %s: %s, %d attempts", d.ID, d.Status, len(d.Attempts))
	}
	t.Fatalf("no single delivery %s after %d attempts", status, attempts)
	return nil
}

func verify(t *testing.T, secret string, r received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	return wh.Verify(r.body, r.header)
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	lax := webhooks.Policy{AllowHTTP: true, AllowPrivate: true}

	t.Run("SignedVerifiableAndTamperEvident", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		rc := newReceiver(t)
		e, secret := h.endpoint(t, rc.URL)
		h.announce(t, tenants.OutcomeProvisioned)
		d := h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 1)
		require.Equal(t, 200, *d.Attempts[0].StatusCode)
		require.Contains(t, d.Attempts[0].ResponseExcerpt, "received")

		got := rc.got()
		require.Len(t, got, 1)
		r := got[0]
		require.NoError(t, verify(t, secret, r), "the Standard Webhooks library verifies it")
		require.Equal(t, d.EventID, r.header.Get("webhook-id"))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		ts, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
		require.NoError(t, err)
		require.InDelta(t, time.Now().Unix(), ts, 30)
		require.Contains(t, string(r.body), `"type":"tenant.provisioned"`)
		require.Contains(t, string(r.body), `"externalId":"acme"`)

		tampered := received{header: r.header, body: []byte(strings.Replace(string(r.body), "acme", "evil", 1))}
		require.ErrorIs(t, verify(t, secret, tampered), standardwebhooks.ErrNoMatchingSignature)

		stale := received{header: r.header.Clone(), body: r.body}
		stale.header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10))
		require.Error(t, verify(t, secret, stale), "a timestamp more than 5 minutes off fails")

		require.Error(t, verify(t, "whsec_"+strings.Repeat("A", 44), r), "another secret fails")
	})

	t.Run("RetriesKeepTheWebhookID", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		rc := newReceiver(t, 500, 503)
		e, secret := h.endpoint(t, rc.URL)
		h.announce(t, tenants.OutcomeProvisioned)
		d := h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 3)

		got := rc.got()
		require.Len(t, got, 3)
		for _, r := range got {
			require.Equal(t, got[0].header.Get("webhook-id"), r.header.Get("webhook-id"))
			require.NoError(t, verify(t, secret, r))
		}
		var codes []int
		for _, a := range d.Attempts {
			codes = append(codes, *a.StatusCode)
		}
		require.Equal(t, []int{500, 503, 200}, codes)
		require.Equal(t, "receiver answered 500", *d.Attempts[0].Error)
		require.NotNil(t, d.DeliveredAt)
	})

	t.Run("GivesUpThenManualRetry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		rc := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500)
		e, _ := h.endpoint(t, rc.URL)
		h.announce(t, tenants.OutcomeProvisioningFailed)
		failed := h.waitDelivery(t, e.ID, webhooks.DeliveryFailed, 8)
		require.Nil(t, failed.DeliveredAt)

		list, _, err := h.svc.ListDeliveries(context.Background(), e.ID, string(webhooks.DeliveryFailed), 10, "")
		require.NoError(t, err)
		require.Len(t, list, 1)

		_, err = h.svc.RetryDelivery(context.Background(), e.ID, failed.ID)
		require.NoError(t, err)
		d := h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 9)
		require.Equal(t, failed.EventID, d.EventID)
		got := rc.got()
		require.Equal(t, got[0].header.Get("webhook-id"), got[len(got)-1].header.Get("webhook-id"))

		_, err = h.svc.RetryDelivery(context.Background(), e.ID, "3b241101-e2bb-4255-8caf-4136c566a962")
		require.ErrorIs(t, err, webhooks.ErrDeliveryNotFound)
	})

	t.Run("RotationSignsWithBothThenOnlyTheNew", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		rc := newReceiver(t)
		e, oldSecret := h.endpoint(t, rc.URL)
		rotated, newSecret, err := h.svc.RotateSecret(context.Background(), e.ID)
		require.NoError(t, err)
		require.NotEqual(t, oldSecret, newSecret)
		require.NotNil(t, rotated.PreviousSecretExpiresAt)

		h.announce(t, tenants.OutcomeDisabled)
		h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 1)
		r := rc.got()[0]
		require.Len(t, strings.Split(r.header.Get("webhook-signature"), " "), 2)
		require.NoError(t, verify(t, oldSecret, r), "receivers not yet switched still verify")
		require.NoError(t, verify(t, newSecret, r))

		// The overlap ends.
		_, err = h.db.Pool.Exec(context.Background(), `UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'`)
		require.NoError(t, err)
		h.announce(t, tenants.OutcomeEnabled)
		require.Eventually(t, func() bool { return len(rc.got()) == 2 }, 10*time.Second, 10*time.Millisecond)
		r = rc.got()[1]
		require.Len(t, strings.Split(r.header.Get("webhook-signature"), " "), 1)
		require.Error(t, verify(t, oldSecret, r))
		require.NoError(t, verify(t, newSecret, r))
	})

	t.Run("RedirectsAreNotFollowed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		rc := newReceiver(t, 302, 200)
		e, _ := h.endpoint(t, rc.URL)
		h.announce(t, tenants.OutcomeProvisioned)
		d := h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 2)
		require.Equal(t, 302, *d.Attempts[0].StatusCode)
		require.Len(t, rc.got(), 2, "the redirect target was never called")
	})

	t.Run("LargeAnswersAreCapped", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(strings.Repeat("x", 4<<20)))
		}))
		t.Cleanup(big.Close)
		e, _ := h.endpoint(t, big.URL)
		h.announce(t, tenants.OutcomeProvisioned)
		d := h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 1)
		require.Len(t, d.Attempts[0].ResponseExcerpt, 1024)
	})

	t.Run("SubscriptionsAndDisabledEndpoints", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, lax)
		rc := newReceiver(t)
		onlyDisabled, _ := h.endpoint(t, rc.URL, webhooks.TypeDisabled)
		off, _ := h.endpoint(t, rc.URL)
		enabled := false
		_, err := h.svc.UpdateEndpoint(context.Background(), off.ID, webhooks.EndpointParams{Enabled: &enabled})
		require.NoError(t, err)
		all, _ := h.endpoint(t, rc.URL)

		h.announce(t, tenants.OutcomeProvisioned)
		h.waitDelivery(t, all.ID, webhooks.DeliverySucceeded, 1)
		require.Empty(t, h.deliveries(t, onlyDisabled.ID), "not subscribed")
		require.Empty(t, h.deliveries(t, off.ID), "the endpoint is off")
		require.Len(t, rc.got(), 1)
	})

	t.Run("InternalAddressRefusedAtDelivery", func(t *testing.T) {
		t.Parallel()
		// Registered while private addresses were allowed; delivered by a strict worker.
		h := newHarness(t, webhooks.Policy{AllowHTTP: true})
		rc := newReceiver(t)
		url := rc.URL
		e, _, err := webhooks.NewService(webhooks.ServiceOpts{DB: h.db.Pool, River: h.river, Keyring: mustKeyring(t), Policy: lax}).
			CreateEndpoint(context.Background(), webhooks.EndpointParams{URL: &url})
		require.NoError(t, err)
		h.announce(t, tenants.OutcomeProvisioned)
		d := h.waitDelivery(t, e.ID, webhooks.DeliveryFailed, 8)
		require.Contains(t, *d.Attempts[0].Error, "refused")
		require.Empty(t, rc.got(), "nothing reached the loopback receiver")
	})
}

func mustKeyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	return k
}

func TestEventsListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, webhooks.Policy{AllowHTTP: true, AllowPrivate: true})
	for _, o := range []tenants.Outcome{tenants.OutcomeProvisioned, tenants.OutcomeDisabled, tenants.OutcomeEnabled, tenants.OutcomeDisabled} {
		h.announce(t, o)
	}
	// Events show once every older transaction on the server (other tests' too) has ended.
	require.Eventually(t, func() bool {
		list, _, err := h.svc.ListEvents(ctx, webhooks.EventFilter{Limit: 10})
		require.NoError(t, err)
		return len(list) == 4
	}, 10*time.Second, 10*time.Millisecond)

	var all []webhooks.Event
	cursor := ""
	for range 10 {
		page, next, err := h.svc.ListEvents(ctx, webhooks.EventFilter{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	require.Len(t, all, 4)
	require.Equal(t, webhooks.TypeProvisioned, all[0].Type, "oldest first")
	require.Contains(t, string(all[0].Payload), `"tenant":{"externalId":"acme"`)

	disabled, _, err := h.svc.ListEvents(ctx, webhooks.EventFilter{Type: webhooks.TypeDisabled, Limit: 10})
	require.NoError(t, err)
	require.Len(t, disabled, 2)
	none, _, err := h.svc.ListEvents(ctx, webhooks.EventFilter{TenantExternalID: "someone-else", Limit: 10})
	require.NoError(t, err)
	require.Empty(t, none)
	_, _, err = h.svc.ListEvents(ctx, webhooks.EventFilter{Cursor: "bogus", Limit: 10})
	require.ErrorIs(t, err, invalid.ErrCursor)

	// Events past retention disappear from the listing and are pruned, deliveries with them.
	_, err = h.db.Pool.Exec(ctx, `UPDATE events SET created_at = now() - interval '31 days' WHERE type = $1`, webhooks.TypeDisabled)
	require.NoError(t, err)
	left, _, err := webhooks.NewService(webhooks.ServiceOpts{DB: h.db.Pool}).ListEvents(ctx, webhooks.EventFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, left, 2)
	_, err = h.river.Insert(ctx, webhooks.PruneArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n))
		return n == 2
	}, 10*time.Second, 20*time.Millisecond)
}

// TestEventsListingNeverSkipsALateCommit: an event whose transaction commits after later
// events were listed must still be listed to a receiver paging with a cursor.
//
// Not parallel: the transaction it holds open holds back event listings in every database of
// the test server (transaction IDs are cluster-wide), which would stall the other tests.
func TestEventsListingNeverSkipsALateCommit(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webhooks.Policy{AllowHTTP: true, AllowPrivate: true})

	slow, err := h.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = slow.Rollback(ctx) }()
	require.NoError(t, webhooks.Announcer{Client: h.river}.Announce(ctx, slow, tenants.OutcomeProvisioned, h.tenant))

	h.announce(t, tenants.OutcomeDisabled)
	h.announce(t, tenants.OutcomeEnabled)

	page, _, err := h.svc.ListEvents(ctx, webhooks.EventFilter{Limit: 1})
	require.NoError(t, err)
	require.Empty(t, page, "later events wait for the older transaction still running")

	require.NoError(t, slow.Commit(ctx))
	var types []string
	cursor := ""
	for range 5 {
		page, next, err := h.svc.ListEvents(ctx, webhooks.EventFilter{Limit: 1, Cursor: cursor})
		require.NoError(t, err)
		for _, e := range page {
			types = append(types, e.Type)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, []string{webhooks.TypeProvisioned, webhooks.TypeDisabled, webhooks.TypeEnabled}, types)
}

// TestRetryPendingDeliveryRunsItNow: support retrying a delivery that waits hours for its
// next attempt gets it attempted at once.
func TestRetryPendingDeliveryRunsItNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	keyring := mustKeyring(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	policy := webhooks.Policy{AllowHTTP: true, AllowPrivate: true}
	workers := river.NewWorkers()
	river.AddWorker(workers, webhooks.NewDeliveryWorker(webhooks.DeliveryWorkerOpts{
		Pool: db.Pool, Keyring: keyring, Policy: policy, Logger: logger,
		Schedule: []time.Duration{time.Hour}, // the next attempt is far away
	}))
	rc, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger: logger, Workers: workers, TestOnly: true,
		Queues:        map[string]river.QueueConfig{webhooks.QueueWebhooks: {MaxWorkers: 2}},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.StopAndCancel(stopCtx)
	})
	tn := tenantstest.Insert(t, db.Pool, "acme", tenants.StateActive, "production")
	h := &harness{db: db, river: rc, tenant: tn, svc: webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool, River: rc, Keyring: keyring, Policy: policy})}

	rcv := newReceiver(t, 500)
	e, _ := h.endpoint(t, rcv.URL)
	h.announce(t, tenants.OutcomeProvisioned)
	d := h.waitDelivery(t, e.ID, webhooks.DeliveryPending, 1)
	require.NotNil(t, d.NextAttemptAt)
	require.WithinDuration(t, time.Now().Add(time.Hour), *d.NextAttemptAt, 10*time.Minute)

	// River settles the failed attempt's job (retryable, an hour out) just after it returns.
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT state FROM river_job`).Scan(&state))
		return state == "retryable"
	}, 10*time.Second, 10*time.Millisecond)

	_, err = h.svc.RetryDelivery(ctx, e.ID, d.ID)
	require.NoError(t, err)
	d = h.waitDelivery(t, e.ID, webhooks.DeliverySucceeded, 2)
	require.Equal(t, 200, *d.Attempts[1].StatusCode)
	require.Equal(t, rcv.got()[0].header.Get("webhook-id"), rcv.got()[1].header.Get("webhook-id"))
}
