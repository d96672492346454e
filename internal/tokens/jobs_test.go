package tokens_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

func revokeJob(args tokens.RevokeTenantArgs) *river.Job[tokens.RevokeTenantArgs] {
	return &river.Job[tokens.RevokeTenantArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1}, Args: args}
}

func TestTokenRevokeTenantWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type bundle struct {
		*harness
		before []*tokens.Issued // granted before the disable
		after  *tokens.Issued   // granted after the enable that followed
		gen    int
		worker *tokens.RevokeTenantWorker
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		b := &bundle{harness: newHarness(t, nil)}
		for _, ch := range []string{"a", "b", "c", "d", "e"} {
			issued, err := b.svc.Grant(ctx, "acme", "staging", grantReq("room-"+ch), "key:test")
			require.NoError(t, err)
			b.before = append(b.before, issued)
		}
		// The disable: generation 1, and the secret rotated (stored, as the provisioner does).
		b.gen = b.disable(t, b.tenant)
		b.rotate(t, b.tenant, "staging", true)
		// An enable, and a grant after it: generation 1, not to be revoked.
		b.setState(t, b.tenant, tenants.StateActive)
		after, err := b.svc.Grant(ctx, "acme", "staging", grantReq("room-new"), "key:test")
		require.NoError(t, err)
		b.after = after
		b.worker = tokens.NewRevokeTenantWorker(b.opts)
		b.worker.BatchSize = 2 // several batches
		return b
	}

	t.Run("RevokesEveryOlderTokenWithTheCurrentSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.worker.Work(ctx, revokeJob(tokens.RevokeTenantArgs{TenantID: b.tenant.ID, Generation: b.gen})))

		ks := b.sandboxKeyset(t, b.keysets["staging"].ID)
		var revoked []string
		for _, r := range b.sb.RevokedTokens(ks.SubscribeKey) {
			revoked = append(revoked, r.Token)
		}
		var want []string
		for _, is := range b.before {
			want = append(want, is.Token)
		}
		require.ElementsMatch(t, want, revoked, "every token from before the disable, and not the one after")

		events := b.events(t, b.tenant)
		n := 0
		for _, e := range events {
			if e.Action == tenants.ActionTokenRevoked {
				n++
				require.Equal(t, "tokens", e.Actor)
				require.Equal(t, "tenant disabled", e.Detail["reason"])
				for _, is := range b.before {
					require.NotContains(t, e.Detail, is.Token)
				}
			}
		}
		require.Equal(t, len(b.before), n)

		// Idempotent: again, and nothing more happens upstream or on the timeline.
		calls := b.sb.CallCount(sandbox.OpRevokeToken)
		require.NoError(t, b.worker.Work(ctx, revokeJob(tokens.RevokeTenantArgs{TenantID: b.tenant.ID, Generation: b.gen})))
		require.Equal(t, calls, b.sb.CallCount(sandbox.OpRevokeToken))
		require.Len(t, b.events(t, b.tenant), len(events))
	})

	t.Run("AStaleSecretFailsTheAttemptAndKeepsWhatWasDone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Access Manager refuses every revocation with 403, as it does while the secret held is
		// stale (a rotation whose answer was lost, not yet settled).
		b.sb.InjectFault(sandbox.OpRevokeToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "Invalid signature"}, -1)
		err := b.worker.Work(ctx, revokeJob(tokens.RevokeTenantArgs{TenantID: b.tenant.ID, Generation: b.gen}))
		require.Error(t, err)
		var left int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM issued_tokens WHERE revoked_at IS NULL AND lock_generation < $1`, b.gen).Scan(&left))
		require.Equal(t, len(b.before), left)

		// The retry, once the secret is right again, finishes the job.
		b.sb.ClearFaults()
		require.NoError(t, b.worker.Work(ctx, revokeJob(tokens.RevokeTenantArgs{TenantID: b.tenant.ID, Generation: b.gen})))
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM issued_tokens WHERE revoked_at IS NULL AND lock_generation < $1`, b.gen).Scan(&left))
		require.Zero(t, left)
	})

	t.Run("AFailedAttemptResumesWhereItStopped", func(t *testing.T) {
		t.Parallel()
		// One revocation at a time, in ID order: the third is refused with a 403 (as while a
		// secret rotation settles), once.
		var h *harness
		revokes := 0
		var mu sync.Mutex
		h = newHarness(t, &harnessOpts{transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodDelete {
				mu.Lock()
				if revokes++; revokes == 3 {
					h.sb.InjectFault(sandbox.OpRevokeToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "Invalid signature"}, 1)
				}
				mu.Unlock()
			}
			return http.DefaultTransport.RoundTrip(r)
		})})
		var ids []string
		byID := map[string]string{}
		for _, ch := range []string{"a", "b", "c", "d", "e"} {
			issued, err := h.svc.Grant(ctx, "acme", "staging", grantReq("room-"+ch), "key:test")
			require.NoError(t, err)
			ids, byID[issued.ID] = append(ids, issued.ID), issued.Token
		}
		slices.Sort(ids) // the worker's order
		gen := h.disable(t, h.tenant)
		worker := tokens.NewRevokeTenantWorker(h.opts)
		worker.Parallel, worker.BatchSize = 1, 3
		job := revokeJob(tokens.RevokeTenantArgs{TenantID: h.tenant.ID, Generation: gen})
		sub := h.keysets["staging"].SubscribeKey

		revokedIDs := func() []string {
			rows, err := h.db.Pool.Query(ctx, `SELECT id FROM issued_tokens WHERE revoked_at IS NOT NULL ORDER BY id`)
			require.NoError(t, err)
			list, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			return list
		}
		revokedEvents := func() []string {
			var out []string
			for _, e := range h.events(t, h.tenant) {
				if e.Action == tenants.ActionTokenRevoked {
					out = append(out, e.Detail["tokenId"].(string))
				}
			}
			slices.Sort(out)
			return out
		}
		upstream := func() []string {
			var out []string
			for _, r := range h.sb.RevokedTokens(sub) {
				out = append(out, r.Token)
			}
			return out
		}

		err := worker.Work(ctx, job)
		var up *tokens.UpstreamError
		require.ErrorAs(t, err, &up)
		require.Equal(t, 403, up.Status())
		require.Equal(t, 3, h.sb.CallCount(sandbox.OpRevokeToken), "two revoked, the third refused")
		require.Equal(t, ids[:2], revokedIDs(), "exactly the first two are recorded")
		require.Equal(t, ids[:2], revokedEvents())
		require.ElementsMatch(t, []string{byID[ids[0]], byID[ids[1]]}, upstream())

		// River's retry: only what is left goes upstream, and nothing is recorded twice.
		require.NoError(t, worker.Work(ctx, job))
		require.Equal(t, 3+3, h.sb.CallCount(sandbox.OpRevokeToken), "the retry sends the three remaining revocations only")
		require.Equal(t, ids, revokedIDs())
		require.Equal(t, ids, revokedEvents(), "one token_revoked per token: none for the first two again")
		want := make([]string, len(ids))
		for i, id := range ids {
			want[i] = byID[id]
		}
		require.ElementsMatch(t, want, upstream())
	})

	t.Run("ARefusedTokenIsRecordedAndSkipped", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A token the sandbox never issued: Access Manager answers 400 "Invalid token".
		forged, err := accessmanager.Encode(accessmanager.Token{IssuedAt: time.Now(), TTL: 60}, make([]byte, 32))
		require.NoError(t, err)
		hash := tokens.HashToken(forged)
		_, err = b.db.Pool.Exec(ctx, `
			INSERT INTO issued_tokens (id, token_hash, token_sealed, tenant_id, environment, ttl_minutes, issued_at, expires_at, lock_generation)
			VALUES ('tok_aaaaaaaaaaaaaaaaaaaaaaaaaa', $1, $2, $3, 'staging', 60, now(), now() + interval '1 hour', 0)`,
			hash, b.keyring.Seal([]byte(forged), tokens.TokenAAD(b.tenant.ID, hash)), b.tenant.ID)
		require.NoError(t, err)
		require.NoError(t, b.worker.Work(ctx, revokeJob(tokens.RevokeTenantArgs{TenantID: b.tenant.ID, Generation: b.gen})))

		var msg string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT revoke_error FROM issued_tokens WHERE id = 'tok_aaaaaaaaaaaaaaaaaaaaaaaaaa' AND revoked_at IS NULL`).Scan(&msg))
		require.Contains(t, msg, "Invalid token")
		require.Contains(t, actions(b.events(t, b.tenant)), string(tenants.ActionTokenRevokeFailed))
		require.Len(t, b.sb.RevokedTokens(b.keysets["staging"].SubscribeKey), len(b.before))
	})
}

func TestTokenEnqueueRevokeAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, nil)
	gen := h.disable(t, h.tenant)

	// Inside a transaction whose River client (if any) knows nothing of the kind.
	err := postgres.WithTx(ctx, h.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
		if err := tokens.EnqueueRevokeAll(ctx, tx, h.tenant.ID); err != nil {
			return err
		}
		var args []byte
		var maxAttempts int
		require.NoError(t, tx.QueryRow(ctx, `SELECT args, max_attempts FROM river_job WHERE kind = 'tokens_revoke_tenant'`).Scan(&args, &maxAttempts))
		require.JSONEq(t, `{"tenant_id": `+itoa(h.tenant.ID)+`, "generation": `+itoa(int64(gen))+`}`, string(args))
		require.Equal(t, 25, maxAttempts)
		return tokens.EnqueueRevokeAll(ctx, tx, h.tenant.ID) // coalesces
	})
	require.NoError(t, err)
	var n int
	require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'tokens_revoke_tenant'`).Scan(&n))
	require.Equal(t, 1, n)

	err = postgres.WithTx(ctx, h.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
		return tokens.EnqueueRevokeAll(ctx, tx, 987654)
	})
	require.ErrorIs(t, err, tenants.ErrNotFound)
}

func TestTokenMaintainWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RollupCountsEachWholeHourOnce", func(t *testing.T) {
		t.Parallel()
		now := time.Now().Truncate(time.Second)
		h := newHarness(t, &harnessOpts{now: func() time.Time { return now }})
		other := h.activeTenant(t, "other", defaultEnvs())
		grant := func(tenant, channel string) string {
			issued, err := h.svc.Grant(ctx, tenant, "staging", grantReq(channel), "key:test")
			require.NoError(t, err)
			return issued.ID
		}
		a1 := grant("acme", "a")
		grant("acme", "a") // identical: the same row, counted twice
		a2 := grant("acme", "b")
		o1 := grant("other", "a")
		grant("acme", "current") // this hour: not yet
		// Move them into whole hours that are over: a1 and o1 three hours back, a2 two.
		_, err := h.db.Pool.Exec(ctx, `
			UPDATE issued_tokens SET created_at = date_trunc('hour', now()) - CASE WHEN id = $3 THEN interval '90 minutes' ELSE interval '150 minutes' END
			WHERE id IN ($1, $2, $3)`, a1, o1, a2)
		require.NoError(t, err)

		w := tokens.NewMaintainWorker(h.opts)
		n, err := w.Rollup(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		hour := func(back time.Duration) string {
			return time.Now().UTC().Truncate(time.Hour).Add(-back).Format(time.RFC3339)
		}
		var got []map[string]any
		for _, e := range h.events(t, h.tenant) {
			if e.Action == tenants.ActionTokensGranted {
				require.Equal(t, "tokens", e.Actor)
				got = append(got, e.Detail)
			}
		}
		require.Equal(t, []map[string]any{
			{"hour": hour(3 * time.Hour), "count": float64(2), "environments": map[string]any{"staging": float64(2)}},
			{"hour": hour(2 * time.Hour), "count": float64(1), "environments": map[string]any{"staging": float64(1)}},
		}, got)
		require.Contains(t, actions(h.events(t, other)), string(tenants.ActionTokensGranted))

		n, err = w.Rollup(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "counted hours are not counted again")
	})

	t.Run("PruneTakesExpiredCountedTokens", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		var ids []string
		for _, ch := range []string{"live", "expired", "expired-uncounted"} {
			issued, err := h.svc.Grant(ctx, "acme", "staging", grantReq(ch), "key:test")
			require.NoError(t, err)
			ids = append(ids, issued.ID)
		}
		_, err := h.db.Pool.Exec(ctx, `UPDATE issued_tokens SET created_at = now() - interval '3 hours' WHERE id = ANY($1)`, ids[:2])
		require.NoError(t, err)
		_, err = h.db.Pool.Exec(ctx, `UPDATE issued_tokens SET expires_at = now() - interval '1 second' WHERE id = ANY($1)`, ids[1:])
		require.NoError(t, err)
		w := tokens.NewMaintainWorker(h.opts)
		_, err = w.Rollup(ctx)
		require.NoError(t, err)
		n, err := w.Prune(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		var left []string
		rows, err := h.db.Pool.Query(ctx, `SELECT id FROM issued_tokens ORDER BY id`)
		require.NoError(t, err)
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.ElementsMatch(t, []string{ids[0], ids[2]}, left, "the live one, and the expired one whose hour is not counted yet")
	})

	t.Run("SweepRevokesWhatADisableMissed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		_, err := h.svc.Grant(ctx, "acme", "staging", grantReq("a"), "key:test")
		require.NoError(t, err)
		w := tokens.NewMaintainWorker(h.opts)
		n, err := w.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "an active tenant never disabled")

		// A disable under way (its keysets not locked yet) is left to its completion.
		h.setState(t, h.tenant, tenants.StateDisabling)
		n, err = w.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		gen := h.disable(t, h.tenant) // the keysets are locked
		n, err = w.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		var args []byte
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT args FROM river_job WHERE kind = 'tokens_revoke_tenant'`).Scan(&args))
		require.JSONEq(t, `{"tenant_id": `+itoa(h.tenant.ID)+`, "generation": `+itoa(int64(gen))+`}`, string(args))
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
