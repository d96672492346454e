package tokens_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

const sandboxKey = "tokens-test-key"

// harness is the token service over a real database and an httptest sandbox, with one active
// tenant "acme" whose development keyset has Access Manager off and whose staging keyset has
// it on, with token revoke.
type harness struct {
	db      *pgtest.DB
	sb      *sandbox.Sandbox
	srv     *httptest.Server
	keyring *secrets.Keyring
	tenants *tenants.Service
	opts    tokens.ServiceOpts
	svc     *tokens.Service
	tenant  *tenants.Tenant
	// keysets are the sandbox keysets by environment.
	keysets map[string]sandbox.Keyset
}

type harnessOpts struct {
	envs      []tokens.Environment // default: development (off), staging (on, revoke on)
	transport http.RoundTripper    // the data-plane client's transport; default http.DefaultTransport
	now       func() time.Time     // the sandbox's clock; default time.Now
}

func defaultEnvs() []tokens.Environment {
	return []tokens.Environment{
		{Name: "development", AccessManager: false},
		{Name: "staging", AccessManager: true, TokenRevoke: true},
	}
}

// noJobs is a tenants.Enqueuer for a tenant that never needs a job here.
type noJobs struct{}

func (noJobs) EnqueueReconcile(context.Context, pgx.Tx, int64) error { return nil }
func (noJobs) RunNow(context.Context, pgx.Tx, int64) (bool, error)   { return true, nil }

func newHarness(t *testing.T, o *harnessOpts) *harness {
	t.Helper()
	if o == nil {
		o = &harnessOpts{}
	}
	if o.envs == nil {
		o.envs = defaultEnvs()
	}
	db := pgtest.NewDB(t)
	sb := sandbox.New(&sandbox.Opts{APIKey: sandboxKey, RatePerMinute: -1, Now: o.now})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	keyring, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	h := &harness{db: db, sb: sb, srv: srv, keyring: keyring, keysets: map[string]sandbox.Keyset{}}
	envs := make([]tenants.Environment, len(o.envs))
	names := make([]string, len(o.envs))
	for i, e := range o.envs {
		envs[i], names[i] = tenants.Environment{Name: e.Name, KeysetType: "testing"}, e.Name
	}
	h.tenants = tenants.NewService(tenants.ServiceOpts{DB: db.Pool, Enqueuer: noJobs{}, Opener: keyring, Environments: envs, DefaultEnvironments: names})
	transport := o.transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	h.opts = tokens.ServiceOpts{
		Pool: db.Pool, Tenants: h.tenants, Keyring: keyring, Environments: o.envs,
		Client:    accessmanager.New(srv.URL, &http.Client{Transport: transport, Timeout: time.Second}),
		RetryBase: time.Millisecond,
	}
	h.svc = tokens.NewService(h.opts)
	h.tenant = h.activeTenant(t, "acme", o.envs)
	return h
}

// activeTenant makes a tenant whose keysets exist in the sandbox (configured as envs say) and
// marks it active, as provisioning would.
func (h *harness) activeTenant(t *testing.T, externalID string, envs []tokens.Environment) *tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	tn, _, err := h.tenants.Create(ctx, tenants.CreateParams{ExternalID: externalID, Name: externalID, Actor: "test"})
	require.NoError(t, err)
	var app struct {
		ID string `json:"id"`
	}
	h.admin(t, http.MethodPost, "/v2/apps", map[string]any{"name": "app-" + externalID}, http.StatusCreated, &app)
	for _, e := range envs {
		var created struct {
			Keyset struct {
				ID string `json:"id"`
			} `json:"keyset"`
		}
		am := map[string]any{"enabled": e.AccessManager}
		if e.AccessManager {
			am["tokenRevoke"] = e.TokenRevoke
		}
		h.admin(t, http.MethodPost, "/v2/keysets", map[string]any{
			"keyset": map[string]any{"name": externalID + "-" + e.Name, "appId": app.ID, "type": "testing"},
			"config": map[string]any{"accessManager": am},
		}, http.StatusCreated, &created)
		ks := h.sandboxKeyset(t, created.Keyset.ID)
		h.keysets[e.Name] = ks
		tenantstest.HoldKeyset(t, h.db.Pool, tn.ID, e.Name, tenantstest.Keyset{KeysetID: ks.ID, PublishKey: ks.PublishKey, SubscribeKey: ks.SubscribeKey,
			SecretKeySealed: h.keyring.Seal([]byte(ks.SecretKeys[0].Value), tenants.SecretAAD(tn.ID, e.Name)), Assigned: true})
	}
	tenantstest.Provisioned(t, h.db.Pool, tn.ID, app.ID, "cust")
	tn, err = h.tenants.GetByExternalID(ctx, externalID)
	require.NoError(t, err)
	return tn
}

func (h *harness) sandboxKeyset(t *testing.T, id string) sandbox.Keyset {
	t.Helper()
	for _, k := range h.sb.Keysets() {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no sandbox keyset %s", id)
	return sandbox.Keyset{}
}

// admin calls the sandbox's Admin API.
func (h *harness) admin(t *testing.T, method, path string, body any, status int, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", sandboxKey)
	req.Header.Set("PubNub-Version", "2026-02-09")
	req.Header.Set("Content-Type", "application/json")
	res, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, status, res.StatusCode, "body: %s", raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out))
	}
}

// rotate replaces the environment keyset's secret in the sandbox and returns the new one.
// With store, pnonboard's sealed copy follows, as the provisioner's disable does.
func (h *harness) rotate(t *testing.T, tn *tenants.Tenant, env string, store bool) string {
	t.Helper()
	var out struct {
		SecretKey string `json:"secretKey"`
	}
	h.admin(t, http.MethodPost, "/v2/keysets/"+h.keysets[env].ID+"/secret-keys", nil, http.StatusCreated, &out)
	if store {
		tenantstest.SetSecret(t, h.db.Pool, tn.ID, env, h.keyring.Seal([]byte(out.SecretKey), tenants.SecretAAD(tn.ID, env)))
	}
	return out.SecretKey
}

// disable does to the database what a completed disable does: the generation moves on, the
// tenant is disabled, its keysets locked.
func (h *harness) disable(t *testing.T, tn *tenants.Tenant) int {
	t.Helper()
	return tenantstest.Disabled(t, h.db.Pool, tn.ID)
}

func (h *harness) setState(t *testing.T, tn *tenants.Tenant, state tenants.State) {
	t.Helper()
	tenantstest.SetState(t, h.db.Pool, tn.ExternalID, state, tn.Desired)
}

// grantReq is a valid grant: read and write on a channel, for an end user.
func grantReq(channel string) accessmanager.GrantRequest {
	return accessmanager.GrantRequest{
		TTL: 60, AuthorizedUserID: "end-user-42",
		Resources: accessmanager.Resources{Channels: map[string]accessmanager.Permissions{channel: accessmanager.Read | accessmanager.Write}},
		Patterns:  accessmanager.Resources{Groups: map[string]accessmanager.Permissions{"^room-.*$": accessmanager.Read}},
		Meta:      map[string]any{"plan": "pro"},
	}
}

// events lists the tenant's timeline actions and details.
func (h *harness) events(t *testing.T, tn *tenants.Tenant) []tenants.Event {
	t.Helper()
	list, _, err := h.tenants.Events(context.Background(), tn.ExternalID, 200, "")
	require.NoError(t, err)
	return list
}

func actions(events []tenants.Event) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, string(e.Action))
	}
	return out
}
