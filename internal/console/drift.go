package console

import (
	"context"
	"fmt"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Drift (issue 14): the tenant list's "drifted" filter, the tenant page's Drift section, and
// its two actions, Check now and Repair. What is drift, and what may be done about it, is the
// tenants service's to say; this file only shows it.

// sectionDrift is the tenant page section whose buttons the drift actions are.
const sectionDrift = "drift"

// repairedShown is how many automatic repairs (drift_repaired timeline entries) the Drift
// section lists, newest first.
const repairedShown = 5

// builtinFilters are the tenant list's checkboxes every build has.
func builtinFilters() []ListFilter {
	return []ListFilter{{
		Param: "drifted", Label: "Drifted only",
		ApplyFunc: func(p *tenants.ListParams) { p.Drifted = true },
	}}
}

// driftActions are Check now and Repair, as the API's POST /check and /repair: the same
// service calls. Repair needs the API's scope, tenants:write. Check now needs tenants:write
// too, beside the API's tenants:read: a check repairs safe drift upstream by itself (assigns
// a keyset again, turns Access Manager back on), so in the console, where a read-only key
// must see no button that changes anything, it is an action of keys that may change tenants.
func (c *Console) driftActions() []Action {
	return []Action{
		{
			Name: "check", Label: "Check now", Scope: auth.ScopeTenantsWrite, also: auth.ScopeTenantsRead, section: sectionDrift,
			question: "Check this tenant against PubNub now?",
			Explain: "Reads the tenant's app, keysets and customer back from PubNub now and records every difference from what pnonboard made. " +
				"A keyset unassigned from the customer is assigned again, and Access Manager turned off where the tenant must be locked is turned on again, by the check itself; " +
				"everything else is reported and waits for Repair.",
			Done:        "Check requested: the tenant is being compared with PubNub. The Drift section below shows the result once the check has run; reload to follow it.",
			OfferedFunc: func(t *tenants.Tenant) bool { return t.HoldsUpstream() },
			DoFunc: func(ctx context.Context, id, _ string, actor auth.Actor) error {
				_, err := c.tenants.RequestCheck(ctx, id, actor.String())
				return err
			},
		},
		{
			Name: "repair", Label: "Repair", Scope: auth.ScopeTenantsWrite, section: sectionDrift,
			question: "Repair this tenant's drift?",
			Explain: "Undoes the drift the last check reported: a deleted keyset is made again (with new keys, which tenant.updated carries), a deleted app is made again with its keysets, " +
				"a deleted customer is made again with the same externalId, and a renamed app, keyset or customer is renamed back. " +
				"Drift pnonboard cannot undo (a resource that is now someone else's) stays reported.",
			Done:        "Repair requested: the tenant's job is undoing the drift. The state below follows it; a check afterwards confirms it.",
			OfferedFunc: func(t *tenants.Tenant) bool { return needsRepair(t) },
			DoFunc: func(ctx context.Context, id, _ string, actor auth.Actor) error {
				_, err := c.tenants.Repair(ctx, id, actor.String())
				return err
			},
		},
	}
}

// fix is what becomes of a drift entry.
type fix string

const (
	fixAuto   fix = "auto"   // the check's own job undoes it
	fixRepair fix = "repair" // Repair undoes it
	fixNone   fix = "none"   // pnonboard cannot undo it
)

// Label is the fix as a person reads it.
func (f fix) Label() string {
	switch f {
	case fixAuto:
		return "repaired automatically"
	case fixNone:
		return "cannot be repaired"
	}
	return "needs repair"
}

// fixOf says what becomes of drift of kind k.
func fixOf(k tenants.DriftKind) fix {
	switch {
	case k.Safe():
		return fixAuto
	case k.Foreign():
		return fixNone
	}
	return fixRepair
}

// needsRepair reports whether the tenant has drift that Repair undoes (a presentation choice:
// the service decides, and says when there was nothing to repair).
func needsRepair(t *tenants.Tenant) bool {
	for _, d := range t.Drift {
		if fixOf(d.Kind) == fixRepair {
			return true
		}
	}
	return false
}

// fixText says, for a person, what becomes of drift of kind k. It is help text keyed by the
// drift kinds, as advice is by the provisioner's steps.
func fixText(k tenants.DriftKind) string {
	switch k {
	case tenants.DriftKeysetUnassigned:
		return "The check's job assigns the keyset to the customer again; the entry goes once it is done."
	case tenants.DriftAccessManagerOff:
		return "The check's job turns Access Manager on again; the entry goes once it is done."
	case tenants.DriftKeysetDeleted:
		return "Repair makes the keyset again, with new keys (tenant.updated carries them)."
	case tenants.DriftAppDeleted:
		return "Repair makes the app and its keysets again, with new keys."
	case tenants.DriftCustomerDeleted:
		return "Repair makes the customer again, with the same externalId, and assigns the keysets to it."
	case tenants.DriftAppRenamed, tenants.DriftKeysetRenamed, tenants.DriftCustomerRenamed:
		return "Repair renames it back."
	case tenants.DriftCustomerKeysets, tenants.DriftCustomerForeign, tenants.DriftKeysetElsewhere,
		tenants.DriftAppForeign, tenants.DriftKeysetForeign:
		return "pnonboard cannot undo this: resolve it in the PubNub Admin Portal (or with PubNub support), then check again."
	}
	return ""
}

type driftView struct {
	LastCheckedAt *time.Time
	// CheckDue says a check was requested and has not run yet.
	CheckDue bool
	Entries  []driftEntry
	// Foreign says some entry is a resource that is someone else's now: no job uses the
	// tenant's resources until it is gone.
	Foreign  bool
	Repaired []repairedView // the newest automatic repairs, from the timeline
	Actions  []actionLink
}

type driftEntry struct {
	tenants.Drift
	Fix     fix
	FixText string
}

// repairedView is a drift_repaired timeline entry: drift the check's job undid by itself.
type repairedView struct {
	At       time.Time
	Kind     string
	Resource string
}

// driftSection is the tenant's Drift section; events are its timeline, newest first.
func driftSection(t *tenants.Tenant, events []tenants.Event, actions []actionLink) *driftView {
	v := &driftView{LastCheckedAt: t.LastCheckedAt, CheckDue: t.CheckRequested != "", Actions: actions}
	for _, d := range t.Drift {
		f := fixOf(d.Kind)
		v.Entries = append(v.Entries, driftEntry{Drift: d, Fix: f, FixText: fixText(d.Kind)})
		v.Foreign = v.Foreign || f == fixNone
	}
	for _, e := range events {
		if e.Action != tenants.ActionDriftRepaired {
			continue
		}
		r := repairedView{At: e.At, Kind: fmt.Sprint(e.Detail["kind"])}
		if id, env := e.Detail["keysetId"], e.Detail["environment"]; id != nil && env != nil {
			r.Resource = tenants.KeysetResource(&tenants.Keyset{KeysetID: fmt.Sprint(id), Environment: fmt.Sprint(env)})
		}
		v.Repaired = append(v.Repaired, r)
		if len(v.Repaired) == repairedShown {
			break
		}
	}
	return v
}
