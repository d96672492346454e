package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/console"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// The tenant page's day-two sections: Drift (with Check now and Repair), Tokens (with revoke)
// and Usage, and the tenant list's drifted filter.

// consoleTime is how the console shows an instant.
func consoleTime(at time.Time) string { return at.UTC().Format("2006-01-02 15:04:05 UTC") }

// provisioned creates an active tenant holding an app, a customer and a keyset per default
// environment (development, production), as provisioning would leave it.
func (b *testBundle) provisioned(t *testing.T, externalID, name string) *tenants.Tenant {
	t.Helper()
	b.tenant(t, externalID, name, tenants.StateActive)
	id := tenantstest.ID(t, b.db.Pool, externalID)
	for i, env := range []string{"development", "production"} {
		n := string(rune('1' + i))
		tenantstest.HoldKeyset(t, b.db.Pool, id, env, tenantstest.Keyset{KeysetID: "ks-" + externalID + "-" + n,
			PublishKey: "pub-c-" + n, SubscribeKey: "sub-c-" + n, SecretKeySealed: []byte{1}, Assigned: true})
	}
	tenantstest.Provisioned(t, b.db.Pool, id, "app-"+externalID, "cust-"+externalID)
	tn, err := b.tenants.GetByExternalID(context.Background(), externalID)
	require.NoError(t, err)
	return tn
}

// drifted records what a check found on the tenant, now.
func (b *testBundle) drifted(t *testing.T, externalID string, drift ...tenants.Drift) time.Time {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	tenantstest.Change(t, b.db.Pool, externalID, func(tn *tenants.Tenant) {
		for i := range drift {
			drift[i].DetectedAt = now
		}
		tn.Drift, tn.LastCheckedAt = drift, &now
	})
	return now
}

func lastEvent(t *testing.T, b *testBundle, externalID string) tenants.Event {
	t.Helper()
	events, _, err := b.tenants.Events(context.Background(), externalID, 500, "")
	require.NoError(t, err)
	require.NotEmpty(t, events)
	return events[len(events)-1]
}

func TestDrift(t *testing.T) {
	t.Parallel()

	t.Run("ListFilterAndMarker", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		b.provisioned(t, "globex", "Globex")
		b.drifted(t, "acme", tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: tenants.KeysetResource(&acme.Keysets[1]), Expected: `"pnonboard-acme-production"`, Actual: "deleted"})
		b.drifted(t, "globex") // checked, in sync
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)

		all := br.get(t, "/console/tenants").Body
		require.Contains(t, all, `<label for="f-drifted">Drifted only</label>`)
		require.Equal(t, 1, strings.Count(all, `class="drift-mark"`), "one row is marked")
		row := all[strings.Index(all, `href="/console/tenants/acme"`):]
		row = row[:strings.Index(row, "</tr>")]
		require.Contains(t, row, "drifted (1)", "the marker is on acme's row")

		only := br.get(t, "/console/tenants?drifted=on")
		require.Equal(t, http.StatusOK, only.Status)
		require.Contains(t, only.Body, `href="/console/tenants/acme"`)
		require.NotContains(t, only.Body, `href="/console/tenants/globex"`)
		require.Contains(t, only.Body, `id="f-drifted" name="drifted" type="checkbox" checked`)
		require.NotContains(t, br.get(t, "/console/tenants?drifted=on&q=glo").Body, `href="/console/tenants/`, "with the other filters")
	})

	t.Run("Section", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		dev, prod := &acme.Keysets[0], &acme.Keysets[1]
		checked := b.drifted(t, "acme",
			tenants.Drift{Kind: tenants.DriftKeysetUnassigned, Resource: tenants.KeysetResource(dev), Expected: "assigned to customer cust-acme", Actual: "not assigned"},
			tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: tenants.KeysetResource(prod), Expected: `"pnonboard-acme-production"`, Actual: "deleted"},
			tenants.Drift{Kind: tenants.DriftCustomerKeysets, Resource: "customer cust-acme", Expected: "only this tenant's keysets", Actual: `also keyset 999 <img src=x>`},
		)
		tenantstest.AddEvents(t, b.db.Pool, "acme", tenants.SystemEvent(tenants.ActionDriftRepaired,
			map[string]any{"kind": string(tenants.DriftAccessManagerOff), "environment": "development", "keysetId": dev.KeysetID}))
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		body := br.get(t, "/console/tenants/acme").Body
		drift := body[strings.Index(body, `id="drift"`):]
		drift = drift[:strings.Index(drift, "</section>")]
		for _, want := range []string{
			`<dd id="drift-checked">` + consoleTime(checked) + `</dd>`, `3 found`,
			"<code>" + string(tenants.DriftKeysetUnassigned) + "</code>", "keyset ks-acme-1 (development)", "assigned to customer cust-acme", "not assigned",
			"<code>" + string(tenants.DriftKeysetDeleted) + "</code>", "keyset ks-acme-2 (production)", "&#34;pnonboard-acme-production&#34;", ">deleted<",
			"<code>" + string(tenants.DriftCustomerKeysets) + "</code>", "also keyset 999 &lt;img src=x&gt;",
			`<td data-label="Detected" class="when">` + consoleTime(checked) + `</td>`,
			`<span class="fix fix-auto">repaired automatically</span>`, "assigns the keyset to the customer again",
			`<span class="fix fix-repair">needs repair</span>`, "Repair makes the keyset again, with new keys",
			`<span class="fix fix-none">cannot be repaired</span>`, "resolve it in the PubNub Admin Portal",
			"pnonboard will not touch the tenant upstream until that is resolved",
			"Repaired automatically", "<code>" + string(tenants.DriftAccessManagerOff) + "</code> on keyset ks-acme-1 (development)",
			`href="/console/tenants/acme/check"`, `href="/console/tenants/acme/repair"`, `hx-target="#drift-dialog"`,
		} {
			require.Contains(t, drift, want)
		}
		require.NotContains(t, body, "<img src=x>")
		state := body[strings.Index(body, `id="state-h"`):strings.Index(body, `id="envs-h"`)]
		require.NotContains(t, state, "/console/tenants/acme/check", "the drift actions are the Drift section's")
	})

	t.Run("InSyncOrNeverChecked", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.provisioned(t, "acme", "Acme")
		b.tenant(t, "fresh", "Fresh", tenants.StatePending)
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		never := br.get(t, "/console/tenants/fresh").Body
		require.Contains(t, never, `<dd id="drift-checked">never</dd>`)
		require.Contains(t, never, "Not checked yet.")
		require.NotContains(t, never, "/console/tenants/fresh/check", "it holds nothing upstream to check")
		require.NotContains(t, never, "/console/tenants/fresh/repair")

		b.drifted(t, "acme")
		synced := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, synced, "No drift: the last check found the tenant as pnonboard made it.")
		require.Contains(t, synced, `href="/console/tenants/acme/check"`)
		require.NotContains(t, synced, "/console/tenants/acme/repair", "nothing to repair")

		// Drift the check repairs by itself, or that pnonboard cannot repair: no Repair either.
		b.drifted(t, "acme", tenants.Drift{Kind: tenants.DriftAccessManagerOff, Resource: "keyset ks-acme-2 (production)"},
			tenants.Drift{Kind: tenants.DriftKeysetElsewhere, Resource: "keyset ks-acme-1 (development)"})
		require.NotContains(t, br.get(t, "/console/tenants/acme").Body, "/console/tenants/acme/repair")
	})

	t.Run("RetiredKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.provisioned(t, "acme", "Acme")
		tenantstest.Change(t, b.db.Pool, "acme", func(tn *tenants.Tenant) {
			now := time.Now()
			tn.Environments = []string{"production"}
			tn.Keyset("development").RetiredAt, tn.Keyset("development").AccessLocked = &now, true
		})
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead)
		body := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, body, `<span class="state keyset-`+string(tenants.KeysetRetired)+`">`+string(tenants.KeysetRetired)+`</span>`)
		require.Contains(t, body, `<span class="state keyset-`+string(tenants.KeysetActive)+`">`+string(tenants.KeysetActive)+`</span>`)
	})

	t.Run("CheckNow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.provisioned(t, "acme", "Acme")
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		csrf, confirm := br.confirmed(t, "acme", "check")
		require.Contains(t, confirm, "Check this tenant against PubNub now?")
		require.NotContains(t, confirm, `name="reason"`, "no reason asked")

		require.Equal(t, http.StatusForbidden, br.do(t, http.MethodPost, "/console/tenants/acme/check", url.Values{}).Status, "no CSRF token")
		require.Equal(t, http.StatusForbidden, br.do(t, http.MethodPost, "/console/tenants/acme/check", url.Values{"csrf": {"AAAA"}}).Status)
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Empty(t, got.CheckRequested)

		resp := br.do(t, http.MethodPost, "/console/tenants/acme/check", url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants/acme?done=check", resp.Header.Get("Location"))
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Check requested")
		require.Contains(t, after, `id="drift-due"`)
		require.Contains(t, after, "<code>"+string(tenants.ActionCheckRequested)+"</code>")

		got, err = b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.CheckByOperator, got.CheckRequested)
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionCheckRequested, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor, "the key is the actor, as the API records it")
	})

	// A check may repair upstream by itself, so in the console it is tenants:write's: a
	// read-only key sees neither drift button, and its forged POSTs, CSRF token and all, are
	// refused. (The API's POST /check stays tenants:read.)
	t.Run("ReadKeyCannotCheckOrRepair", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		b.drifted(t, "acme", tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: tenants.KeysetResource(&acme.Keysets[1])})
		br, _ := b.signedIn(t, "support: viewer", auth.ScopeTenantsRead)
		page := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, page, "needs repair", "the drift is shown")
		require.NotContains(t, page, `id="drift-actions"`)
		require.NotContains(t, page, "/console/tenants/acme/check", "checking needs tenants:write in the console")
		require.NotContains(t, page, "/console/tenants/acme/repair", "repair needs tenants:write")

		csrf := br.csrf(t)
		for _, action := range []string{"check", "repair"} {
			require.Equal(t, http.StatusForbidden, br.get(t, "/console/tenants/acme/"+action).Status, action)
			resp := br.do(t, http.MethodPost, "/console/tenants/acme/"+action, url.Values{"csrf": {csrf}})
			require.Equal(t, http.StatusForbidden, resp.Status, action)
			require.Contains(t, resp.Body, "lacks the tenants:write scope", action)
		}
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Empty(t, got.CheckRequested, "no check requested")
		require.Len(t, got.Drift, 1, "nothing repaired")
		require.Equal(t, tenants.ActionCreated, lastEvent(t, b, "acme").Action, "nothing on the timeline")
	})

	t.Run("CheckNeedsTenantsReadToo", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.provisioned(t, "acme", "Acme")
		_, disabler := b.key(t, "ana", auth.ScopeTenantsDisable)
		_, writer := b.key(t, "bob", auth.ScopeTenantsWrite)
		for key, lacks := range map[string]auth.Scope{disabler: auth.ScopeTenantsWrite, writer: auth.ScopeTenantsRead} {
			br := b.browser()
			br.signIn(t, key)
			csrf := csrfInput.FindStringSubmatch(br.get(t, "/console/").Body)
			require.NotNil(t, csrf)
			resp := br.do(t, http.MethodPost, "/console/tenants/acme/check", url.Values{"csrf": {csrf[1]}})
			require.Equal(t, http.StatusForbidden, resp.Status)
			require.Contains(t, resp.Body, "lacks the "+string(lacks)+" scope")
			require.Equal(t, http.StatusForbidden, br.get(t, "/console/tenants/acme/check").Status)
		}
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Empty(t, got.CheckRequested)
	})

	t.Run("Repair", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		b.drifted(t, "acme",
			tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: tenants.KeysetResource(&acme.Keysets[1]), Expected: `"pnonboard-acme-production"`, Actual: "deleted"},
			tenants.Drift{Kind: tenants.DriftKeysetElsewhere, Resource: tenants.KeysetResource(&acme.Keysets[0])})
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		csrf, confirm := br.confirmed(t, "acme", "repair")
		require.Contains(t, confirm, "Repair this tenant&#39;s drift?")

		require.Equal(t, http.StatusForbidden, br.do(t, http.MethodPost, "/console/tenants/acme/repair", url.Values{}).Status, "no CSRF token")
		resp := br.do(t, http.MethodPost, "/console/tenants/acme/repair", url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants/acme?done=repair", resp.Header.Get("Location"))
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Repair requested")
		require.Contains(t, after, "<code>"+string(tenants.ActionRepairRequested)+"</code>")
		require.NotContains(t, after, `href="/console/tenants/acme/repair"`, "what is left cannot be repaired")

		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.NotEqual(t, tenants.StateActive, got.State, "the tenant's job carries the repair")
		require.Len(t, got.Drift, 1)
		require.Equal(t, tenants.DriftKeysetElsewhere, got.Drift[0].Kind, "drift pnonboard cannot undo stays reported")
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionRepairRequested, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor)

		// The service refuses a second repair while the first is under way; the confirm page says so.
		resp = br.do(t, http.MethodPost, "/console/tenants/acme/repair", url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusConflict, resp.Status)
		require.Contains(t, resp.Body, "Cannot repair the tenant")
	})
}

// tokenTenant makes an active tenant whose production keyset exists in the sandbox (Access
// Manager on, token revoke on), holding its keys as provisioning would.
func (b *testBundle) tokenTenant(t *testing.T, externalID, name string) sandbox.Keyset {
	t.Helper()
	on := true
	made, err := b.sb.Prefill(1, &sandbox.PrefillOpts{
		ExternalIDFunc: func(int) string { return externalID }, Environments: []string{"production"},
		ConfigFunc: func(string) sandbox.Config {
			c := sandbox.DefaultConfig()
			c.AccessManager = sandbox.AccessManagerConfig{Enabled: true, TokenRevoke: &on}
			return c
		},
	})
	require.NoError(t, err)
	var ks sandbox.Keyset
	for _, k := range b.sb.Keysets() {
		if k.ID == made[0].KeysetIDs[0] {
			ks = k
		}
	}
	b.tenant(t, externalID, name, tenants.StateActive)
	id := tenantstest.ID(t, b.db.Pool, externalID)
	tenantstest.HoldKeyset(t, b.db.Pool, id, "production", tenantstest.Keyset{KeysetID: ks.ID, PublishKey: ks.PublishKey, SubscribeKey: ks.SubscribeKey,
		SecretKeySealed: b.keyring.Seal([]byte(ks.SecretKeys[0].Value), tenants.SecretAAD(id, "production")), Assigned: true})
	tenantstest.Provisioned(t, b.db.Pool, id, made[0].AppID, made[0].CustomerID)
	return ks
}

// grant issues a token on the tenant's production keyset, for user ("" for any user).
func (b *testBundle) grant(t *testing.T, externalID, user string) (id, token string) {
	t.Helper()
	issued, err := b.tokens.Grant(context.Background(), externalID, "production", accessmanager.GrantRequest{
		TTL: 60, AuthorizedUserID: user, Resources: accessmanager.Resources{Channels: map[string]accessmanager.Permissions{"inbox": accessmanager.Read}},
	}, "test")
	require.NoError(t, err)
	return issued.ID, issued.Token
}

func TestTokens(t *testing.T) {
	t.Parallel()

	t.Run("ListedNeverShownAndFiltered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{tokens: true})
		b.tokenTenant(t, "acme", "Acme")
		userTok, userToken := b.grant(t, "acme", "user-7")
		anyTok, anyToken := b.grant(t, "acme", "")
		br, _ := b.signedIn(t, "viewer", auth.ScopeTenantsRead)
		body := br.get(t, "/console/tenants/acme").Body
		tokensHTML := body[strings.Index(body, `id="tokens"`):]
		tokensHTML = tokensHTML[:strings.Index(tokensHTML, "</section>")]
		for _, want := range []string{"<code>" + userTok + "</code>", "<code>" + anyTok + "</code>", "<code>user-7</code>", "any user", ">production<", `<span class="muted">no</span>`} {
			require.Contains(t, tokensHTML, want)
		}
		require.NotContains(t, body, userToken, "never the token itself")
		require.NotContains(t, body, anyToken)
		require.NotContains(t, body, "/revoke", "revoking needs tokens:write")

		one := br.get(t, "/console/tenants/acme?token_user=user-7").Body
		require.Contains(t, one, userTok)
		require.NotContains(t, one, anyTok)
		require.Contains(t, br.get(t, "/console/tenants/acme?token_user=nobody").Body, "No live tokens for this user.")
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/tenants/acme?tokens=bogus").Status)

		// Forged: the revoke with the session's token, without tokens:write.
		require.Equal(t, http.StatusForbidden, br.get(t, "/console/tenants/acme/tokens/"+userTok+"/revoke").Status)
		resp := br.do(t, http.MethodPost, "/console/tenants/acme/tokens/"+userTok+"/revoke", url.Values{"csrf": {br.csrf(t)}})
		require.Equal(t, http.StatusForbidden, resp.Status)
		require.Contains(t, resp.Body, "lacks the tokens:write scope")
		require.Empty(t, b.sb.RevokedTokens(b.sb.Keysets()[0].SubscribeKey))
	})

	t.Run("Revoke", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{tokens: true})
		ks := b.tokenTenant(t, "acme", "Acme")
		tok, token := b.grant(t, "acme", "user-7")
		other, _ := b.grant(t, "acme", "user-8")
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTokensWrite)
		page := br.get(t, "/console/tenants/acme").Body
		revokeURL := "/console/tenants/acme/tokens/" + tok + "/revoke"
		require.Contains(t, page, `href="`+revokeURL+`"`)
		require.Contains(t, page, `href="/console/tenants/acme/tokens/`+other+`/revoke"`)

		confirm := br.get(t, revokeURL)
		require.Equal(t, http.StatusOK, confirm.Status)
		require.Contains(t, confirm.Body, "Revoke this token?")
		require.Contains(t, confirm.Body, "Token "+tok+" of Acme (acme)")
		csrf := csrfInput.FindStringSubmatch(confirm.Body)[1]

		require.Equal(t, http.StatusForbidden, br.do(t, http.MethodPost, revokeURL, url.Values{}).Status, "no CSRF token")
		require.Equal(t, http.StatusForbidden, br.do(t, http.MethodPost, revokeURL, url.Values{"csrf": {csrf}}, "Origin", "https://evil.example").Status)
		require.Empty(t, b.sb.RevokedTokens(ks.SubscribeKey))

		resp := br.do(t, http.MethodPost, revokeURL, url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants/acme?done=token-revoked#tokens", resp.Header.Get("Location"))
		revoked := b.sb.RevokedTokens(ks.SubscribeKey)
		require.Len(t, revoked, 1)
		require.Equal(t, token, revoked[0].Token, "revoked upstream")
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionTokenRevoked, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor)

		after := br.get(t, "/console/tenants/acme").Body
		require.NotContains(t, after, `href="`+revokeURL+`"`, "a revoked token has no button")
		require.Contains(t, after, `href="/console/tenants/acme/tokens/`+other+`/revoke"`)
		require.Contains(t, br.get(t, "/console/tenants/acme?done=token-revoked").Body, "Token revoked")

		require.Equal(t, http.StatusNotFound, br.do(t, http.MethodPost, "/console/tenants/acme/tokens/tok_aaaaaaaaaaaaaaaaaaaaaaaaaa/revoke", url.Values{"csrf": {csrf}}).Status)
		require.Equal(t, http.StatusNotFound, br.do(t, http.MethodPost, "/console/tenants/acme/tokens/"+token[:40]+"/revoke", url.Values{"csrf": {csrf}}).Status, "IDs only, never tokens, in console URLs")
		require.Equal(t, http.StatusNotFound, br.do(t, http.MethodPost, "/console/tenants/nobody/tokens/"+tok+"/revoke", url.Values{"csrf": {csrf}}).Status)
	})

	t.Run("WithoutTheTokenService", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.provisioned(t, "acme", "Acme")
		br, _ := b.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeTokensWrite)
		require.NotContains(t, br.get(t, "/console/tenants/acme").Body, `id="tokens"`)
		require.Equal(t, http.StatusNotFound, br.get(t, "/console/tenants/acme/tokens/tok_aaaaaaaaaaaaaaaaaaaaaaaaaa/revoke").Status)
	})
}

// usageDay stores a day's figure of metric for the tenant's whole app, as the usage sync does.
func (b *testBundle) usageDay(t *testing.T, tenantID int64, day, metric string, v float64) {
	t.Helper()
	_, err := b.db.Pool.Exec(context.Background(), `INSERT INTO usage_daily (tenant_id, environment, day, metric, value) VALUES ($1, '', $2, $3, $4)`,
		tenantID, day, metric, v)
	require.NoError(t, err)
}

// usageTable is the Usage section's table of month ("2006-01"), "" when it has none.
func usageTable(body, month string) string {
	i := strings.Index(body, `id="usage-`+month+`"`)
	if i < 0 {
		return ""
	}
	return body[i : i+strings.Index(body[i:], "</table>")]
}

// usageRow is the row of metric in table.
func usageRow(t *testing.T, table, metric string) string {
	t.Helper()
	i := strings.Index(table, "<code>"+metric+"</code>")
	require.GreaterOrEqual(t, i, 0, "no row for %s in %s", metric, table)
	return table[i : i+strings.Index(table[i:], "</tr>")]
}

func TestUsage(t *testing.T) {
	t.Parallel()
	// February 2026: the section shows February (so far), January and December 2025.
	now := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	b := setup(t, &setupOpts{usage: true, usageNow: func() time.Time { return now }})
	acme := b.provisioned(t, "acme", "Acme")
	for _, d := range []struct {
		day, metric string
		v           float64
	}{
		{"2026-02-01", "txn_total", 1_000_000}, {"2026-02-02", "txn_total", 523_044},
		{"2026-02-01", "mtd_uuid", 20_000}, {"2026-02-02", "mtd_uuid", 20_311},
		// January: mtd_uuid's total is its last day's value (1,250), not the sum nor the peak.
		{"2026-01-05", "txn_total", 700}, {"2026-01-31", "txn_total", 300},
		{"2026-01-15", "mtd_uuid", 1_900}, {"2026-01-31", "mtd_uuid", 1_250},
		{"2026-01-20", "publish", 42},
		// December: nothing. November, a fourth month back, is not shown.
		{"2025-11-30", "txn_total", 987_654},
	} {
		b.usageDay(t, acme.ID, d.day, d.metric, d.v)
	}
	_, err := b.db.Pool.Exec(context.Background(), `INSERT INTO usage_sync_state (tenant_id, environment, metrics, synced_through) VALUES ($1, '', $2, $3)`,
		acme.ID, b.usage.Metrics(), "2026-02-02")
	require.NoError(t, err)

	br, _ := b.signedIn(t, "finance", auth.ScopeTenantsRead, auth.ScopeUsageRead)
	body := br.get(t, "/console/tenants/acme").Body
	section := body[strings.Index(body, `id="usage"`):]
	section = section[:strings.Index(section, "</section>")]
	require.Contains(t, section, "Synced through 2026-02-02")
	require.Contains(t, section, "the last 3 months")
	feb, jan := strings.Index(section, "February 2026"), strings.Index(section, "January 2026")
	dec := strings.Index(section, "December 2025")
	require.True(t, feb >= 0 && jan > feb && dec > jan, "the three months, newest first")
	require.NotContains(t, section, "November 2025")
	require.NotContains(t, section, "987,654", "a fourth month back is not shown")

	this := usageTable(section, "2026-02")
	require.Contains(t, usageRow(t, this, "txn_total"), ">1,523,044<")
	require.Contains(t, usageRow(t, this, "txn_total"), "sum of the days")
	require.Contains(t, usageRow(t, this, "mtd_uuid"), ">20,311<")
	require.Contains(t, usageRow(t, this, "mtd_uuid"), "month to date")
	require.Contains(t, usageRow(t, this, "bytes_stored"), ">0<", "every synced metric, 0 without days")

	last := usageTable(section, "2026-01")
	require.Contains(t, usageRow(t, last, "txn_total"), ">1,000<")
	require.Contains(t, usageRow(t, last, "mtd_uuid"), ">1,250<", "the month's last day, as the API totals mtd_*")
	require.Contains(t, usageRow(t, last, "mtd_uuid"), "last synced day")
	require.Contains(t, usageRow(t, last, "publish"), ">42<")
	require.Contains(t, usageRow(t, last, "publish"), `<td data-label="Days">1</td>`)

	require.Empty(t, usageTable(section, "2025-12"), "no table for a month with no days")
	require.Contains(t, section, "No usage stored for December 2025.")

	b.provisioned(t, "globex", "Globex")
	none := br.get(t, "/console/tenants/globex").Body
	require.Contains(t, none, "Nothing synced for this tenant yet.")
	require.NotContains(t, none, `class="usage-table`)

	viewer, _ := b.signedIn(t, "viewer", auth.ScopeTenantsRead)
	require.NotContains(t, viewer.get(t, "/console/tenants/acme").Body, `id="usage"`, "usage needs usage:read")

	noUsage := setup(t, nil)
	noUsage.provisioned(t, "acme", "Acme")
	br, _ = noUsage.signedIn(t, "finance", auth.ScopeTenantsRead, auth.ScopeUsageRead)
	require.NotContains(t, br.get(t, "/console/tenants/acme").Body, `id="usage"`, "no usage service, no section")
}

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	for n, want := range map[float64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1523044: "1,523,044", -20311: "-20,311", 1234.5: "1,234.50", 0.25: "0.25"} {
		require.Equal(t, want, console.FormatNumber(n), "%v", n)
	}
}
