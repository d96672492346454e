package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/console"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
	"github.com/pnonboard/pnonboard/internal/tokens"
	"github.com/pnonboard/pnonboard/internal/usage"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

// testBundle is the console over a real database, served by httptest.
type testBundle struct {
	db      *pgtest.DB
	keys    *auth.Service
	tenants *tenants.Service
	keyring *secrets.Keyring
	srv     *httptest.Server
	logs    *logging.Buffer
	// With setupOpts.tokens: the token service, and the sandbox it calls.
	tokens *tokens.Service
	sb     *sandbox.Sandbox
	// With setupOpts.usage: the usage service.
	usage *usage.Service
}

type setupOpts struct {
	dev     bool
	console console.Opts
	tokens  bool // the console gets a token service, over a sandbox's Access Manager
	usage   bool // the console gets a usage service
	// usageNow is the usage service's clock (nil: time.Now).
	usageNow func() time.Time
}

func setup(t *testing.T, o *setupOpts) *testBundle {
	t.Helper()
	if o == nil {
		o = &setupOpts{}
	}
	db := pgtest.NewDB(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{}))
	river.AddWorker(workers, webhooks.NewDeliveryWorker(webhooks.DeliveryWorkerOpts{}))
	inserter, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Workers: workers})
	require.NoError(t, err)
	keyring, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	b := &testBundle{db: db, keys: auth.NewService(db.Pool, nil), keyring: keyring, logs: &logging.Buffer{}}
	b.tenants = tenants.NewService(tenants.ServiceOpts{
		DB: db.Pool, Enqueuer: &provisioner.Enqueuer{Client: inserter}, Opener: keyring,
		Environments:        []tenants.Environment{{Name: "development", KeysetType: "testing"}, {Name: "production", KeysetType: "production"}},
		DefaultEnvironments: []string{"development", "production"},
	})
	opts := o.console
	opts.Logger = logging.New(b.logs, "json", slog.LevelDebug)
	opts.Keys, opts.Tenants, opts.Dev = b.keys, b.tenants, o.dev
	opts.Webhooks = webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool, River: inserter, Keyring: keyring})
	if o.tokens {
		b.sb = sandbox.New(&sandbox.Opts{APIKey: "console-test", RatePerMinute: -1})
		up := httptest.NewServer(b.sb)
		t.Cleanup(up.Close)
		b.tokens = tokens.NewService(tokens.ServiceOpts{
			Pool: db.Pool, Tenants: b.tenants, Keyring: keyring, RetryBase: time.Millisecond,
			Environments: []tokens.Environment{{Name: "development"}, {Name: "production", AccessManager: true, TokenRevoke: true}},
			Client:       accessmanager.New(up.URL, &http.Client{Timeout: 5 * time.Second}),
		})
		opts.Tokens = b.tokens
	}
	if o.usage {
		b.usage = usage.NewService(usage.ServiceOpts{Pool: db.Pool, Now: o.usageNow})
		opts.Usage = b.usage
	}
	b.srv = httptest.NewServer(console.New(&opts))
	t.Cleanup(b.srv.Close)
	return b
}

// key mints a key named name with exactly scopes.
func (b *testBundle) key(t *testing.T, name string, scopes ...auth.Scope) (*auth.Key, string) {
	t.Helper()
	k, plaintext, err := b.keys.Create(context.Background(), auth.CreateParams{Name: name, Scopes: scopes, CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)
	return k, plaintext
}

// tenant creates a tenant and moves it to state (by hand: no worker runs here).
func (b *testBundle) tenant(t *testing.T, externalID, name string, state tenants.State) {
	t.Helper()
	_, _, err := b.tenants.Create(context.Background(), tenants.CreateParams{ExternalID: externalID, Name: name, Actor: "test"})
	require.NoError(t, err)
	tenantstest.SetState(t, b.db.Pool, externalID, state, tenants.DesiredActive)
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

// browser is a client that keeps the console cookie and does not follow redirects.
type browser struct {
	b      *testBundle
	cookie *http.Cookie
}

func (b *testBundle) browser() *browser { return &browser{b: b} }

func (br *browser) do(t *testing.T, method, path string, form url.Values, header ...string) *response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, br.b.srv.URL+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if br.cookie != nil {
		req.AddCookie(br.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, c := range resp.Cookies() {
		if strings.Contains(c.Name, "pnonboard_console") {
			if c.MaxAge < 0 {
				br.cookie = nil
			} else {
				br.cookie = c
			}
		}
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (br *browser) get(t *testing.T, path string) *response {
	t.Helper()
	return br.do(t, http.MethodGet, path, nil)
}

// signIn signs in with key and fails the test unless it works.
func (br *browser) signIn(t *testing.T, key string) {
	t.Helper()
	resp := br.do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {key}})
	require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
	require.NotNil(t, br.cookie)
}

// signedIn is a browser signed in with a new key named name with exactly scopes, and the key.
func (b *testBundle) signedIn(t *testing.T, name string, scopes ...auth.Scope) (*browser, *auth.Key) {
	t.Helper()
	k, key := b.key(t, name, scopes...)
	br := b.browser()
	br.signIn(t, key)
	return br, k
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the session's CSRF token, as its pages carry it.
func (br *browser) csrf(t *testing.T) string {
	t.Helper()
	resp := br.get(t, "/console/tenants")
	m := csrfInput.FindStringSubmatch(resp.Body)
	require.NotNil(t, m, resp.Body)
	return m[1]
}

func TestSignIn(t *testing.T) {
	t.Parallel()

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, key := b.key(t, "support: ana", auth.ScopeTenantsRead)
		br := b.browser()
		resp := br.do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {key}, "next": {"/console/tenants?q=ac"}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants?q=ac", resp.Header.Get("Location"))
		c := br.cookie
		require.Equal(t, "__Host-pnonboard_console", c.Name)
		require.True(t, c.HttpOnly)
		require.True(t, c.Secure)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.Equal(t, "/", c.Path)
		require.NotContains(t, c.Value, key)

		page := br.get(t, "/console/tenants")
		require.Equal(t, http.StatusOK, page.Status)
		require.Contains(t, page.Body, "support: ana")
		require.NotContains(t, b.logs.String(), key)
	})

	t.Run("DevCookieIsNotSecure", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{dev: true})
		br, _ := b.signedIn(t, "dev", auth.ScopeTenantsRead)
		require.Equal(t, "pnonboard_console", br.cookie.Name)
		require.False(t, br.cookie.Secure)
		require.True(t, br.cookie.HttpOnly)
		require.Equal(t, http.StatusOK, br.get(t, "/console/tenants").Status)
	})

	t.Run("BadKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for _, key := range []string{"", "nope", "pno_abcdefgh_" + strings.Repeat("A", 43), strings.Repeat("x", 5000)} {
			resp := b.browser().do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {key}})
			require.Equal(t, http.StatusUnauthorized, resp.Status)
			require.Contains(t, resp.Body, "That key was not accepted")
			require.Empty(t, resp.Header.Values("Set-Cookie"))
		}
	})

	t.Run("FailuresAreRateLimitedPerAddress", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{console: console.Opts{SignInFailures: 3, SignInWindow: time.Hour}})
		_, key := b.key(t, "ok", auth.ScopeTenantsRead)
		for range 3 {
			require.Equal(t, http.StatusUnauthorized, b.browser().do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {"nope"}}).Status)
		}
		resp := b.browser().do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {key}})
		require.Equal(t, http.StatusTooManyRequests, resp.Status, "even a good key waits: the limit is checked first")
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		require.Contains(t, resp.Body, "Too many failed sign-ins")
	})

	t.Run("NextStaysInTheConsole", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, key := b.key(t, "ok", auth.ScopeTenantsRead)
		for _, next := range []string{"https://evil.example/", "//evil.example/console/", "/v1/tenants", "/console", "javascript:alert(1)", "/console/\\evil"} {
			resp := b.browser().do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {key}, "next": {next}})
			require.Equal(t, http.StatusSeeOther, resp.Status)
			require.Equal(t, "/console/", resp.Header.Get("Location"), next)
		}
	})

	t.Run("SignedOutPagesSendToSignIn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp := b.browser().get(t, "/console/tenants?q=acme")
		require.Equal(t, http.StatusSeeOther, resp.Status)
		require.Equal(t, "/console/sign-in?next=%2Fconsole%2Ftenants%3Fq%3Dacme", resp.Header.Get("Location"))
		resp = b.browser().do(t, http.MethodGet, "/console/tenants", nil, "HX-Request", "true")
		require.Equal(t, "/console/sign-in?next=%2Fconsole%2Ftenants", resp.Header.Get("HX-Redirect"), "htmx is told to navigate")
		resp = b.browser().get(t, "/console")
		require.Equal(t, http.StatusMovedPermanently, resp.Status)
		require.Equal(t, "/console/", resp.Header.Get("Location"))
	})
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()

	t.Run("SignOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		old := br.cookie
		resp := br.do(t, http.MethodPost, "/console/sign-out", url.Values{"csrf": {br.csrf(t)}})
		require.Equal(t, http.StatusSeeOther, resp.Status)
		require.Equal(t, "/console/sign-in?signed_out=1", resp.Header.Get("Location"))
		require.Nil(t, br.cookie, "the cookie is cleared")
		replay := &browser{b: b, cookie: old}
		require.Equal(t, http.StatusSeeOther, replay.get(t, "/console/tenants").Status, "and the session is gone server-side")
	})

	t.Run("RevokedKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		br, k := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		require.Equal(t, http.StatusOK, br.get(t, "/console/tenants").Status)
		_, err := b.keys.Revoke(context.Background(), k.ID)
		require.NoError(t, err)
		resp := br.get(t, "/console/tenants")
		require.Equal(t, http.StatusSeeOther, resp.Status)
		require.Nil(t, br.cookie)
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
	for _, path := range []string{"/console/sign-in", "/console/tenants", "/console/static/console.css", "/console/nowhere", "/console/tenants/nobody"} {
		resp := br.get(t, path)
		csp := resp.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "default-src 'none'", path)
		require.Contains(t, csp, "script-src 'self';", path)
		require.Contains(t, csp, "style-src 'self';", path)
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.NotContains(t, csp, "unsafe", path)
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), path)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
	}
	require.Equal(t, http.StatusNotFound, br.get(t, "/console/nowhere").Status)
	require.Equal(t, http.StatusNotFound, br.get(t, "/console/tenants/nobody").Status)
	page := br.get(t, "/console/tenants")
	require.Equal(t, "no-store", page.Header.Get("Cache-Control"))
	require.NotRegexp(t, `<script>|<style|style="|\son[a-z]+=`, page.Body, "no inline script, style or handler")
}

func TestStatic(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	br := b.browser()
	for _, f := range []string{"htmx.min.js", "htmx.LICENSE", "console.css"} {
		resp := br.get(t, "/console/static/"+f)
		require.Equal(t, http.StatusOK, resp.Status, f)
	}
	require.Contains(t, br.get(t, "/console/static/htmx.LICENSE").Body, "Zero-Clause BSD")
	require.Equal(t, http.StatusNotFound, br.get(t, "/console/static/").Status, "no listing")
	signIn := br.get(t, "/console/sign-in").Body
	m := regexp.MustCompile(`src="(/console/static/htmx\.min\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(signIn)
	require.NotNil(t, m, signIn)
	require.Contains(t, br.get(t, m[1]).Header.Get("Cache-Control"), "immutable")
}

func TestTenantPages(t *testing.T) {
	t.Parallel()

	t.Run("ListSearchAndFilter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme Corp", tenants.StateActive)
		b.tenant(t, "globex", "Globex", tenants.StateFailed)
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		all := br.get(t, "/console/tenants").Body
		require.Contains(t, all, `href="/console/tenants/acme"`)
		require.Contains(t, all, `href="/console/tenants/globex"`)
		require.Contains(t, all, `class="state state-failed"`)
		q := br.get(t, "/console/tenants?q=glo").Body
		require.NotContains(t, q, `href="/console/tenants/acme"`)
		require.Contains(t, q, `href="/console/tenants/globex"`)
		byName := br.get(t, "/console/tenants?q=acme+c").Body
		require.Contains(t, byName, `href="/console/tenants/acme"`)
		st := br.get(t, "/console/tenants?state="+string(tenants.StateActive)).Body
		require.Contains(t, st, `href="/console/tenants/acme"`)
		require.NotContains(t, st, `href="/console/tenants/globex"`)
		today := time.Now().UTC().Format(time.DateOnly)
		require.Contains(t, br.get(t, "/console/tenants?from="+today+"&to="+today).Body, `href="/console/tenants/acme"`)
		require.NotContains(t, br.get(t, "/console/tenants?to=2020-01-01").Body, `href="/console/tenants/acme"`)
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/tenants?state=sleepy").Status)
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/tenants?from=yesterday").Status)
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/tenants?cursor=bogus").Status)
	})

	t.Run("ListPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for i := range 30 {
			b.tenant(t, fmt.Sprintf("t%02d", i), fmt.Sprintf("Tenant %02d", i), tenants.StateActive)
		}
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		first := br.get(t, "/console/tenants").Body
		require.Contains(t, first, "/console/tenants/t29")
		require.NotContains(t, first, "/console/tenants/t04\"")
		next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(first)
		require.NotNil(t, next)
		second := br.get(t, strings.ReplaceAll(next[1], "&amp;", "&")).Body
		require.Contains(t, second, "/console/tenants/t04\"")
		require.NotContains(t, second, "/console/tenants/t29")
		require.NotContains(t, second, `rel="next"`)
	})

	t.Run("FilterHook", func(t *testing.T) {
		t.Parallel()
		applied := make(chan bool, 1)
		b := setup(t, &setupOpts{console: console.Opts{Filters: []console.ListFilter{{
			Param: "stuck", Label: "Stuck only",
			ApplyFunc: func(p *tenants.ListParams) { applied <- true; p.State = tenants.StateFailed },
		}}}})
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		list := br.get(t, "/console/tenants").Body
		require.Contains(t, list, `<label for="f-stuck">Stuck only</label>`)
		require.Less(t, strings.Index(list, `id="f-drifted"`), strings.Index(list, `id="f-stuck"`), "after the built-in filter")
		body := br.get(t, "/console/tenants?stuck=on").Body
		require.True(t, <-applied)
		require.NotContains(t, body, "/console/tenants/acme")
	})

	t.Run("TenantPage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme Corp", tenants.StateActive)
		id := tenantstest.ID(t, b.db.Pool, "acme")
		// Each keyset holds its secret as provisioning stores it (sealed; the tenants service can open it).
		for i, env := range []string{"development", "production"} {
			n := string(rune('1' + i))
			tenantstest.HoldKeyset(t, b.db.Pool, id, env, tenantstest.Keyset{KeysetID: "ks-" + n, PublishKey: "pub-c-" + n, SubscribeKey: "sub-c-" + n,
				SecretKeySealed: b.keyring.Seal([]byte("sec-c-SECRET"+n), tenants.SecretAAD(id, env)), Assigned: true})
		}
		tenantstest.Provisioned(t, b.db.Pool, id, "app-7001", "cust-9001")
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		body := br.get(t, "/console/tenants/acme").Body
		for _, want := range []string{"Acme Corp", `id="tenant-state">active<`, "ks-1", "pub-c-1", "sub-c-1", "ks-2", "pub-c-2", "sub-c-2",
			"development", "production", "<code>created</code>", "Secret keys are never shown",
			"<dt>Customer ID</dt><dd><code>cust-9001</code></dd>", "<dt>App ID</dt><dd><code>app-7001</code></dd>"} {
			require.Contains(t, body, want)
		}
		require.NotContains(t, body, "sec-c-", "no secret key anywhere in the page")
		require.NotContains(t, body, "SECRET")
		require.NotContains(t, body, "Webhooks sent", "the key cannot read webhooks")
	})

	t.Run("LastErrorWithAdvice", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateFailed)
		tenantstest.SetFailure(t, b.db.Pool, "acme", "PubNub 403: keyset limit reached", "create_keyset:production")
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		body := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, body, "Last error at step <code>create_keyset:production</code>")
		require.Contains(t, body, "PubNub 403: keyset limit reached")
		require.Contains(t, body, "provisioning resumes at this step")
		require.Contains(t, body, `href="/console/tenants/acme/retry"`)
	})

	t.Run("OutputIsEscaped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "xss", `<script>alert("x")</script>`, tenants.StateActive)
		br, _ := b.signedIn(t, `<img src=x onerror=alert(1)>`, auth.ScopeTenantsRead)
		for _, path := range []string{"/console/tenants", "/console/tenants/xss"} {
			body := br.get(t, path).Body
			require.NotContains(t, body, `<script>alert`, path)
			require.NotContains(t, body, `<img src=x`, path)
			require.Contains(t, body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, path)
		}
	})

	t.Run("TimelineNewestFirstInPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		for i := range 30 {
			tenantstest.AddEvents(t, b.db.Pool, "acme", tenants.Event{Actor: "test", Action: tenants.Action(fmt.Sprintf("step_%02d", i)), Detail: map[string]any{}})
		}
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		first := br.get(t, "/console/tenants/acme").Body
		require.Less(t, strings.Index(first, "step_29"), strings.Index(first, "step_05"), "newest first")
		require.NotContains(t, first, "step_04<")
		older := regexp.MustCompile(`href="([^"]+)" rel="next">Older`).FindStringSubmatch(first)
		require.NotNil(t, older, first)
		second := br.get(t, strings.ReplaceAll(older[1], "&amp;", "&")).Body
		require.Contains(t, second, "step_04<")
		require.Contains(t, second, "<code>created</code>", "the oldest entry is on the last page")
		require.NotContains(t, second, "step_05<")
		require.Contains(t, second, "« Newest")
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/tenants/acme?before=999999999").Status)
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/tenants/acme?before=x").Status)
	})
}

func TestActions(t *testing.T) {
	t.Parallel()

	t.Run("DisableWithReasonOnTheTimeline", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsDisable)
		page := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, page, `href="/console/tenants/acme/disable"`)
		require.NotContains(t, page, `href="/console/tenants/acme/enable"`, "offered only when disabled is wanted")
		require.NotContains(t, page, `href="/console/tenants/acme/retry"`, "the key lacks tenants:write")

		confirm := br.get(t, "/console/tenants/acme/disable")
		require.Equal(t, http.StatusOK, confirm.Status)
		require.Contains(t, confirm.Body, `<label for="reason">`)
		csrf := csrfInput.FindStringSubmatch(confirm.Body)[1]

		empty := br.do(t, http.MethodPost, "/console/tenants/acme/disable", url.Values{"csrf": {csrf}, "reason": {"  "}})
		require.Equal(t, http.StatusUnprocessableEntity, empty.Status)
		require.Contains(t, empty.Body, "A reason is required")

		resp := br.do(t, http.MethodPost, "/console/tenants/acme/disable", url.Values{"csrf": {csrf}, "reason": {"unpaid invoice"}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants/acme?done=disable", resp.Header.Get("Location"))
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Disable requested")
		require.Contains(t, after, `id="tenant-state">disabling<`)
		require.Contains(t, after, "<code>disable_requested</code>")
		require.Contains(t, after, "reason: unpaid invoice")

		last := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionDisableRequested, last.Action)
		require.Equal(t, k.Actor().String(), last.Actor, "the same actor the API records")
		require.Equal(t, "unpaid invoice", last.Detail["reason"])
	})

	t.Run("RefusedForStateShowsWhy", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		resp := br.do(t, http.MethodPost, "/console/tenants/acme/retry", url.Values{"csrf": {br.csrf(t)}})
		require.Equal(t, http.StatusConflict, resp.Status)
		require.Contains(t, resp.Body, "Cannot retry the tenant: it is active.")
	})

	t.Run("ReadOnlyKeySeesNoButtonsAndForgedPostsAreRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		// Provisioned and drifted, so that every built-in action would be offered to a key
		// with its scope (Check now and Repair included).
		acme := b.provisioned(t, "acme", "Acme")
		b.drifted(t, "acme", tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: tenants.KeysetResource(&acme.Keysets[1])})
		br, _ := b.signedIn(t, "viewer", auth.ScopeTenantsRead)
		page := br.get(t, "/console/tenants/acme").Body
		require.NotContains(t, page, `id="actions"`)
		require.NotContains(t, page, `id="drift-actions"`)
		require.NotContains(t, page, `class="button`, "no action button at all")
		require.Equal(t, 1, strings.Count(page, "<form method=\"post\""), "the only POST form is sign-out")
		require.Contains(t, page, `<form method="post" action="/console/sign-out">`)
		for _, action := range []string{"retry", "disable", "enable", "check", "repair"} {
			require.NotContains(t, page, "/console/tenants/acme/"+action)
			require.Equal(t, http.StatusForbidden, br.get(t, "/console/tenants/acme/"+action).Status)
			resp := br.do(t, http.MethodPost, "/console/tenants/acme/"+action, url.Values{"csrf": {br.csrf(t)}, "reason": {"forged"}})
			require.Equal(t, http.StatusForbidden, resp.Status, action)
			require.Contains(t, resp.Body, "lacks the tenants:")
		}
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.StateActive, got.State)
	})

	t.Run("CSRF", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		_, key := b.key(t, "ana", auth.ScopeTenantsRead, auth.ScopeTenantsDisable)
		br := b.browser()
		br.signIn(t, key)
		csrf := br.csrf(t)
		other := b.browser()
		other.signIn(t, key)

		for name, c := range map[string]struct {
			form   url.Values
			header []string
		}{
			"NoToken":              {url.Values{"reason": {"x"}}, nil},
			"WrongToken":           {url.Values{"reason": {"x"}, "csrf": {"AAAA"}}, nil},
			"AnotherSessionsToken": {url.Values{"reason": {"x"}, "csrf": {other.csrf(t)}}, nil},
			"CrossSiteWithToken":   {url.Values{"reason": {"x"}, "csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
			"OtherOriginWithToken": {url.Values{"reason": {"x"}, "csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
		} {
			resp := br.do(t, http.MethodPost, "/console/tenants/acme/disable", c.form, c.header...)
			require.Equal(t, http.StatusForbidden, resp.Status, name)
		}
		resp := br.do(t, http.MethodPost, "/console/sign-in", url.Values{"key": {key}}, "Sec-Fetch-Site", "cross-site")
		require.Equal(t, http.StatusForbidden, resp.Status, "no sign-in from another site either")
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.StateActive, got.State)
		resp = br.do(t, http.MethodPost, "/console/tenants/acme/disable", url.Values{"reason": {"x"}, "csrf": {csrf}}, "Sec-Fetch-Site", "same-origin")
		require.Equal(t, http.StatusSeeOther, resp.Status, "the console's own form works")
	})

	t.Run("ExtraActionAndSection", func(t *testing.T) {
		t.Parallel()
		called := make(chan string, 1)
		b := setup(t, &setupOpts{console: console.Opts{
			Actions: []console.Action{{Name: "check-drift", Label: "Check drift", Scope: auth.ScopeTenantsWrite,
				Explain: "Compares upstream with the tenant now.", Done: "Drift check requested.",
				DoFunc: func(_ context.Context, id, _ string, actor auth.Actor) error {
					called <- id + " by " + actor.Name
					return nil
				}}},
			Sections: []console.Section{{Title: "Usage", Scope: auth.ScopeTenantsRead, Template: `<p id="usage">{{.}}</p>`,
				DataFunc: func(_ context.Context, t *tenants.Tenant) (any, error) {
					return "<b>" + t.ExternalID + "</b> used 3", nil
				}}},
		}})
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		page := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, page, `<p id="usage">&lt;b&gt;acme&lt;/b&gt; used 3</p>`, "escaped by the section's template")
		require.Contains(t, page, `href="/console/tenants/acme/check-drift"`)
		resp := br.do(t, http.MethodPost, "/console/tenants/acme/check-drift", url.Values{"csrf": {br.csrf(t)}})
		require.Equal(t, http.StatusSeeOther, resp.Status)
		require.Equal(t, "acme by ana", <-called)
		require.Contains(t, br.get(t, resp.Header.Get("Location")).Body, "Drift check requested.")
	})
}

// TestActOnlyKey: a key that may disable but not read tenants (the API allows that) gets the
// confirm page naming only the externalId, and its disable works.
func TestActOnlyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.tenant(t, "acme", "Acme Secret Name", tenants.StateActive)
	br, _ := b.signedIn(t, "ana", auth.ScopeTenantsDisable)
	confirm := br.get(t, "/console/tenants/acme/disable")
	require.Equal(t, http.StatusOK, confirm.Status)
	require.Contains(t, confirm.Body, "<strong>acme</strong>")
	require.NotContains(t, confirm.Body, "Acme Secret Name")
	require.Equal(t, http.StatusForbidden, br.get(t, "/console/tenants/acme").Status)
	resp := br.do(t, http.MethodPost, "/console/tenants/acme/disable", url.Values{"csrf": {csrfInput.FindStringSubmatch(confirm.Body)[1]}, "reason": {"abuse"}})
	require.Equal(t, http.StatusSeeOther, resp.Status)
	got, err := b.tenants.GetByExternalID(context.Background(), "acme")
	require.NoError(t, err)
	require.Equal(t, tenants.DesiredDisabled, got.Desired)
}
