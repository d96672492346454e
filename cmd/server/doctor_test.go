package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// TestDoctor runs server doctor against the sandbox: all ok with full access; each missing
// permission row named, with what to do, and exit status 1; the other ways a setup goes wrong
// each named by their line.
func TestDoctor(t *testing.T) {
	t.Parallel()
	type testBundle struct {
		db  *pgtest.DB
		sb  *sandbox.Sandbox
		env map[string]string
	}
	setup := func(t *testing.T, opts *sandbox.Opts) *testBundle {
		t.Helper()
		opts.APIKey = "sandbox-key"
		sb := sandbox.New(opts)
		srv := httptest.NewServer(sb)
		t.Cleanup(srv.Close)
		db := pgtest.NewDB(t)
		return &testBundle{db: db, sb: sb, env: map[string]string{
			"DATABASE_URL":                     db.URL,
			"PNONBOARD_PUBNUB_URL":             srv.URL + "/v2",
			"PNONBOARD_PUBNUB_API_KEY":         "sandbox-key",
			"PNONBOARD_PUBNUB_RATE_PER_MINUTE": "6000",
		}}
	}
	// withTenant gives the account a tenant's resources, so the secret-key row can be read.
	withTenant := func(t *testing.T, b *testBundle) *testBundle {
		t.Helper()
		_, err := b.sb.Prefill(1, nil)
		require.NoError(t, err)
		return b
	}
	doctor := func(t *testing.T, b *testBundle, env map[string]string) (map[string]string, string, error) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"server", "doctor"}, mapEnv(withDefaults(env, b.env)), &stdout, &stderr)
		t.Logf("server doctor:\n%s", stdout.String())
		lines := map[string]string{} // check name → its whole line
		for line := range strings.Lines(stdout.String()) {
			status, rest, _ := strings.Cut(line, " ")
			name, _, ok := strings.Cut(strings.TrimSpace(rest), ": ")
			if ok && (status == "ok" || status == "warn" || status == "FAIL") {
				require.NotContains(t, lines, name, "one line per check")
				lines[name] = strings.TrimSpace(line)
			}
		}
		return lines, stdout.String(), err
	}
	requireStatus := func(t *testing.T, lines map[string]string, name, status string, contains ...string) {
		t.Helper()
		line, ok := lines[name]
		require.True(t, ok, "no line for %s in %v", name, lines)
		require.True(t, strings.HasPrefix(line, status+" "), "%s: want %s: %s", name, status, line)
		for _, c := range contains {
			require.Contains(t, line, c)
		}
	}
	rows := []string{"account:app:rw", "account:keyset:rw", "account:secret-key:rw", "account:usage:r", "account:oem-customer:rw"}
	allNames := append([]string{"database", "admin api", "oem customers", "profiles", "api key expiry"}, func() []string {
		var names []string
		for _, r := range rows {
			names = append(names, "permission "+r)
		}
		return names
	}()...)

	t.Run("AllOK", func(t *testing.T) {
		t.Parallel()
		b := withTenant(t, setup(t, &sandbox.Opts{}))

		lines, out, err := doctor(t, b, nil)

		require.NoError(t, err, out)
		require.Len(t, lines, len(allNames), out)
		for _, name := range allNames {
			requireStatus(t, lines, name, "ok")
		}
		require.Contains(t, out, "10 checks: 10 ok, 0 warn, 0 failed")
		requireStatus(t, lines, "profiles", "ok", "3 profiles (built-in: development, staging, production)")

		requireStatus(t, lines, "permission account:usage:r", "ok", "/usage-metrics?entityType=app&entityId=", "metrics=txn_total")

		// Five reads, nothing created, each through the shared budget.
		calls := b.sb.Calls()
		require.Len(t, calls, 5, "%v", calls)
		for _, c := range calls {
			require.Equal(t, http.MethodGet, c.Method, "%v", c)
		}
		require.Equal(t, 1, b.sb.CallCount(sandbox.OpGetUsageMetrics), "%v", calls)
		budget, err := provisioner.NewBudget(b.db.Pool, provisioner.BudgetOpts{Name: budgetName, PerMinute: 6000})
		require.NoError(t, err)
		snap, err := budget.Snapshot(t.Context())
		require.NoError(t, err)
		require.Equal(t, 5, snap.Used, "every call took a slot of the %q budget", budgetName)
	})

	t.Run("NoKeysetYet", func(t *testing.T) {
		t.Parallel()
		lines, out, err := doctor(t, setup(t, &sandbox.Opts{}), nil)
		require.NoError(t, err, "a warning is not a failure: %s", out)
		requireStatus(t, lines, "permission account:secret-key:rw", "warn", "not checked", "has none yet")
		requireStatus(t, lines, "permission account:usage:r", "warn", "not checked", "has none yet")
	})

	for _, row := range rows {
		t.Run("Missing "+row, func(t *testing.T) {
			t.Parallel()
			var perms []sandbox.Permission
			for _, p := range sandbox.FullAccess() {
				if p.String() != row {
					perms = append(perms, p)
				}
			}
			require.Len(t, perms, len(sandbox.FullAccess())-1)
			b := withTenant(t, setup(t, &sandbox.Opts{Permissions: perms}))

			lines, out, err := doctor(t, b, nil)

			require.EqualError(t, err, "doctor: 1 of 10 checks failed", out)
			requireStatus(t, lines, "permission "+row, "FAIL", "missing", "answered 403", "add the row "+row+" to the key's Service Integration")
			requireStatus(t, lines, "admin api", "ok")
			for _, other := range rows {
				switch {
				case other == row:
				case row == "account:keyset:rw" && other == "account:secret-key:rw":
					requireStatus(t, lines, "permission "+other, "warn", "listing keysets failed")
				case row == "account:app:rw" && other == "account:usage:r":
					requireStatus(t, lines, "permission "+other, "warn", "listing apps failed")
				default:
					requireStatus(t, lines, "permission "+other, "ok")
				}
			}
			if row == "account:oem-customer:rw" {
				requireStatus(t, lines, "oem customers", "warn", "not enabled for OEM customers: ask PubNub")
			}
		})
	}

	t.Run("IssueExamplePermissions", func(t *testing.T) {
		t.Parallel()
		// The rows as PNONBOARD_SANDBOX_PERMISSIONS is often first written, without usage:
		// the usage sync needs account:usage:r, and doctor says so.
		perms, err := sandbox.ParsePermissions("account:app:rw,account:keyset:rw,account:secret-key:rw,account:oem-customer:rw")
		require.NoError(t, err)
		b := withTenant(t, setup(t, &sandbox.Opts{Permissions: perms}))

		lines, out, err := doctor(t, b, nil)

		require.EqualError(t, err, "doctor: 1 of 10 checks failed", out)
		requireStatus(t, lines, "permission account:usage:r", "FAIL", "answered 403", "add the row account:usage:r")
	})

	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		lines, out, err := doctor(t, setup(t, &sandbox.Opts{}), map[string]string{"PNONBOARD_PUBNUB_API_KEY": "not-the-key"})
		require.Error(t, err)
		requireStatus(t, lines, "admin api", "FAIL", "refused the key (401", "set PNONBOARD_PUBNUB_API_KEY")
		require.NotContains(t, out, "not-the-key")
	})

	t.Run("VersionTooOld", func(t *testing.T) {
		t.Parallel()
		lines, _, err := doctor(t, setup(t, &sandbox.Opts{}), map[string]string{"PNONBOARD_PUBNUB_VERSION": "2025-01-01"})
		require.Error(t, err)
		requireStatus(t, lines, "admin api", "FAIL", "(400", "check PNONBOARD_PUBNUB_VERSION (2025-01-01)")
	})

	t.Run("VersionTooOldForOEM", func(t *testing.T) {
		t.Parallel()
		lines, _, err := doctor(t, setup(t, &sandbox.Opts{}), map[string]string{"PNONBOARD_PUBNUB_VERSION": "2025-12-01"})
		require.Error(t, err)
		requireStatus(t, lines, "admin api", "ok")
		requireStatus(t, lines, "oem customers", "FAIL", "check PNONBOARD_PUBNUB_VERSION (2025-12-01)")
	})

	t.Run("AccountWithoutOEM", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandbox.Opts{})
		b.sb.InjectFault(sandbox.OpListCustomers, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusNotFound}, -1)
		lines, _, err := doctor(t, b, nil)
		require.Error(t, err)
		requireStatus(t, lines, "oem customers", "FAIL", "answered 404", "not enabled for OEM customers")
	})

	t.Run("NoAnswer", func(t *testing.T) {
		t.Parallel()
		lines, _, err := doctor(t, setup(t, &sandbox.Opts{}), map[string]string{"PNONBOARD_PUBNUB_URL": "http://" + freeAddr(t) + "/v2"})
		require.Error(t, err)
		requireStatus(t, lines, "admin api", "FAIL", "no answer from", "check PNONBOARD_PUBNUB_URL")
		requireStatus(t, lines, "permissions", "warn", "not checked")
	})

	t.Run("DatabaseUnreachable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandbox.Opts{})
		lines, _, err := doctor(t, b, map[string]string{"DATABASE_URL": "postgres://u@" + freeAddr(t) + "/x?connect_timeout=2"})
		require.Error(t, err)
		requireStatus(t, lines, "database", "FAIL", "check DATABASE_URL")
		requireStatus(t, lines, "admin api", "warn", "not checked", "rate budget")
		require.Zero(t, b.sb.CallCount(), "no call bypasses the budget")
	})

	t.Run("BadProfiles", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		bad := filepath.Join(dir, "profiles.yaml")
		require.NoError(t, os.WriteFile(bad, []byte(`
- name: chatty
  keysetType: testing
  config: {presence: {enabled: true, announceMax: 500}, messagePersistence: {retention: 14}}
- name: quiet
  keysetType: production
`), 0o600))
		lines, _, err := doctor(t, setup(t, &sandbox.Opts{}), map[string]string{"PNONBOARD_PROFILES_FILE": bad})
		require.Error(t, err)
		requireStatus(t, lines, "profiles", "FAIL", `profile "chatty": `, "messagePersistence.retention must be one of", "presence.announceMax must be between 0 and 100", "fix "+bad)

		broken := filepath.Join(dir, "broken.json")
		require.NoError(t, os.WriteFile(broken, []byte(`[{"name": "x", "keysetType": "testing", "config": {"presense": {}}}]`), 0o600))
		lines, _, err = doctor(t, setup(t, &sandbox.Opts{}), map[string]string{"PNONBOARD_PROFILES_FILE": broken})
		require.Error(t, err)
		requireStatus(t, lines, "profiles", "FAIL", "presense", "fix PNONBOARD_PROFILES_FILE")
	})

	t.Run("KeyExpiry", func(t *testing.T) {
		t.Parallel()
		b := withTenant(t, setup(t, &sandbox.Opts{}))
		in := func(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format(time.DateOnly) }

		lines, out, err := doctor(t, b, map[string]string{"PNONBOARD_PUBNUB_API_KEY_EXPIRES": in(10)})
		require.NoError(t, err, "a warning only: %s", out)
		requireStatus(t, lines, "api key expiry", "warn", "expires on "+in(10), "make a new Service Integration key")

		lines, _, err = doctor(t, b, map[string]string{"PNONBOARD_PUBNUB_API_KEY_EXPIRES": in(-1)})
		require.EqualError(t, err, "doctor: 1 of 10 checks failed")
		requireStatus(t, lines, "api key expiry", "FAIL", "expired on "+in(-1))

		lines, _, err = doctor(t, b, map[string]string{"PNONBOARD_PUBNUB_API_KEY_EXPIRES": in(200)})
		require.NoError(t, err)
		requireStatus(t, lines, "api key expiry", "ok", "in 200 days")
	})

	t.Run("ConfigNamesTheVariable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &sandbox.Opts{})
		_, _, err := doctor(t, b, map[string]string{"PNONBOARD_PUBNUB_API_KEY": ""})
		require.EqualError(t, err, "config: PNONBOARD_PUBNUB_API_KEY: is required")
		_, _, err = doctor(t, b, map[string]string{"PNONBOARD_PUBNUB_API_KEY_EXPIRES": "soon"})
		require.EqualError(t, err, `config: PNONBOARD_PUBNUB_API_KEY_EXPIRES: must be a date like 2027-03-31 (got "soon")`)
	})
}

// TestDoctorKeyExpiryDates: the expiry line at its edges, by the date, with a fixed clock.
func TestDoctorKeyExpiryDates(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 1, 10, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		expires string
		status  string
		says    string
	}{
		{"", api.ReadyOK, "no expiry date given"},
		{"2027-01-09", api.ReadyFail, "expired on 2027-01-09"},
		{"2027-01-10", api.ReadyWarn, "in 0 days"},
		{"2027-02-09", api.ReadyWarn, "in 30 days"},
		{"2027-02-10", api.ReadyOK, "in 31 days"},
		{"2028-01-11", api.ReadyOK, "in 366 days"},
		{"2028-01-12", api.ReadyWarn, "more than a year away"},
	} {
		var expires time.Time
		if tt.expires != "" {
			expires, _ = time.Parse(time.DateOnly, tt.expires)
		}
		d := &doctor{keyExpires: expires, now: func() time.Time { return now }}
		c := d.expiryCheck()
		require.Equal(t, tt.status, c.Status, tt.expires)
		require.Contains(t, c.Detail, tt.says, tt.expires)
	}
}

// TestReadyzVerbose: a serving replica answers server doctor's report at /readyz?verbose=1
// (admin key), spending Admin API calls at most every 30 s however often it is asked.
func TestReadyzVerbose(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, e *e2e, path, key string) (int, map[string]any) {
		t.Helper()
		return callAPI(t, e.srv.BaseURL, key, http.MethodGet, path, nil)
	}
	names := func(body map[string]any) map[string]string {
		out := map[string]string{}
		for _, c := range body["checks"].([]any) {
			m := c.(map[string]any)
			out[m["name"].(string)] = m["status"].(string)
		}
		return out
	}

	t.Run("AllOK", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		_, err := e.sb.Prefill(1, nil)
		require.NoError(t, err)

		status, body := get(t, e, "/readyz?verbose=1", e.key)
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, map[string]string{
			"database": "ok", "admin api": "ok", "permission account:app:rw": "ok", "permission account:keyset:rw": "ok",
			"permission account:secret-key:rw": "ok", "permission account:usage:r": "ok", "permission account:oem-customer:rw": "ok",
			"oem customers": "ok", "profiles": "ok", "api key expiry": "ok",
		}, names(body))
		calls := e.sb.CallCount()
		require.Equal(t, 5, calls)

		status, _ = get(t, e, "/readyz?verbose=1", e.key)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, calls, e.sb.CallCount(), "the upstream half is reused within 30 s")

		status, body = get(t, e, "/readyz", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, map[string]any{"status": "ready"}, body, "the plain probe is as it was")
	})

	t.Run("MissingRowNamed", func(t *testing.T) {
		t.Parallel()
		perms, err := sandbox.ParsePermissions("account:app:rw,account:keyset:rw,account:secret-key:rw")
		require.NoError(t, err)
		e := startE2EWith(t, nil, &sandbox.Opts{Permissions: perms})

		status, body := get(t, e, "/readyz?verbose=1", e.key)
		require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
		require.Equal(t, "not_ready", body["code"])
		require.Contains(t, body["detail"], "permission account:oem-customer:rw")
		require.Equal(t, "fail", names(body)["permission account:oem-customer:rw"])
		status, _ = get(t, e, "/readyz", "")
		require.Equal(t, http.StatusOK, status, "the load balancer's probe does not depend on upstream")
	})
}

// TestReadyChecksRetryCutShort: a report whose context ended is not reused.
func TestReadyChecksRetryCutShort(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(&sandbox.Opts{APIKey: "k"})
	_, err := sb.Prefill(1, nil)
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	db := pgtest.NewDB(t)
	budget, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: budgetName, PerMinute: 6000})
	require.NoError(t, err)
	cfg := config{PubNubURL: srv.URL + "/v2", PubNubAPIKey: "k", PubNubVersion: "2026-02-09", PubNubTimeout: 5 * time.Second}
	d := newDoctor(cfg, nil)
	d.upstream = provisioner.NewClient(provisioner.ClientOpts{Budget: budget, BaseURL: cfg.PubNubURL, APIKey: "k", Version: cfg.PubNubVersion})
	r := &readyChecks{doctor: d}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	first := r.run(cancelled)
	require.Equal(t, api.ReadyFail, first[0].Status, "%v", first)
	second := r.run(t.Context())
	require.Equal(t, api.ReadyOK, second[0].Status, "%v", second)
	require.Equal(t, 5, sb.CallCount(), "the cut-short run was not kept")
}
