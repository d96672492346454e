package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// Browser tests: the support console and /docs in real headless Chromium against run().
// Chromium is Debian's chromium package (scripts/ensure-postgres.sh test, which make test runs,
// installs it with PostgreSQL when it runs as root). Without it these tests skip, except under CI=true, where they fail.

// chromiumPath finds the browser, or ends the test: a skip locally, a failure under CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium not found: the browser tests need Debian's chromium package (scripts/ensure-postgres.sh test installs it; make test runs that script)"
	if v := strings.ToLower(os.Getenv("CI")); v == "true" || v == "1" {
		t.Fatal(msg + "; CI=true, so this fails instead of skipping")
	}
	t.Skip(msg)
	return ""
}

// tab is one headless Chromium tab with what its pages wrote to the console.
type tab struct {
	ctx     context.Context
	mu      sync.Mutex
	console []string
}

// newTab starts Chromium with a fresh profile in a temp dir and the flags this machine's
// closed network needs, at 1280×800. evil.test resolves to 127.0.0.1 (for a cross-site page
// that is still on this machine); every other name resolves as usual.
func newTab(t *testing.T) *tab {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// With no timeout: this first call starts the browser and bounds its life.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)), "start Chromium")
	tb := &tab{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			tb.mu.Unlock()
		}
	}()
	return tb
}

// do runs steps, bounded, failing the test with where the page was.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(tb.ctx, chromedp.Location())
		body, _ := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("browser: %v\nat %s\n%s", err, loc, body)
	}
}

func runIn[T any](t *testing.T, tb *tab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// text is the visible text of the first element sel matches.
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return runIn(t, tb, chromedp.Text(chromedp.CSS(sel)))
}

// count is how many elements match sel.
func (tb *tab) count(t *testing.T, sel string) int {
	t.Helper()
	return runIn(t, tb, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// screenshot saves the whole page as .artifacts/console/name.png at the repository's root,
// for a reviewer to look at (the folder is git-ignored); viewport keeps to what the window
// shows.
func (tb *tab) screenshot(t *testing.T, name string, viewport ...bool) {
	t.Helper()
	shot := chromedp.FullScreenshot(100)
	if len(viewport) > 0 && viewport[0] {
		shot = chromedp.CaptureScreenshot()
	}
	png := runIn(t, tb, shot)
	dir := filepath.Join("..", "..", ".artifacts", "console")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// noPolicyViolations fails the test if a page reported a Content-Security-Policy refusal
// other than those of allowed (substrings): the pages' own scripts and styles must all run
// under their policy.
func (tb *tab) noPolicyViolations(t *testing.T, allowed ...string) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
next:
	for _, m := range tb.console {
		for _, a := range allowed {
			if strings.Contains(m, a) {
				continue next
			}
		}
		require.NotContains(t, m, "Content Security Policy", "console: %v", tb.console)
	}
}

// signIn signs in through the form, as a person pastes a key.
func (tb *tab) signIn(t *testing.T, baseURL, key string) {
	t.Helper()
	tb.do(t,
		chromedp.Navigate(baseURL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), key),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
}

// consoleKey makes an API key with scopes for a person called name.
func consoleKey(t *testing.T, e *e2e, name string, scopes ...auth.Scope) (*auth.Key, string) {
	t.Helper()
	k, plaintext, err := auth.NewService(e.db.Pool, nil).Create(context.Background(), auth.CreateParams{
		Name: name, Scopes: scopes, CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)
	return k, plaintext
}

// TestConsoleSupportFlow: sign in with a key, find a tenant, see its timeline, disable it with
// a reason, see the state change and the timeline entry (with the key's name as actor), then
// sign out, which ends the session on the server too. Screenshots go to .artifacts/console/.
func TestConsoleSupportFlow(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	e := startE2E(t, nil)
	for _, tn := range []map[string]any{
		{"externalId": "acme", "name": "Acme Corp", "metadata": map[string]string{"plan": "enterprise"}},
		{"externalId": "globex", "name": "Globex", "environments": []string{"production"}},
	} {
		status, body := e.call(t, http.MethodPost, "/v1/tenants", tn, "Prefer", "wait=30")
		require.Equal(t, http.StatusAccepted, status, "%v", body)
		require.Equal(t, string(tenants.StateActive), body["state"], "%v", body)
	}
	key, plaintext := consoleKey(t, e, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite,
		auth.ScopeTenantsDisable, auth.ScopeWebhooksRead, auth.ScopeTokensWrite, auth.ScopeUsageRead)
	base := e.srv.BaseURL

	t.Run("SignInWithAKey", func(t *testing.T) {
		tb.signIn(t, base, plaintext)
		require.Contains(t, tb.text(t, "header .who"), "support: ana")
		require.Equal(t, "Tenants", tb.text(t, "main h1"))
		tb.screenshot(t, "tenants")
	})

	t.Run("FindATenant", func(t *testing.T) {
		require.Equal(t, 2, tb.count(t, "#results tbody tr"))
		// htmx filters as the person types; the URL follows, so the page can be shared.
		tb.do(t, chromedp.SendKeys(chromedp.ID("q"), "acm"))
		// Until the last request has been swapped in and settled: a click on a row being
		// replaced would be lost.
		tb.do(t, chromedp.Poll[chromedp.Void](`document.querySelectorAll("#results tbody tr").length === 1 && location.search.includes("q=acm") &&
			!document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")`))
		require.Contains(t, tb.text(t, "#results"), "Acme Corp")
		require.Contains(t, runIn(t, tb, chromedp.Location()), "q=acm")
		// Leave the field first, as a person's click does: its change event searches once more,
		// and a click on a row swapped in between mouse down and up would be lost.
		runIn(t, tb, chromedp.Evaluate[bool](`new Promise(done => {
			document.body.addEventListener("htmx:afterSettle", () => done(true), {once: true});
			setTimeout(() => done(false), 3000);
			document.getElementById("q").blur();
		})`, chromedp.EvalAwaitPromise))
		tb.do(t, chromedp.Poll[chromedp.Void](`!document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")`))
		tb.do(t, chromedp.Click(chromedp.CSS(`#results a[href="/console/tenants/acme"]`)),
			chromedp.WaitVisible(chromedp.ID("tenant-state")))
		require.Equal(t, string(tenants.StateActive), tb.text(t, "#tenant-state"))
	})

	t.Run("SeeItsTimeline", func(t *testing.T) {
		timeline := tb.text(t, "#timeline-table")
		for _, action := range []tenants.Action{tenants.ActionCreated, tenants.ActionAppCreated, tenants.ActionKeysetCreated, tenants.ActionCustomerCreated, tenants.ActionProvisioned} {
			require.Contains(t, timeline, string(action))
		}
		require.Less(t, strings.Index(timeline, string(tenants.ActionProvisioned)), strings.Index(timeline, string(tenants.ActionCreated)), "newest first")
		require.Contains(t, tb.text(t, "main"), "pub-c-", "public keys are shown")
		require.Contains(t, tb.text(t, "main"), "plan")
		tb.screenshot(t, "tenant-active")
	})

	t.Run("DisableWithAReason", func(t *testing.T) {
		// With JavaScript, htmx opens the confirm form in the page; its POST is a plain form.
		tb.do(t,
			chromedp.Click(chromedp.CSS(`#actions a[href="/console/tenants/acme/disable"]`)),
			chromedp.WaitVisible(chromedp.CSS("#dialog #reason")),
			chromedp.SendKeys(chromedp.CSS("#dialog #reason"), "unpaid invoice 2026-11"),
			chromedp.Click(chromedp.CSS("#dialog #confirm-button")),
			chromedp.WaitVisible(chromedp.CSS("p.notice")),
		)
		require.Contains(t, tb.text(t, "p.notice"), "Disable requested")
		require.Contains(t, []string{string(tenants.StateDisabling), string(tenants.StateDisabled)}, tb.text(t, "#tenant-state"))
		require.Equal(t, string(tenants.DesiredDisabled), tb.text(t, "#tenant-desired"))
	})

	t.Run("SeeTheStateChangeAndTheTimelineEntry", func(t *testing.T) {
		e.waitState(t, "acme", tenants.StateDisabled)
		tb.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tenant-state")))
		require.Equal(t, string(tenants.StateDisabled), tb.text(t, "#tenant-state"))
		rows := runIn(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline-table tbody tr")].map(r => r.innerText)`))
		var entry string
		for _, r := range rows {
			if strings.Contains(r, string(tenants.ActionDisableRequested)) {
				entry = r
			}
		}
		require.NotEmpty(t, entry, "timeline: %v", rows)
		require.Contains(t, entry, key.Actor().String(), "the actor is the key, as the API records it")
		require.Contains(t, entry, "reason: unpaid invoice 2026-11")
		require.Contains(t, rows[0], string(tenants.ActionDisabled), "the newest entry first")
		// The webhook event about it is listed once every older transaction has ended.
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(tb.text(t, "main"), webhooks.TypeDisabled); {
			require.True(t, time.Now().Before(deadline), "the tenant.disabled event never showed")
			time.Sleep(300 * time.Millisecond)
			tb.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tenant-state")))
		}
		// Enable is offered now, disable no longer.
		require.Equal(t, 1, tb.count(t, `#actions a[href="/console/tenants/acme/enable"]`))
		require.Zero(t, tb.count(t, `#actions a[href="/console/tenants/acme/disable"]`))
		tb.screenshot(t, "tenant")
		tb.screenshot(t, "tenant-1280x800", true)
		tb.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tenant-state")))
		width := runIn(t, tb, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.LessOrEqual(t, width, 390, "no sideways scrolling of the page at a phone's width (wide tables scroll inside)")
		tb.screenshot(t, "tenant-phone")
		tb.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tenant-state")))

		_, api := e.call(t, http.MethodGet, "/v1/tenants/acme", nil)
		require.Equal(t, string(tenants.StateDisabled), api["state"])
		_, other := e.call(t, http.MethodGet, "/v1/tenants/globex", nil)
		require.Equal(t, string(tenants.StateActive), other["state"])
	})

	t.Run("RevokeAToken", func(t *testing.T) {
		status, g := e.call(t, http.MethodPost, "/v1/tenants/globex/tokens", map[string]any{
			"environment": "production", "ttl": 30, "authorizedUserId": "end-user-1", "channels": map[string]any{"inbox": []string{"read"}}})
		require.Equal(t, http.StatusCreated, status, "%v", g)
		id := g["id"].(string)
		tb.do(t, chromedp.Navigate(base+"/console/tenants/globex"), chromedp.WaitVisible(chromedp.ID("tokens-table")))
		require.Contains(t, tb.text(t, "#tokens-table"), id)
		require.NotContains(t, tb.text(t, "main"), g["token"].(string), "never the token itself")
		tb.do(t,
			chromedp.Click(chromedp.CSS(`#tokens a[href="/console/tenants/globex/tokens/`+id+`/revoke"]`)),
			chromedp.WaitVisible(chromedp.CSS("#tokens-dialog #confirm-button")),
			chromedp.Click(chromedp.CSS("#tokens-dialog #confirm-button")),
			chromedp.WaitNotPresent(chromedp.CSS("#tokens-dialog #confirm-button")),
			chromedp.WaitVisible(chromedp.CSS("p.notice")),
		)
		require.Contains(t, tb.text(t, "p.notice"), "Token revoked")
		require.Len(t, e.sb.RevokedTokens(e.keysetOf(t, "globex", "production").SubscribeKey), 1)
	})

	t.Run("DriftCheckAndRepair", func(t *testing.T) {
		// Someone deletes the keyset in the Admin Portal; support checks, sees it, repairs it.
		old := e.keysetOf(t, "globex", "production")
		require.NoError(t, e.sb.DeleteKeyset(old.ID))
		press := func(t *testing.T, action string) {
			t.Helper()
			tb.do(t,
				chromedp.Click(chromedp.CSS(`#drift-actions a[href="/console/tenants/globex/`+action+`"]`)),
				chromedp.WaitVisible(chromedp.CSS("#drift-dialog #confirm-button")),
				chromedp.Click(chromedp.CSS("#drift-dialog #confirm-button")),
				// The page after the POST: the dialog is gone, and its notice shows.
				chromedp.WaitNotPresent(chromedp.CSS("#drift-dialog #confirm-button")),
				chromedp.WaitVisible(chromedp.CSS("p.notice")),
			)
		}
		// reloadUntil reloads the tenant page until js holds (the check and repair are jobs).
		reloadUntil := func(t *testing.T, what, js string) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); !runIn(t, tb, chromedp.Evaluate[bool](js)); {
				require.True(t, time.Now().Before(deadline), "never: %s", what)
				time.Sleep(200 * time.Millisecond)
				tb.do(t, chromedp.Navigate(base+"/console/tenants/globex#drift"), chromedp.WaitVisible(chromedp.ID("drift")))
			}
		}
		press(t, "check")
		require.Contains(t, tb.text(t, "p.notice"), "Check requested")
		reloadUntil(t, "the drift shows", `!!document.querySelector("#drift-table")`)
		row := tb.text(t, "#drift-table tbody tr")
		require.Contains(t, row, string(tenants.DriftKeysetDeleted))
		require.Contains(t, row, old.ID)
		require.Contains(t, row, "needs repair")
		require.NotEqual(t, "never", tb.text(t, "#drift-checked"))
		tb.screenshot(t, "tenant-drift")

		tb.do(t, chromedp.Navigate(base+"/console/tenants?drifted=on"), chromedp.WaitVisible(chromedp.ID("results")))
		require.Equal(t, 1, tb.count(t, "#results tbody tr"), "the drifted filter")
		require.Contains(t, tb.text(t, "#results"), "drifted (1)")
		tb.do(t, chromedp.Navigate(base+"/console/tenants/globex"), chromedp.WaitVisible(chromedp.ID("drift")))

		press(t, "repair")
		require.Contains(t, tb.text(t, "p.notice"), "Repair requested")
		require.Zero(t, tb.count(t, "#drift-table"), "the drift is gone")
		e.waitState(t, "globex", tenants.StateActive)
		require.NotEqual(t, old.ID, e.keysetOf(t, "globex", "production").ID, "a new keyset upstream")

		// A check afterwards confirms it: a second checked entry on the timeline, and no drift.
		tb.do(t, chromedp.Navigate(base+"/console/tenants/globex"), chromedp.WaitVisible(chromedp.ID("drift")))
		press(t, "check")
		reloadUntil(t, "a new check finds no drift", fmt.Sprintf(`[...document.querySelectorAll('#timeline-table td[data-label="Action"] code')].filter(c => c.innerText === %q).length === 2 &&
			!!document.querySelector("#drift-none")`, tenants.ActionChecked))
		timeline := tb.text(t, "#timeline-table")
		for _, a := range []tenants.Action{tenants.ActionCheckRequested, tenants.ActionDriftDetected, tenants.ActionRepairRequested, tenants.ActionChecked} {
			require.Contains(t, timeline, string(a))
		}
		rows := runIn(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline-table tbody tr")].map(r => r.innerText)`))
		for _, r := range rows {
			if strings.Contains(r, string(tenants.ActionRepairRequested)) || strings.Contains(r, string(tenants.ActionCheckRequested)) {
				require.Contains(t, r, key.Actor().String(), "the key is the actor")
			}
		}
	})

	t.Run("SignOutEndsTheSession", func(t *testing.T) {
		cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/console/"}})
		require.NoError(t, err)
		var session string
		for _, c := range cookies.Cookies {
			if strings.HasSuffix(c.Name, "pnonboard_console") {
				session = c.Name + "=" + c.Value
				require.True(t, c.HTTPOnly)
				require.Equal(t, network.CookieSameSiteStrict, c.SameSite)
			}
		}
		require.NotEmpty(t, session, "the session cookie: %v", cookies.Cookies)

		tb.do(t,
			chromedp.Click(chromedp.CSS("header .who button")),
			chromedp.WaitVisible(chromedp.ID("key")),
		)
		require.Contains(t, tb.text(t, "main"), "You are signed out")
		tb.do(t, chromedp.Navigate(base+"/console/tenants"), chromedp.WaitVisible(chromedp.ID("key")))
		require.Contains(t, runIn(t, tb, chromedp.Location()), "/console/sign-in")

		// The old cookie, replayed by hand, is refused: the session is gone server-side.
		req, err := http.NewRequest(http.MethodGet, base+"/console/tenants", nil)
		require.NoError(t, err)
		req.Header.Set("Cookie", session)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/console/sign-in"))
	})

	tb.noPolicyViolations(t)
}

// TestConsoleReadOnlyKey: a tenants:read-only key sees no action button, and a POST it forges
// from the console's own page, CSRF token and all, is refused with 403.
func TestConsoleReadOnlyKey(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	e := startE2E(t, nil)
	status, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme Corp"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	_, plaintext := consoleKey(t, e, "support: viewer", auth.ScopeTenantsRead)

	tb.signIn(t, e.srv.BaseURL, plaintext)
	tb.do(t, chromedp.Navigate(e.srv.BaseURL+"/console/tenants/acme"), chromedp.WaitVisible(chromedp.ID("tenant-state")))
	require.Zero(t, tb.count(t, "#actions"))
	require.Zero(t, tb.count(t, "#drift-actions"))
	require.Zero(t, tb.count(t, `a[href*="/disable"], a[href*="/enable"], a[href*="/retry"], a[href*="/check"], a[href*="/repair"], a[href*="/revoke"], form[method="post"][action*="/console/tenants/"]`))
	require.Zero(t, tb.count(t, "main a.button, main form[method=post], main button[type=submit]:not(form[method=get] button)"), "no action button at all (a check may repair upstream: tenants:write's)")
	require.NotContains(t, tb.text(t, "header"), "Webhooks", "no webhooks:read, no webhooks section")

	for _, action := range []string{"disable", "enable", "retry", "check", "repair"} {
		got := runIn(t, tb, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/console/tenants/acme/%s", {method: "POST",
			body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value, reason: "forged"})}).then(r => r.status)`, action),
			chromedp.EvalAwaitPromise))
		require.Equal(t, http.StatusForbidden, got, action)
	}
	_, api := e.call(t, http.MethodGet, "/v1/tenants/acme", nil)
	require.Equal(t, string(tenants.StateActive), api["state"])
	_, events := e.call(t, http.MethodGet, "/v1/tenants/acme/events?limit=200", nil)
	for _, ev := range events["data"].([]any) {
		require.NotContains(t, ev.(map[string]any)["action"], "disable")
	}
	tb.noPolicyViolations(t)
}

// TestConsoleCrossSitePost: a page on another site (evil.test, on this machine) that posts a
// disable form to the console, without the CSRF token, is refused; so is one from another
// origin of the same site (a port of 127.0.0.1), whose request does carry the SameSite=Strict
// cookie.
func TestConsoleCrossSitePost(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	e := startE2E(t, nil)
	status, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme Corp"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	_, plaintext := consoleKey(t, e, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsDisable)
	tb.signIn(t, e.srv.BaseURL, plaintext)

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<!doctype html><title>win a prize</title>
<form id="f" method="post" action="`+e.srv.BaseURL+`/console/tenants/acme/disable"><input name="reason" value="pwned"></form>
<script>document.getElementById("f").submit()</script>`)
	}))
	t.Cleanup(evil.Close)
	_, port, _ := strings.Cut(strings.TrimPrefix(evil.URL, "http://"), ":")

	for name, origin := range map[string]string{"CrossSite": "http://evil.test:" + port, "SameSiteOtherOrigin": evil.URL} {
		t.Run(name, func(t *testing.T) {
			tb.do(t,
				chromedp.Navigate(origin+"/"),
				chromedp.Poll[chromedp.Void](`location.pathname === "/console/tenants/acme/disable" && document.readyState === "complete"`),
			)
			require.Contains(t, tb.text(t, "main"), "came from another site")
			_, api := e.call(t, http.MethodGet, "/v1/tenants/acme", nil)
			require.Equal(t, string(tenants.StateActive), api["state"])
			require.Equal(t, string(tenants.DesiredActive), api["desiredState"])
		})
	}
	// The session itself is untouched: the console still works for its person.
	tb.do(t, chromedp.Navigate(e.srv.BaseURL+"/console/tenants/acme"), chromedp.WaitVisible(chromedp.ID("tenant-state")))
	require.Equal(t, 1, tb.count(t, `#actions a[href="/console/tenants/acme/disable"]`))
}

// TestDocsInBrowser: /docs renders the API reference from the served openapi.yaml, with every
// operation in its menu (createTenant among them), and nothing refused by its policy.
func TestDocsInBrowser(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	e := startE2E(t, nil)
	tb.do(t,
		chromedp.Navigate(e.srv.BaseURL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`[data-item-id="operation/createTenant"]`)),
	)
	menu := runIn(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-item-id^="operation/"]')].map(e => e.dataset.itemId)`))
	require.Contains(t, menu, "operation/createTenant")
	require.Contains(t, menu, "operation/getDocs")
	require.Contains(t, tb.text(t, `[data-item-id="operation/createTenant"]`), "tenant")
	require.Contains(t, runIn(t, tb, chromedp.Title()), "pnonboard")
	tb.screenshot(t, "docs", true)
	// Redoc's menu footer shows a logo from its CDN; the policy blocks that request (nothing
	// leaves for another host) and Redoc then leaves the logo out.
	tb.noPolicyViolations(t, "https://cdn.redoc.ly/redoc/logo-mini.svg")
}

// TestConsoleDevMode: dev mode's banner points to the console and the reference, and its
// console cookie drops Secure (dev mode serves http://127.0.0.1) but keeps the rest.
func TestConsoleDevMode(t *testing.T) {
	t.Parallel()
	dir := devDataDir(t)
	addr := freeAddr(t)
	srv := startRun(t, []string{"dev", "--addr", addr, "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	banner := srv.Stdout.String()
	require.Contains(t, banner, "http://"+addr+"/console/")
	require.Contains(t, banner, "http://"+addr+"/docs")

	key, err := os.ReadFile(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(srv.BaseURL+"/console/sign-in", map[string][]string{"key": {strings.TrimSpace(string(key))}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	require.Equal(t, "pnonboard_console", cookies[0].Name)
	require.False(t, cookies[0].Secure)
	require.True(t, cookies[0].HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookies[0].SameSite)
	code, body := srv.get(t, "/docs")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<redoc")
	require.NoError(t, srv.stop(t))
}

// focused describes the element that has the focus, for a failure message.
const focusedJS = `(() => { const a = document.activeElement; if (!a || a === document.body) return "(nothing)";
	return a.tagName.toLowerCase() + (a.id ? "#" + a.id : "") + (a.getAttribute("href") ? "[href=" + a.getAttribute("href") + "]" : "") +
		" " + JSON.stringify((a.innerText || a.value || "").trim().slice(0, 30)); })()`

// focusVisibleJS is "" when the focused element shows its focus: an outline at least 2px wide
// whose colour has a contrast of 3:1 or more (WCAG 1.4.11) with the background around it (the
// outline sits outside the element), or a box shadow. Otherwise it says what is wrong.
const focusVisibleJS = `(() => {
	const a = document.activeElement;
	if (!a || a === document.body) return "";
	const s = getComputedStyle(a);
	if (s.outlineStyle === "none" || parseFloat(s.outlineWidth) < 2) return s.boxShadow !== "none" ? "" : "no outline or box shadow";
	const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
	const lum = c => { const v = rgb(c).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	let bg = "rgb(255, 255, 255)";
	for (let p = a.parentElement; p; p = p.parentElement) {
		const c = getComputedStyle(p).backgroundColor, v = rgb(c);
		if (v.length && !(v.length === 4 && v[3] === 0)) { bg = c; break; }
	}
	const [hi, lo] = [lum(s.outlineColor), lum(bg)].sort((x, y) => y - x);
	const ratio = (hi + 0.05) / (lo + 0.05);
	return ratio >= 3 ? "" : "outline " + s.outlineColor + " on " + bg + " has contrast " + ratio.toFixed(2) + ":1";
})()`

// tabTo presses Tab, at most limit times, until the focused element matches sel, and fails
// listing where the focus went otherwise. Each element the focus passes through must show
// it (focusVisibleJS).
func (tb *tab) tabTo(t *testing.T, sel string, limit int) {
	t.Helper()
	var path, unseen []string
	matches := fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel)
	for i := 0; ; i++ {
		if runIn(t, tb, chromedp.Evaluate[bool](matches)) {
			break
		}
		require.Less(t, i, limit, "Tab never reached %s; the focus went: %v", sel, path)
		tb.do(t, chromedp.KeyEvent(kb.Tab))
		now := runIn(t, tb, chromedp.Evaluate[string](focusedJS))
		path = append(path, now)
		if seen := runIn(t, tb, chromedp.Evaluate[string](focusVisibleJS)); seen != "" {
			unseen = append(unseen, now+": "+seen)
		}
	}
	require.Empty(t, unseen, "focused by Tab without a visible focus style (path: %v)", path)
}

// fromPageStart moves the focus to the start of the page (as a fresh load without autofocus
// has it), so that the next Tab goes to the first focusable element: the body takes the focus
// for a moment (a blur alone leaves Chromium's Tab starting point where the focus was).
func (tb *tab) fromPageStart(t *testing.T) {
	t.Helper()
	require.True(t, runIn(t, tb, chromedp.Evaluate[bool](`(() => { const b = document.body;
		b.tabIndex = -1; b.focus(); b.removeAttribute("tabindex"); window.scrollTo(0, 0);
		return document.activeElement === b; })()`)))
}

// unnamedControls lists the page's controls (input, select, textarea, button, link) that have
// no accessible name: no <label for> or wrapping label, no aria-label or aria-labelledby, and
// (buttons, links) no visible text. Hidden inputs are not controls.
func (tb *tab) unnamedControls(t *testing.T) []string {
	t.Helper()
	return runIn(t, tb, chromedp.Evaluate[[]string](`(() => {
		const text = el => (el.innerText || el.textContent || "").trim();
		const name = el => {
			if ((el.getAttribute("aria-label") || "").trim()) return true;
			const by = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)
				.map(id => document.getElementById(id)).filter(Boolean).map(text).join("");
			if (by) return true;
			if (el.labels && [...el.labels].some(l => text(l))) return true;
			if (el.matches("button, a")) return !!text(el);
			if (el.matches("input[type=submit], input[type=button], input[type=reset]")) return !!(el.value || "").trim();
			return false;
		};
		return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
			.filter(el => !name(el))
			.map(el => el.outerHTML.slice(0, 160));
	})()`))
}

// TestConsoleKeyboardAndLabels: the console is usable from the keyboard alone (sign in, open
// the disable form, give a reason, confirm), with a visible focus on everything Tab reaches,
// and every control on the main pages has an accessible name.
func TestConsoleKeyboardAndLabels(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	e := startE2E(t, nil)
	status, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme Corp"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	require.Equal(t, string(tenants.StateActive), body["state"], "%v", body)
	key, plaintext := consoleKey(t, e, "support: kim", auth.ScopeTenantsRead, auth.ScopeTenantsWrite,
		auth.ScopeTenantsDisable, auth.ScopeWebhooksRead, auth.ScopeTokensWrite, auth.ScopeUsageRead)
	base := e.srv.BaseURL

	// Each step needs the one before (signed in, then disabled).
	require.True(t, t.Run("SignInWithTheKeyboard", func(t *testing.T) {
		tb.do(t, chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("key")))
		require.Empty(t, tb.unnamedControls(t), "the sign-in page")
		tb.fromPageStart(t)
		tb.tabTo(t, "#key", 5)
		tb.do(t, chromedp.KeyEvent(plaintext), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("header .who")))
		require.Contains(t, tb.text(t, "header .who"), "support: kim")
		require.Equal(t, "Tenants", tb.text(t, "main h1"))
	}))

	t.Run("EveryControlIsNamed", func(t *testing.T) {
		for _, page := range []struct{ path, ready, controls string }{
			{"/console/tenants", "#results", "#q, #state, #from, #to, form.filters button"},
			{"/console/tenants/acme", "#tenant-state", "#token_user, #tokens button"},
			{"/console/tenants/acme/disable", "#reason", "#reason, #confirm-button"},
			{"/console/webhooks", "main h1", ""},
			{"/console/events", "main h1", ""},
		} {
			tb.do(t, chromedp.Navigate(base+page.path), chromedp.WaitVisible(chromedp.CSS(page.ready)))
			if page.controls != "" {
				require.Equal(t, strings.Count(page.controls, ",")+1, tb.count(t, page.controls), "%s shows the controls the check is about", page.path)
			}
			require.Empty(t, tb.unnamedControls(t), "controls without an accessible name on %s", page.path)
		}
	})

	t.Run("DisableWithTheKeyboard", func(t *testing.T) {
		tb.do(t, chromedp.Navigate(base+"/console/tenants/acme"), chromedp.WaitVisible(chromedp.ID("tenant-state")))
		tb.fromPageStart(t)
		tb.tabTo(t, `#actions a[href="/console/tenants/acme/disable"]`, 30)
		tb.do(t, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#dialog #reason")))
		require.Empty(t, tb.unnamedControls(t), "the tenant page with the disable form open")
		tb.tabTo(t, "#dialog #reason", 10)
		tb.do(t, chromedp.KeyEvent("keyboard only"))
		tb.tabTo(t, "#dialog #confirm-button", 3)
		tb.do(t, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("p.notice")))
		require.Contains(t, tb.text(t, "p.notice"), "Disable requested")
		require.Equal(t, string(tenants.DesiredDisabled), tb.text(t, "#tenant-desired"))

		e.waitState(t, "acme", tenants.StateDisabled)
		tb.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("tenant-state")))
		require.Equal(t, string(tenants.StateDisabled), tb.text(t, "#tenant-state"))
		rows := runIn(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline-table tbody tr")].map(r => r.innerText)`))
		var entry string
		for _, r := range rows {
			if strings.Contains(r, string(tenants.ActionDisableRequested)) {
				entry = r
			}
		}
		require.Contains(t, entry, "reason: keyboard only", "timeline: %v", rows)
		require.Contains(t, entry, key.Actor().String())
	})

	tb.noPolicyViolations(t)
}
