package tenants

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

// Patch is a change to a tenant: a JSON merge patch (RFC 7396) of its changeable attributes,
// decoded. A nil field leaves the attribute as it is.
type Patch struct {
	Name *string
	// Metadata merges into the tenant's: a nil value removes the key.
	Metadata     map[string]*string
	Environments []string
	Actor        string
}

// settledStates are where a tenant rests between changes.
func settledStates() []State { return []State{StateActive, StateDisabled} }

// Update applies p. Metadata is pnonboard's alone and changes in any state; a new name or
// new environments are carried upstream by the reconcile job (the tenant is updating until
// they are, then announced as tenant.updated), so they need the tenant active, disabled, or
// already updating (the changes coalesce). A patch that changes nothing is recorded and
// changes nothing: replays are safe. Returns ErrNotFound, *invalid.Error, or *StateError.
func (s *Service) Update(ctx context.Context, externalID string, p Patch) (*Tenant, error) {
	if !ValidExternalID(externalID) {
		return nil, ErrNotFound
	}
	var refused error
	t, err := postgres.WithTxV(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (*Tenant, error) {
		t, err := getByExternalID(ctx, tx, externalID, true)
		if err != nil {
			return nil, err
		}
		next, errs := s.patched(t, p)
		if errs != nil {
			refused = invalid.Fields(errs)
			return t, nil
		}
		before, after := changes(t, next)
		ev := Event{Actor: p.Actor, Action: ActionUpdateRequested, Detail: map[string]any{"before": before, "after": after}}
		if len(after) == 0 {
			ev.Detail = map[string]any{"noop": "nothing to change"}
			return t, AddEvents(ctx, tx, t.ID, ev)
		}
		upstream := next.Name != t.Name || !slices.Equal(next.Environments, t.Environments)
		if allowed := append(settledStates(), StateUpdating); upstream && !slices.Contains(allowed, t.State) {
			reason := "a name or environments change waits until the tenant is active or disabled"
			if t.State == StateFailed {
				reason = "retry or repair it first"
			}
			refused = &StateError{Action: VerbUpdate, Current: t.State, Allowed: allowed, Reason: reason}
			ev.Action, ev.Detail["state"] = ActionUpdateRefused, string(t.State)
			return t, AddEvents(ctx, tx, t.ID, ev)
		}
		t.Metadata = next.Metadata
		if upstream {
			s.applyUpstream(t, next)
			t.State = StateUpdating
		}
		if err := Save(ctx, tx, t); err != nil {
			return nil, err
		}
		if err := AddEvents(ctx, tx, t.ID, ev); err != nil {
			return nil, err
		}
		if upstream {
			return t, s.enqueuer.EnqueueReconcile(ctx, tx, t.ID)
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return t, nil
}

// patched is t's changeable attributes with p applied, or field → message for each invalid
// value (the rules of create, and at most MaxEnvironments keysets in all: a retired
// environment keeps its keyset, assigned to the customer).
func (s *Service) patched(t *Tenant, p Patch) (CreateParams, map[string]string) {
	next := CreateParams{ExternalID: t.ExternalID, Name: t.Name, Environments: t.Environments, Metadata: maps.Clone(t.Metadata)}
	if p.Name != nil {
		next.Name = *p.Name
	}
	if p.Environments != nil {
		next.Environments = p.Environments
	}
	for k, v := range p.Metadata {
		if v == nil {
			delete(next.Metadata, k)
		} else {
			next.Metadata[k] = *v
		}
	}
	errs := s.ValidateCreate(next)
	if errs == nil {
		errs = map[string]string{}
	}
	keysets := map[string]bool{}
	for _, k := range t.Keysets {
		if k.KeysetID != "" || k.CreatePendingAt != nil {
			keysets[k.Environment] = true // kept, retired or not
		}
	}
	for _, env := range next.Environments {
		keysets[env] = true
	}
	if n := len(keysets); n > MaxEnvironments && errs["environments"] == "" {
		errs["environments"] = fmt.Sprintf("the tenant would hold %d keysets, at most %d (retired environments keep theirs: %s)",
			n, MaxEnvironments, strings.Join(t.retired(), ", "))
	}
	if len(errs) == 0 {
		return next, nil
	}
	return next, errs
}

// retired lists the environments whose keysets are retired.
func (t *Tenant) retired() []string {
	var out []string
	for _, k := range t.Keysets {
		if k.RetiredAt != nil {
			out = append(out, k.Environment)
		}
	}
	return out
}

// changes lists the attributes next changes, before and after.
func changes(t *Tenant, next CreateParams) (before, after map[string]any) {
	before, after = map[string]any{}, map[string]any{}
	if next.Name != t.Name {
		before["name"], after["name"] = t.Name, next.Name
	}
	if !slices.Equal(next.Environments, t.Environments) {
		before["environments"], after["environments"] = t.Environments, next.Environments
	}
	if !maps.Equal(next.Metadata, t.Metadata) {
		before["metadata"], after["metadata"] = t.Metadata, next.Metadata
	}
	return before, after
}

// applyUpstream sets what the reconcile job carries upstream: the name (the customer is
// renamed while CustomerName differs), a keyset for each new environment, a retired keyset
// back for an environment added again, and a retired (locked) one for each removed.
func (s *Service) applyUpstream(t *Tenant, next CreateParams) {
	t.Name = next.Name
	now := time.Now().UTC()
	for _, env := range next.Environments {
		if k := t.Keyset(env); k != nil {
			k.RetiredAt = nil
			continue
		}
		t.Keysets = append(t.Keysets, Keyset{Environment: env, UpstreamName: KeysetName(t.ExternalID, env), Type: s.envs[env].KeysetType})
	}
	kept := t.Keysets[:0]
	for _, k := range t.Keysets {
		switch {
		case slices.Contains(next.Environments, k.Environment):
		case k.KeysetID == "" && k.CreatePendingAt == nil:
			continue // never made upstream: nothing to keep
		case k.RetiredAt == nil:
			t.LockGeneration++
			k.RetiredAt, k.RotateFor = &now, t.LockGeneration
		}
		kept = append(kept, k)
	}
	t.Keysets = kept
	t.Environments = next.Environments
	// Current environments first, in their order; retired ones after.
	slices.SortStableFunc(t.Keysets, func(a, b Keyset) int {
		return position(next.Environments, a.Environment) - position(next.Environments, b.Environment)
	})
	for i := range t.Keysets {
		t.Keysets[i].Position = i
	}
}

func position(envs []string, env string) int {
	if i := slices.Index(envs, env); i >= 0 {
		return i
	}
	return len(envs)
}

// RequestCheck asks the tenant's reconcile job to read its resources back now and record
// what differs from what pnonboard made (its drift). Returns ErrNotFound, or a *StateError
// while the tenant is pending.
func (s *Service) RequestCheck(ctx context.Context, externalID, actor string) (*Tenant, error) {
	return s.request(ctx, externalID, actor, VerbCheck, func(t *Tenant) (bool, *StateError) {
		if !t.HoldsUpstream() {
			return false, &StateError{Action: VerbCheck, Current: t.State, Reason: "it holds nothing upstream yet"}
		}
		t.CheckRequested = CheckByOperator
		return true, nil
	})
}

// Repair carries out what the last check found and reported rather than repaired by itself:
// a deleted keyset is made again (new keys, announced in tenant.updated), a deleted customer
// is made again with the same externalId, a renamed app, keyset or customer is renamed back.
// Differences pnonboard cannot undo (a held keyset moved to another app, a customer holding
// keysets that are not the tenant's) stay reported. A tenant with nothing to repair is left
// as it is. Returns ErrNotFound, or a *StateError while another change is under way.
func (s *Service) Repair(ctx context.Context, externalID, actor string) (*Tenant, error) {
	return s.request(ctx, externalID, actor, VerbRepair, func(t *Tenant) (bool, *StateError) {
		if allowed := append(settledStates(), StateFailed); !slices.Contains(allowed, t.State) {
			return false, &StateError{Action: VerbRepair, Current: t.State, Allowed: allowed}
		}
		if !t.repair() {
			return false, nil
		}
		t.LastError, t.FailedStep = "", ""
		// A tenant that was provisioned is being updated (its settling announces
		// tenant.updated, with a re-made keyset's new keys); one that failed before it ever was
		// is still being provisioned (tenant.provisioned, once). Whether every resource is held
		// now says nothing: repairing a deletion is forgetting what was deleted.
		t.State = StateUpdating
		if t.ProvisionedAt == nil {
			t.State = StateProvisioning
		}
		return true, nil
	})
}

// request applies change under the tenant's row lock and, when it reports true, saves the
// tenant and enqueues its job; the request is on the timeline either way.
func (s *Service) request(ctx context.Context, externalID, actor string, verb Verb, change func(t *Tenant) (bool, *StateError)) (*Tenant, error) {
	return s.change(ctx, externalID, func(t *Tenant) (Event, bool, error) {
		before := slices.Clone(t.Drift)
		changed, refusal := change(t)
		ev := Event{Actor: actor, Action: verb.requested(), Detail: map[string]any{"state": string(t.State)}}
		switch {
		case refusal != nil:
			ev.Action = verb.refused()
			return ev, false, refusal
		case !changed:
			ev.Detail["noop"] = "nothing to " + string(verb)
			return ev, false, nil
		}
		if verb == VerbRepair {
			ev.Detail["drift"] = before
		}
		return ev, true, nil
	})
}

// repair turns each repairable drift entry into the work that undoes it and drops the entry
// (the next check finds it again if the work did not undo it). It reports whether there is
// work.
func (t *Tenant) repair() bool {
	work := false
	kept := t.Drift[:0]
	for _, d := range t.Drift {
		if !t.undo(d) {
			kept = append(kept, d)
			continue
		}
		work = true
	}
	t.Drift = kept
	return work
}

// undo sets up the work that repairs d, reporting false for a kind it cannot repair.
func (t *Tenant) undo(d Drift) bool {
	switch d.Kind {
	case DriftAppDeleted:
		// Its keysets went with it: everything is made again, the customer keeps its place.
		t.AppID, t.AppPendingAt = "", nil
		for i := range t.Keysets {
			t.Keysets[i].forget()
		}
	case DriftAppRenamed:
		t.AppRenamePending = true
	case DriftCustomerDeleted:
		t.CustomerID, t.CustomerPendingAt, t.CustomerName = "", nil, ""
		for i := range t.Keysets {
			t.Keysets[i].Assigned = false
		}
	case DriftCustomerRenamed:
		t.CustomerName = "" // differs from Name: renamed back
	case DriftKeysetDeleted, DriftKeysetRenamed, DriftKeysetUnassigned, DriftAccessManagerOff:
		k := t.keysetOf(d.Resource)
		if k == nil {
			return true // the keyset is no longer the tenant's: nothing left to do
		}
		switch d.Kind {
		case DriftKeysetDeleted:
			k.forget()
		case DriftKeysetRenamed:
			k.RenamePending = true
		case DriftKeysetUnassigned:
			k.Assigned = false
		case DriftAccessManagerOff:
			k.AccessLocked = false
		}
	default:
		return false
	}
	return true
}

// forget drops what the keyset held upstream, so that it is made again (and assigned, and
// locked when it must be, with its secret rotated afresh).
func (k *Keyset) forget() {
	*k = Keyset{Environment: k.Environment, Position: k.Position, UpstreamName: k.UpstreamName, Type: k.Type,
		RetiredAt: k.RetiredAt, RotateFor: k.RotateFor}
}

// keysetOf is the keyset a drift entry's resource names.
func (t *Tenant) keysetOf(resource string) *Keyset {
	for i := range t.Keysets {
		if t.Keysets[i].KeysetID != "" && KeysetResource(&t.Keysets[i]) == resource {
			return &t.Keysets[i]
		}
	}
	return nil
}

// The resources drift entries name.
func AppResource(id string) string      { return "app " + id }
func CustomerResource(id string) string { return "customer " + id }
func KeysetResource(k *Keyset) string {
	return "keyset " + k.KeysetID + " (" + k.Environment + ")"
}

// Resolve drops the drift entry of kind on resource, reporting whether there was one: the
// provisioner calls it when its work repaired that difference.
func (t *Tenant) Resolve(kind DriftKind, resource string) bool {
	i := slices.IndexFunc(t.Drift, func(d Drift) bool { return d.Kind == kind && d.Resource == resource })
	if i < 0 {
		return false
	}
	t.Drift = slices.Delete(t.Drift, i, i+1)
	return true
}

// Observe records what a check found (found: every difference, in sync when empty) and
// returns the entries that are new since the last check. Entries seen before keep the time
// they were first detected. Safe differences become work at once (the keyset is assigned or
// locked again by the job, which then resolves the entry).
func (t *Tenant) Observe(found []Drift, now time.Time) (fresh []Drift) {
	for _, d := range found {
		if d.Kind.Safe() {
			t.undo(d)
		}
	}
	for i, d := range found {
		j := slices.IndexFunc(t.Drift, func(o Drift) bool { return o.Kind == d.Kind && o.Resource == d.Resource })
		if j >= 0 {
			found[i].DetectedAt = t.Drift[j].DetectedAt
			continue
		}
		found[i].DetectedAt = now
		fresh = append(fresh, found[i])
	}
	if found == nil {
		found = []Drift{}
	}
	t.Drift, t.LastCheckedAt, t.CheckRequested = found, &now, ""
	if !slices.ContainsFunc(found, func(d Drift) bool { return d.Kind.Foreign() || d.Kind.Gone() }) {
		t.VerifiedAt = &now
	}
	return fresh
}

// Blocking lists the drift that stops every job from using the tenant's resources: a held
// resource that is gone, or someone else's.
func (t *Tenant) Blocking() []Drift {
	var out []Drift
	for _, d := range t.Drift {
		if d.Kind.Foreign() || d.Kind.Gone() {
			out = append(out, d)
		}
	}
	return out
}
