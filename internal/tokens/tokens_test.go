package tokens_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

func TestTokenGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		issued, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		require.NoError(t, err)
		require.True(t, tokens.ValidID(issued.ID), issued.ID)
		require.Equal(t, "staging", issued.Environment)

		// What Access Manager granted is what was asked.
		p := issued.Parsed
		require.Equal(t, 60, p.TTL)
		require.Equal(t, "end-user-42", p.AuthorizedUserID)
		require.Equal(t, map[string]accessmanager.Permissions{"room-1": accessmanager.Read | accessmanager.Write}, p.Resources.Channels)
		require.Equal(t, map[string]accessmanager.Permissions{"^room-.*$": accessmanager.Read}, p.Patterns.Groups)
		require.Equal(t, "pro", p.Meta["plan"])
		require.WithinDuration(t, time.Now(), p.IssuedAt, 5*time.Second)
		require.Equal(t, p.IssuedAt.Add(time.Hour), p.ExpiresAt)

		// Signed with the keyset's current secret, which the sandbox checked.
		ks := h.keysets["staging"]
		upstream := h.sb.IssuedTokens(ks.SubscribeKey)
		require.Len(t, upstream, 1)
		require.Equal(t, issued.Token, upstream[0].Token)
		require.Equal(t, ks.SecretKeys[0].Value, upstream[0].SecretKey)

		// Recorded as a hash and a sealed copy, never in the clear; no other row, no event.
		var hash string
		var sealed []byte
		var grants int
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT token_hash, token_sealed, grants FROM issued_tokens WHERE id = $1`, issued.ID).Scan(&hash, &sealed, &grants))
		require.Equal(t, tokens.HashToken(issued.Token), hash)
		require.NotContains(t, string(sealed), issued.Token)
		opened, err := h.keyring.Open(sealed, tokens.TokenAAD(h.tenant.ID, hash))
		require.NoError(t, err)
		require.Equal(t, issued.Token, string(opened))
		require.Equal(t, 1, grants)
		require.Equal(t, []string{string(tenants.ActionCreated)}, actions(h.events(t, h.tenant)), "a grant writes no timeline entry of its own")
	})

	t.Run("IdenticalGrantsInOneSecondShareARow", func(t *testing.T) {
		t.Parallel()
		// Identical requests in the same second make identical tokens (a frozen sandbox clock
		// makes it certain); the second grant adds to the first row's count instead of failing
		// on the unique hash.
		now := time.Now().Truncate(time.Second)
		h := newHarness(t, &harnessOpts{now: func() time.Time { return now }})
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		require.NoError(t, err)
		b, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		require.NoError(t, err)
		require.Equal(t, a.Token, b.Token)
		require.Equal(t, a.ID, b.ID)
		var rows, grants int
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT count(*), sum(grants) FROM issued_tokens`).Scan(&rows, &grants))
		require.Equal(t, 1, rows)
		require.Equal(t, 2, grants)
	})

	t.Run("RefusedUnlessActive", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for _, st := range []tenants.State{tenants.StateDisabled, tenants.StateDisabling, tenants.StateEnabling, tenants.StateFailed, tenants.StateProvisioning} {
			h.setState(t, h.tenant, st)
			_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
			var se *tenants.StateError
			require.ErrorAs(t, err, &se, st)
			require.Equal(t, st, se.Current)
		}
		require.Zero(t, h.sb.CallCount(sandbox.OpGrantToken), "nothing was asked upstream")
	})

	t.Run("AccessManagerOff", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		_, err := h.svc.Grant(ctx, "acme", "development", grantReq("room-1"), "key:test")
		require.ErrorIs(t, err, tokens.ErrAccessManagerOff)
		require.Contains(t, err.Error(), "need no token")
		require.Zero(t, h.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("UnknownEnvironmentAndTenant", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		_, err := h.svc.Grant(ctx, "acme", "production", grantReq("room-1"), "key:test")
		var ee *tokens.EnvironmentError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, []string{"development", "staging"}, ee.Known)
		// It names its field through the one interface the API reads (a 422 on environment).
		fields, ok := invalid.FieldsOf(err)
		require.True(t, ok)
		require.Equal(t, map[string]string{"environment": `the tenant has no environment "production"; it has development, staging`}, fields)
		_, err = h.svc.Grant(ctx, "nobody", "staging", grantReq("room-1"), "key:test")
		require.ErrorIs(t, err, tenants.ErrNotFound)
	})

	t.Run("InvalidRequest", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		req := grantReq("room-1")
		req.TTL = 43_201
		_, err := h.svc.Grant(ctx, "acme", "staging", req, "key:test")
		var ve *accessmanager.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "ttl", ve.Fields[0].Field)
		fields, ok := invalid.FieldsOf(err)
		require.True(t, ok)
		require.Contains(t, fields["ttl"], "must be from 1 to 43200 minutes")
	})

	t.Run("RotatedOutSecretIsRefusedWithPubNubsMessage", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.rotate(t, h.tenant, "staging", false) // upstream only: what we hold is stale
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		var up *tokens.UpstreamError
		require.ErrorAs(t, err, &up)
		require.Equal(t, http.StatusForbidden, up.Status())
		require.True(t, up.Refused())
		require.Equal(t, 1, up.Attempts, "a refusal is not retried")
		require.Contains(t, up.Message(), "Invalid signature")
		require.NotContains(t, err.Error(), "sec-c-"+strings.TrimPrefix(h.keysets["staging"].SecretKeys[0].Value, "sec-c-"))
	})

	t.Run("RetriesServerErrors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 503}, 2)
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		require.NoError(t, err)
		require.Equal(t, 3, h.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("GivesUpAfterTheAttempts", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultServerError}, -1)
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		var up *tokens.UpstreamError
		require.ErrorAs(t, err, &up)
		require.Equal(t, tokens.DefaultAttempts, up.Attempts)
		require.False(t, up.Refused())
		require.Equal(t, tokens.DefaultAttempts, h.sb.CallCount(sandbox.OpGrantToken))
		var rows int
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT count(*) FROM issued_tokens`).Scan(&rows))
		require.Zero(t, rows)
	})

	t.Run("TooManyRequestsIsNotRetried", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusTooManyRequests}, -1)
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		var up *tokens.UpstreamError
		require.ErrorAs(t, err, &up)
		require.Equal(t, http.StatusTooManyRequests, up.Status())
		require.Equal(t, 1, up.Attempts, "a 429 asks for fewer calls: it goes back to the caller")
		require.False(t, up.Refused(), "nor is it a refusal for good")
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("RequestTimeoutIsRetried", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusRequestTimeout}, 1)
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		require.NoError(t, err)
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("TimeoutIsRetried", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultTimeout}, 1)
		start := time.Now()
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		require.NoError(t, err)
		require.Less(t, time.Since(start), 5*time.Second, "the harness client times a try out after a second")
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("DisabledWhileAccessManagerAnswered", func(t *testing.T) {
		t.Parallel()
		// The disable commits between the tenant read and the insert: the caller gets no
		// token, and the token is recorded under the old generation for the disable to revoke.
		var h *harness
		h = newHarness(t, &harnessOpts{transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost {
				h.disable(t, h.tenant)
			}
			return http.DefaultTransport.RoundTrip(r)
		})})
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
		var se *tenants.StateError
		require.ErrorAs(t, err, &se)
		require.Equal(t, tenants.StateDisabled, se.Current)
		var gen int
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT lock_generation FROM issued_tokens`).Scan(&gen))
		require.Equal(t, 0, gen)
	})
}

// TestTokenGrantHotPath: a grant is on a partner's end-user login path. It calls Access
// Manager once and nothing of the Admin API (so it spends no rate budget), and it writes one
// row: every table of the database holds what it held, but for one more issued_tokens row.
func TestTokenGrantHotPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-0"), "key:test") // a row to keep as it is
	require.NoError(t, err)

	before, calls := h.tableRows(t), h.sb.Calls()
	require.Contains(t, before, "public.upstream_rate_budget", "the budget is among the tables compared")
	_, err = h.svc.Grant(ctx, "acme", "staging", grantReq("room-1"), "key:test")
	require.NoError(t, err)
	after, callsAfter := h.tableRows(t), h.sb.Calls()

	newCalls := callsAfter[len(calls):]
	require.Len(t, newCalls, 1, "%v", newCalls)
	require.Equal(t, sandbox.OpGrantToken, newCalls[0].Op)
	require.Equal(t, http.StatusOK, newCalls[0].Status)

	require.ElementsMatch(t, slices.Collect(maps.Keys(before)), slices.Collect(maps.Keys(after)))
	for table, rows := range before {
		if table == "public.issued_tokens" {
			continue
		}
		require.Equal(t, rows, after[table], "%s changed", table)
	}
	old, now := before["public.issued_tokens"], after["public.issued_tokens"]
	require.Len(t, now, len(old)+1)
	for _, r := range old {
		require.Contains(t, now, r, "an issued_tokens row changed")
	}
}

// tableRows returns every row of every table of the database, as text, by table.
func (h *harness) tableRows(t *testing.T) map[string][]string {
	t.Helper()
	ctx := context.Background()
	rows, err := h.db.Pool.Query(ctx, `
		SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string][]string{}
	for _, table := range tables {
		var content []string
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT coalesce(array_agg(t::text ORDER BY t::text), '{}') FROM `+table+` t`).Scan(&content))
		out[table] = content
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTokenRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ByIDAndByToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-a"), "key:test")
		require.NoError(t, err)
		b, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-b"), "key:test")
		require.NoError(t, err)

		require.NoError(t, h.svc.Revoke(ctx, "acme", a.ID, "key:ops"))
		require.NoError(t, h.svc.Revoke(ctx, "acme", b.Token, "key:ops"))
		sub := h.keysets["staging"].SubscribeKey
		revoked := h.sb.RevokedTokens(sub)
		require.Len(t, revoked, 2)
		require.ElementsMatch(t, []string{a.Token, b.Token}, []string{revoked[0].Token, revoked[1].Token})

		// Recorded on the token and the timeline, which never holds the token.
		var by string
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT revoked_by FROM issued_tokens WHERE id = $1 AND revoked_at IS NOT NULL`, a.ID).Scan(&by))
		require.Equal(t, "key:ops", by)
		events := h.events(t, h.tenant)
		require.Equal(t, []string{string(tenants.ActionCreated), string(tenants.ActionTokenRevoked), string(tenants.ActionTokenRevoked)}, actions(events))
		require.Equal(t, a.ID, events[1].Detail["tokenId"])
		require.Equal(t, "end-user-42", events[1].Detail["authorizedUserId"])
		require.Equal(t, "key:ops", events[1].Actor)

		// Again: nothing more upstream, nothing more recorded.
		require.NoError(t, h.svc.Revoke(ctx, "acme", a.ID, "key:ops"))
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpRevokeToken))
		require.Len(t, h.events(t, h.tenant), 3)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		other := h.activeTenant(t, "other", defaultEnvs())
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-a"), "key:test")
		require.NoError(t, err)
		for _, ref := range []string{"tok_aaaaaaaaaaaaaaaaaaaaaaaaaa", "not-a-token", a.Token[:len(a.Token)-1]} {
			require.ErrorIs(t, h.svc.Revoke(ctx, "acme", ref, "key:ops"), tokens.ErrTokenNotFound, ref)
		}
		require.ErrorIs(t, h.svc.Revoke(ctx, other.ExternalID, a.ID, "key:ops"), tokens.ErrTokenNotFound, "another tenant's token")
		require.ErrorIs(t, h.svc.Revoke(ctx, "nobody", a.ID, "key:ops"), tenants.ErrNotFound)
		require.Zero(t, h.sb.CallCount(sandbox.OpRevokeToken))
	})

	t.Run("TokenRevokeOff", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, &harnessOpts{envs: []tokens.Environment{{Name: "staging", AccessManager: true, TokenRevoke: false}}})
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-a"), "key:test")
		require.NoError(t, err)
		err = h.svc.Revoke(ctx, "acme", a.ID, "key:ops")
		var nr *tokens.NotRevocableError
		require.ErrorAs(t, err, &nr)
		require.Equal(t, tokens.ReasonTokenRevokeOff, nr.Reason)
		require.Zero(t, h.sb.CallCount(sandbox.OpRevokeToken))
	})

	t.Run("TTLOverThirtyDays", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-a"), "key:test")
		require.NoError(t, err)
		// Only a token pnonboard did not make could have one; the rule is PubNub's.
		_, err = h.db.Pool.Exec(ctx, `ALTER TABLE issued_tokens DROP CONSTRAINT issued_tokens_ttl_minutes_check`)
		require.NoError(t, err)
		_, err = h.db.Pool.Exec(ctx, `UPDATE issued_tokens SET ttl_minutes = 43201 WHERE id = $1`, a.ID)
		require.NoError(t, err)
		err = h.svc.Revoke(ctx, "acme", a.ID, "key:ops")
		var nr *tokens.NotRevocableError
		require.ErrorAs(t, err, &nr)
		require.Equal(t, tokens.ReasonTTLTooLong, nr.Reason)
	})

	t.Run("ExpiredIsLeftAlone", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-a"), "key:test")
		require.NoError(t, err)
		_, err = h.db.Pool.Exec(ctx, `UPDATE issued_tokens SET expires_at = now() - interval '1 second'`)
		require.NoError(t, err)
		require.NoError(t, h.svc.Revoke(ctx, "acme", a.ID, "key:ops"))
		require.Zero(t, h.sb.CallCount(sandbox.OpRevokeToken))
	})

	t.Run("AllowedWhileDisabled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		a, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-a"), "key:test")
		require.NoError(t, err)
		h.disable(t, h.tenant)
		require.NoError(t, h.svc.Revoke(ctx, "acme", a.ID, "key:ops"))
		require.Len(t, h.sb.RevokedTokens(h.keysets["staging"].SubscribeKey), 1)
	})
}

func TestTokenList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	var ids []string
	for i := range 5 {
		req := grantReq("room-" + string(rune('a'+i)))
		if i == 4 {
			req.AuthorizedUserID = "someone-else"
		}
		issued, err := h.svc.Grant(ctx, "acme", "staging", req, "key:test")
		require.NoError(t, err)
		ids = append(ids, issued.ID)
	}
	require.NoError(t, h.svc.Revoke(ctx, "acme", ids[1], "key:ops"))
	_, err := h.db.Pool.Exec(ctx, `UPDATE issued_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, ids[0])
	require.NoError(t, err)

	var got []tokens.Record
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page, next, err := h.svc.List(ctx, "acme", tokens.ListParams{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	var listed []string
	for _, r := range got {
		listed = append(listed, r.ID)
		require.Equal(t, "staging", r.Environment)
		require.Equal(t, 60, r.TTL)
		require.Equal(t, r.IssuedAt.Add(time.Hour), r.ExpiresAt)
	}
	require.ElementsMatch(t, ids[1:], listed, "not the expired one")
	for _, r := range got {
		require.Equal(t, r.ID == ids[1], r.RevokedAt != nil, r.ID)
	}

	mine, _, err := h.svc.List(ctx, "acme", tokens.ListParams{Limit: 10, AuthorizedUserID: "someone-else"})
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, ids[4], mine[0].ID)
	none, _, err := h.svc.List(ctx, "acme", tokens.ListParams{Limit: 10, Environment: "development"})
	require.NoError(t, err)
	require.Empty(t, none)

	_, _, err = h.svc.List(ctx, "acme", tokens.ListParams{Limit: 2, Cursor: "bogus"})
	require.ErrorIs(t, err, invalid.ErrCursor)
	_, _, err = h.svc.List(ctx, "nobody", tokens.ListParams{Limit: 2})
	require.ErrorIs(t, err, tenants.ErrNotFound)
}

func TestTokenUpstreamErrorFields(t *testing.T) {
	t.Parallel()
	err := &tokens.UpstreamError{Op: "grant", Attempts: 1, Err: &accessmanager.Error{Op: "grant", StatusCode: 400, Message: "Invalid permissions", Details: []accessmanager.ErrorDetail{
		{Message: "Range should be 1 to 43200 minute(s).", Location: "ttl", LocationType: "body"},
		{Message: "bad bits", Location: "permissions.resources.groups.g1", LocationType: "body"},
		{Message: "bad pattern", Location: "permissions.patterns.uuids.^u", LocationType: "body"},
		{Message: "bad meta", Location: "permissions.meta.plan", LocationType: "body"},
		{Message: "bad user", Location: "permissions.uuid", LocationType: "body"},
		{Message: "none", Location: "permissions", LocationType: "body"},
		{Message: "skewed", Location: "timestamp", LocationType: "query"},
	}}}
	require.Equal(t, map[string]string{
		"ttl": "Range should be 1 to 43200 minute(s).", "channelGroups.g1": "bad bits", "patterns.userIds.^u": "bad pattern",
		"meta.plan": "bad meta", "authorizedUserId": "bad user", "permissions": "none", "timestamp": "skewed",
	}, err.Fields())
	require.Equal(t, 400, err.Status())
	require.Equal(t, "Invalid permissions: Range should be 1 to 43200 minute(s). bad bits bad pattern bad meta bad user none skewed", err.Message())
}
