package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/console"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// The "What to do" advice under a failed tenant's lastError.

var adviceP = regexp.MustCompile(`<p><strong>What to do:</strong> ([^<]*)</p>`)

// adviceOn is the advice the tenant page shows, unescaped ("" when none).
func adviceOn(t *testing.T, body string) string {
	t.Helper()
	m := adviceP.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// failBlocked fails the tenant as the provisioner does when the last check found drift that
// blocks the change it is carrying (step): the step is the change's, the error says what
// blocks it (blockedError's words).
func (b *testBundle) failBlocked(t *testing.T, externalID, step, msg string, drift ...tenants.Drift) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	var ev tenants.Event
	tenantstest.Change(t, b.db.Pool, externalID, func(tn *tenants.Tenant) {
		for i := range drift {
			drift[i].DetectedAt = now
		}
		tn.Drift, tn.LastCheckedAt = drift, &now
		ev, _ = tn.Fail(step, msg)
	})
	tenantstest.AddEvents(t, b.db.Pool, externalID, ev)
}

// TestAdviceWhenBlockedByDrift: a tenant renamed while someone deleted its production keyset
// in the Admin Portal fails at the rename (the change step), and a retry would fail the same
// way: the advice is Repair, which the Drift section offers, and which does resume it.
func TestAdviceWhenBlockedByDrift(t *testing.T) {
	t.Parallel()

	t.Run("DeletedKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		prod := tenants.KeysetResource(&acme.Keysets[1])
		tenantstest.Change(t, b.db.Pool, "acme", func(tn *tenants.Tenant) { tn.Name = "Acme Two" }) // a PATCH of the name
		b.failBlocked(t, "acme", "rename_customer",
			prod+", held by this tenant, no longer exists upstream; nothing was changed upstream; POST /v1/tenants/acme/repair makes it again",
			tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: prod, Expected: `"pnonboard-acme-production"`, Actual: "deleted"})
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		body := br.get(t, "/console/tenants/acme").Body
		require.Contains(t, body, "Last error at step <code>rename_customer</code>")
		advice := adviceOn(t, body)
		require.Contains(t, advice, "Repair (Drift section) makes it again")
		require.Contains(t, advice, prod+" no longer exists in PubNub")
		require.Contains(t, advice, "a retry fails again")
		require.Contains(t, advice, "carries on with renaming the customer")
		require.NotContains(t, advice, "then retry", "a retry meets the same drift")
		require.Contains(t, body, `href="/console/tenants/acme/repair"`, "the Repair the advice names is there")

		// Following the advice resumes the tenant: Repair clears the failure and queues the work.
		resp := br.do(t, http.MethodPost, "/console/tenants/acme/repair", url.Values{"csrf": {br.csrf(t)}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.NotEqual(t, tenants.StateFailed, got.State)
		require.Empty(t, got.LastError)
		require.Empty(t, got.Blocking(), "the deleted keyset is to be made again")
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionRepairRequested, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor)
		require.Empty(t, adviceOn(t, br.get(t, "/console/tenants/acme").Body), "no failure, no advice")
	})

	t.Run("SomeoneElses", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		dev, prod := tenants.KeysetResource(&acme.Keysets[0]), tenants.KeysetResource(&acme.Keysets[1])
		b.failBlocked(t, "acme", "retire_keyset:development",
			dev+": this tenant's is app app-acme, upstream it is app 999; nothing was changed upstream",
			tenants.Drift{Kind: tenants.DriftKeysetElsewhere, Resource: dev, Expected: "app app-acme", Actual: "app 999"})
		br, _ := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		advice := adviceOn(t, br.get(t, "/console/tenants/acme").Body)
		require.Contains(t, advice, dev+" to be someone else's now")
		require.Contains(t, advice, "Resolve it in the PubNub Admin Portal")
		require.Contains(t, advice, "then Check now (Drift section)")
		require.Contains(t, advice, "locking the keyset of the removed development environment")
		require.NotContains(t, advice, "Repair", "Repair cannot undo this")

		// Someone else's, and a keyset deleted too: resolve the one, Repair the other.
		b.failBlocked(t, "acme", "retire_keyset:development", "blocked",
			tenants.Drift{Kind: tenants.DriftKeysetElsewhere, Resource: dev},
			tenants.Drift{Kind: tenants.DriftKeysetDeleted, Resource: prod})
		advice = adviceOn(t, br.get(t, "/console/tenants/acme").Body)
		require.Contains(t, advice, "Resolve it in the PubNub Admin Portal")
		require.Contains(t, advice, "Repair (Drift section) makes "+prod+" again")
	})
}

// TestAdviceByStep: each step a failed tenant can stop at has advice of its own, the day-two
// steps (a change, or a repair) included.
func TestAdviceByStep(t *testing.T) {
	t.Parallel()
	now := time.Now()
	generic := console.Advice(&tenants.Tenant{State: tenants.StateFailed, FailedStep: "some_future_step", ProvisionedAt: &now})
	require.Contains(t, generic, "then retry: the tenant resumes where it stopped")
	for _, c := range []struct {
		name    string
		tenant  tenants.Tenant
		want    []string
		notWant string
	}{
		{"RetireKeyset", tenants.Tenant{FailedStep: "retire_keyset:staging", ProvisionedAt: &now},
			[]string{"Retiring the staging environment stopped while locking its keyset", "retry to finish locking it"}, ""},
		{"RenameCustomer", tenants.Tenant{FailedStep: "rename_customer", ProvisionedAt: &now},
			[]string{"Renaming the PubNub customer to the tenant's name", "then retry: the rename is sent again"}, ""},
		{"RenameApp", tenants.Tenant{FailedStep: "rename_app", ProvisionedAt: &now},
			[]string{"Renaming the app back to the name pnonboard gave it"}, ""},
		{"RenameKeyset", tenants.Tenant{FailedStep: "rename_keyset:production", ProvisionedAt: &now},
			[]string{"Renaming the production keyset back"}, ""},
		{"CreateKeysetOfAnAddedEnvironment", tenants.Tenant{FailedStep: "create_keyset:staging", ProvisionedAt: &now},
			[]string{"Making the keyset of the staging environment (an environment added to the tenant", "then assigned to the customer", "other environments keep working"}, "provisioning resumes"},
		{"AssignAnAddedKeyset", tenants.Tenant{FailedStep: "assign_keysets", ProvisionedAt: &now},
			[]string{"Assigning the tenant's new keyset to its customer", "at most 5 keysets per customer"}, "provisioning resumes"},
		{"CreateKeysetWhileProvisioning", tenants.Tenant{FailedStep: "create_keyset:production"},
			[]string{"provisioning resumes at this step"}, "added"},
		{"EnableKeyset", tenants.Tenant{FailedStep: "enable_keyset:production", ProvisionedAt: &now},
			[]string{"a removed environment added again"}, ""},
		{"RenamedTooWhichRepairUndoes", tenants.Tenant{FailedStep: "rename_customer", ProvisionedAt: &now,
			Drift: []tenants.Drift{{Kind: tenants.DriftAppRenamed, Resource: "app app-acme"}}},
			[]string{"Renaming the PubNub customer", "Repair undoes it and resumes the tenant too"}, ""},
		{"SafeDriftOnly", tenants.Tenant{FailedStep: "rename_customer", ProvisionedAt: &now,
			Drift: []tenants.Drift{{Kind: tenants.DriftAccessManagerOff, Resource: "keyset 1 (production)"}}},
			[]string{"Renaming the PubNub customer"}, "Repair undoes"},
	} {
		c.tenant.State = tenants.StateFailed
		got := console.Advice(&c.tenant)
		for _, w := range c.want {
			require.Contains(t, got, w, c.name)
		}
		if c.notWant != "" {
			require.NotContains(t, got, c.notWant, c.name)
		}
		require.NotEqual(t, generic, got, "%s: advice of its own", c.name)
	}

	waiting := console.Advice(&tenants.Tenant{State: tenants.StateUpdating, LastError: "PubNub 503", FailedStep: "rename_customer"})
	require.Contains(t, waiting, "retrying it by itself, with backoff")
	require.Empty(t, console.Advice(&tenants.Tenant{State: tenants.StateActive}))
}
