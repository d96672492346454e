package provisioner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

const settle = 30 * time.Second

func TestProvisioning(t *testing.T) {
	t.Parallel()

	t.Run("HappyPathIsEnvironmentsPlusTwoCalls", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		tn := h.createActive(t, "acme")

		require.Equal(t, 3+2, h.sb.CallCount(), "E+2 Admin API calls for E=3: %v", h.sb.Calls())
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpCreateApp))
		require.Equal(t, 3, h.sb.CallCount(sandbox.OpCreateKeyset))
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpCreateCustomer))
		h.requireUpstreamExactlyOnce(t, tn)
		require.NotNil(t, tn.ProvisionedAt)
		for _, k := range tn.Keysets {
			require.Equal(t, tenants.KeysetActive, k.State())
		}

		// Each keyset was created with its profile: production is a production keyset with
		// Access Manager on; development a testing keyset with it off.
		for _, k := range h.sb.Keysets() {
			switch {
			case strings.HasSuffix(k.Name, "-production"):
				require.Equal(t, "production", k.Type)
				require.True(t, k.Config.AccessManager.Enabled)
			case strings.HasSuffix(k.Name, "-development"):
				require.Equal(t, "testing", k.Type)
				require.False(t, k.Config.AccessManager.Enabled)
			}
		}
	})

	// A lost answer (the change is made upstream, the answer is a 500) or a hung one (made,
	// then no answer before the client gives up) on any create step still ends with exactly
	// one upstream resource of each kind.
	for _, kind := range []sandbox.FaultKind{sandbox.FaultLost, sandbox.FaultTimeout} {
		for _, op := range []sandbox.Operation{sandbox.OpCreateApp, sandbox.OpCreateKeyset, sandbox.OpCreateCustomer} {
			t.Run(kind.String()+"On"+string(op), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOpts{clientTimeout: 500 * time.Millisecond})
				h.sb.InjectFault(op, sandbox.Fault{Kind: kind}, 1)
				h.startReplica(t)
				tn := h.createActive(t, "lossy")
				h.requireUpstreamExactlyOnce(t, tn)

				events, _, err := h.tenants.Events(context.Background(), "lossy", 100, "")
				require.NoError(t, err)
				require.Contains(t, actions(events), tenants.ActionUpstreamError, "the lost answer is on the timeline")
				require.Contains(t, actions(events), adoptedAction(op), "the resource was adopted, not created again")
			})
		}
	}

	t.Run("WorkerStoppedMidStepResumesWithoutDuplicates", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{clientTimeout: 20 * time.Second})
		// The second keyset's create is applied upstream, then hangs: the replica dies there.
		h.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultTimeout}, 1)
		first := h.startReplica(t)
		h.create(t, "crashy")
		require.Eventually(t, func() bool { return h.sb.CallCount(sandbox.OpCreateKeyset) == 1 }, settle, 10*time.Millisecond)
		require.Eventually(t, func() bool { return len(h.sb.Keysets()) == 1 }, settle, 10*time.Millisecond)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, first.StopAndCancel(ctx)) // a hard stop in the middle of the step

		h.startReplica(t)
		tn := h.waitState(t, "crashy", tenants.StateActive, settle)
		h.requireUpstreamExactlyOnce(t, tn)
		require.Len(t, h.sb.Keysets(), 3)
	})

	t.Run("RateLimitedSnoozesWithoutSpendingAttempts", func(t *testing.T) {
		t.Parallel()
		// A short window, so the 429's X-RateLimit-Reset is short too.
		h := newHarness(t, harnessOpts{sandbox: &sandbox.Opts{RatePerMinute: 1000, Window: time.Second}})
		h.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 429}, 2)
		rc := h.startReplica(t)
		tn := h.createActive(t, "busy")
		h.requireUpstreamExactlyOnce(t, tn)

		job := onlyJob(t, rc)
		require.Equal(t, rivertype.JobStateCompleted, job.State)
		require.Equal(t, 1, job.Attempt, "snoozes spent no attempts")
		require.Empty(t, job.Errors)
		events, _, err := h.tenants.Events(context.Background(), "busy", 100, "")
		require.NoError(t, err)
		require.Equal(t, 2, count(actions(events), tenants.ActionUpstreamError))
	})

	t.Run("ForbiddenFailsThenRetryAfterTheFixSucceeds", func(t *testing.T) {
		t.Parallel()
		logs := &logging.Buffer{}
		h := newHarness(t, harnessOpts{logs: logs})
		h.sb.InjectFault(sandbox.OpCreateCustomer, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "Service integration lacks OEM permission"}, -1)
		h.startReplica(t)
		h.create(t, "denied")
		tn := h.waitState(t, "denied", tenants.StateFailed, settle)
		require.Equal(t, "create_customer", tn.FailedStep)
		require.Contains(t, tn.LastError, "403")
		require.Contains(t, tn.LastError, "Service integration lacks OEM permission")
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpCreateCustomer), "a permanent error is not retried")
		require.Regexp(t, `"msg":"permanent upstream error; tenant failed".*"job_id":\d+.*"external_id":"denied"`, logs.String(),
			"worker lines name the job and the tenant")

		// The operator grants the permission and retries.
		h.sb.ClearFaults()
		_, err := h.tenants.Retry(context.Background(), "denied", "test")
		require.NoError(t, err)
		tn = h.waitState(t, "denied", tenants.StateActive, settle)
		require.Empty(t, tn.LastError)
		h.requireUpstreamExactlyOnce(t, tn)
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpCreateApp), "the retry resumed at the failed step")
	})

	t.Run("DisableLocksEveryKeysetAndEnableRestores", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		before := h.createActive(t, "toggle")
		secretsBefore := map[string]string{}
		for _, k := range h.sb.Keysets() {
			secretsBefore[k.ID] = mainSecret(k)
		}

		_, err := h.tenants.Disable(context.Background(), "toggle", "unpaid invoice", "test")
		require.NoError(t, err)
		disabled := h.waitState(t, "toggle", tenants.StateDisabled, settle)
		require.NotNil(t, disabled.DisabledAt)
		for _, k := range h.sb.Keysets() {
			require.True(t, k.Config.AccessManager.Enabled, "Access Manager on for %s", k.Name)
			require.True(t, *k.Config.AccessManager.TokenRevoke)
			require.NotEqual(t, secretsBefore[k.ID], mainSecret(k), "secret rotated for %s", k.Name)
			require.Len(t, k.SecretKeys, 1, "the old secret is invalid at once")
		}
		h.requireUpstreamExactlyOnce(t, disabled) // the stored secrets are the new ones

		_, err = h.tenants.Enable(context.Background(), "toggle", "", "test")
		require.NoError(t, err)
		enabled := h.waitState(t, "toggle", tenants.StateActive, settle)
		require.Equal(t, before.ProvisionedAt.UTC(), enabled.ProvisionedAt.UTC())
		for _, k := range h.sb.Keysets() {
			want := !strings.HasSuffix(k.Name, "-development")
			require.Equal(t, want, k.Config.AccessManager.Enabled, "Access Manager as the profile has it for %s", k.Name)
		}
		events, _, err := h.tenants.Events(context.Background(), "toggle", 200, "")
		require.NoError(t, err)
		acts := actions(events)
		for _, a := range []tenants.Action{
			tenants.ActionDisableRequested, tenants.ActionAccessManagerEnabled, tenants.ActionSecretRotated, tenants.ActionDisabled,
			tenants.ActionEnableRequested, tenants.ActionAccessManagerRestore, tenants.ActionEnabled,
		} {
			require.Contains(t, acts, a)
		}
	})

	t.Run("LastAttemptLeavesTheTenantFailedNotStuck", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.sb.InjectFault(sandbox.OpCreateApp, sandbox.Fault{Kind: sandbox.FaultServerError}, -1)
		h.create(t, "doomed")
		// This job's last attempt is its first.
		_, err := h.db.Pool.Exec(context.Background(), `UPDATE river_job SET max_attempts = 1`)
		require.NoError(t, err)
		rc := h.startReplica(t)
		tn := h.waitState(t, "doomed", tenants.StateFailed, settle)
		require.Contains(t, tn.LastError, "gave up after 1 attempts")
		require.Contains(t, tn.LastError, "500")
		require.Equal(t, "create_app", tn.FailedStep)
		require.Eventually(t, func() bool { return onlyJob(t, rc).State == rivertype.JobStateCompleted }, settle, 20*time.Millisecond,
			"the job completes, so a retry can start another")

		h.sb.ClearFaults()
		_, err = h.tenants.Retry(context.Background(), "doomed", "test")
		require.NoError(t, err)
		h.waitState(t, "doomed", tenants.StateActive, settle)
	})

	t.Run("SweepRevivesATenantWhoseJobWasCancelled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.create(t, "orphan")
		// Someone cancels the job in the job UI before it ever ran.
		_, err := h.db.Pool.Exec(context.Background(), `DELETE FROM river_job`)
		require.NoError(t, err)
		rc := h.startReplica(t)
		_, err = rc.Insert(context.Background(), provisioner.SweepArgs{}, nil)
		require.NoError(t, err)
		tn := h.waitState(t, "orphan", tenants.StateActive, settle)
		h.requireUpstreamExactlyOnce(t, tn)
	})

	t.Run("EnableOvertakingALostRotationStoresTheRealSecret", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		h.createActive(t, "overtaken", "production")

		// The rotation happens upstream but its answer is lost, and reading the secret back
		// keeps failing for now, so the disable cannot finish...
		h.sb.InjectFault(sandbox.OpRotateSecretKey, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
		h.sb.InjectFault(sandbox.OpListSecretKeys, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 503}, -1)
		_, err := h.tenants.Disable(context.Background(), "overtaken", "", "test")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return h.sb.CallCount(sandbox.OpRotateSecretKey) == 1 }, settle, 10*time.Millisecond)

		// ...when support enables the tenant again.
		_, err = h.tenants.Enable(context.Background(), "overtaken", "", "test")
		require.NoError(t, err)
		h.sb.ClearFaults()
		tn := h.waitState(t, "overtaken", tenants.StateActive, settle)
		h.requireUpstreamExactlyOnce(t, tn) // the stored secret is the rotated, real one
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpRotateSecretKey))
	})

	t.Run("LostRotationIsAdoptedNotRepeated", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		h.createActive(t, "rot", "production")
		h.sb.InjectFault(sandbox.OpRotateSecretKey, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
		_, err := h.tenants.Disable(context.Background(), "rot", "", "test")
		require.NoError(t, err)
		tn := h.waitState(t, "rot", tenants.StateDisabled, settle)
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpRotateSecretKey), "one rotation: the lost one was found, not redone")
		h.requireUpstreamExactlyOnce(t, tn)
	})

	t.Run("ChangesDuringWorkCoalesceAndEndWhereAsked", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{sandbox: &sandbox.Opts{Latency: 20 * time.Millisecond}})
		h.startReplica(t)
		h.createActive(t, "flappy")
		ctx := context.Background()
		for range 3 {
			_, err := h.tenants.Disable(ctx, "flappy", "", "test")
			require.NoError(t, err)
			_, err = h.tenants.Enable(ctx, "flappy", "", "test")
			require.NoError(t, err)
		}
		_, err := h.tenants.Disable(ctx, "flappy", "", "test")
		require.NoError(t, err)
		tn := h.waitState(t, "flappy", tenants.StateDisabled, settle)
		for _, k := range tn.Keysets {
			require.True(t, k.Locked())
			require.Equal(t, tn.LockGeneration, k.RotatedFor)
		}
		for _, k := range h.sb.Keysets() {
			require.True(t, k.Config.AccessManager.Enabled)
		}
	})
}

func onlyJob(t *testing.T, rc *river.Client[pgx.Tx]) *rivertype.JobRow {
	t.Helper()
	res, err := rc.JobList(context.Background(), river.NewJobListParams().Kinds(provisioner.ReconcileArgs{}.Kind()))
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	return res.Jobs[0]
}

func actions(events []tenants.Event) []tenants.Action {
	out := make([]tenants.Action, len(events))
	for i, e := range events {
		out[i] = e.Action
	}
	return out
}

func count(list []tenants.Action, v tenants.Action) int {
	n := 0
	for _, s := range list {
		if s == v {
			n++
		}
	}
	return n
}

func adoptedAction(op sandbox.Operation) tenants.Action {
	switch op {
	case sandbox.OpCreateApp:
		return tenants.ActionAppAdopted
	case sandbox.OpCreateKeyset:
		return tenants.ActionKeysetAdopted
	}
	return tenants.ActionCustomerAdopted
}
