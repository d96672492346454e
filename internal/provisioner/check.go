package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// A check reads back everything a tenant holds and compares it with what pnonboard made
// (compare): its drift. It runs when an operator asks (POST /check), when the drift sweep's
// listings disagree with the tenant, and, as the verify step, before a job uses holdings
// nothing has confirmed for a while, or those of a failed tenant an operator retries. Safe
// differences become work for the same job (assign again, lock again); the rest are
// reported, and a resource that is gone or someone else's (its app elsewhere, or named as
// pnonboard names another tenant's) stops every later step until it is repaired.

// observed is what upstream holds of one tenant's resources.
type observed struct {
	app      *pubnub.App                     // nil: not found
	keysets  map[string]*pubnub.Keyset       // by ID; absent: not found
	customer *pubnub.Customer                // nil: not found
	configs  map[string]*pubnub.KeysetConfig // of the keysets that must be locked
}

// observe reads back what t holds: its app, each keyset, its customer, and the config of
// each keyset that must be locked (to see Access Manager on).
func (a *attempt) observe(ctx context.Context, t *tenants.Tenant) (observed, error) {
	o := observed{keysets: map[string]*pubnub.Keyset{}, configs: map[string]*pubnub.KeysetConfig{}}
	if t.AppID != "" {
		app, err := a.opts.Upstream.GetApp(ctx, t.AppID)
		if err != nil && !pubnub.IsNotFound(err) {
			return o, err
		}
		o.app = app
	}
	for i := range t.Keysets {
		k := &t.Keysets[i]
		if k.KeysetID == "" {
			continue
		}
		up, err := a.opts.Upstream.GetKeyset(ctx, k.KeysetID)
		if pubnub.IsNotFound(err) {
			continue
		}
		if err != nil {
			return o, err
		}
		o.keysets[k.KeysetID] = up
		if t.MustLock(k) && k.AccessLocked && up.AppID == t.AppID {
			cfg, err := a.opts.Upstream.GetKeysetConfig(ctx, k.KeysetID)
			if err != nil && !pubnub.IsNotFound(err) {
				return o, err
			}
			if cfg != nil {
				o.configs[k.KeysetID] = cfg
			}
		}
	}
	if t.CustomerID != "" {
		cust, err := a.opts.Upstream.GetCustomer(ctx, t.CustomerID)
		if err != nil && !pubnub.IsNotFound(err) {
			return o, err
		}
		o.customer = cust
	}
	return o, nil
}

// compare lists every difference between what t should be upstream and o. It is pure: the
// drift sweep's suspicions and a check's findings mean the same thing.
func compare(t *tenants.Tenant, o observed) []tenants.Drift {
	var found []tenants.Drift
	add := func(kind tenants.DriftKind, resource, expected, actual string) {
		found = append(found, tenants.Drift{Kind: kind, Resource: resource, Expected: expected, Actual: actual})
	}
	quoted := func(s string) string { return fmt.Sprintf("%q", s) }
	if t.AppID != "" {
		res, name := tenants.AppResource(t.AppID), tenants.AppName(t.ExternalID)
		switch {
		case o.app == nil:
			add(tenants.DriftAppDeleted, res, quoted(name), "deleted")
		case o.app.Name != name && derivedName(o.app.Name):
			// Another tenant's name: the app is someone else's (an upstream that reused an ID,
			// a restored backup, a hand edit), never to be used, nor renamed, by this tenant.
			add(tenants.DriftAppForeign, res, fmt.Sprintf("%q, the app of tenant %q", name, t.ExternalID),
				fmt.Sprintf("%q, %s", o.app.Name, ownerOf(o.app.Name, "", "app")))
		case o.app.Name != name && !t.AppRenamePending:
			add(tenants.DriftAppRenamed, res, quoted(name), quoted(o.app.Name))
		}
	}
	for i := range t.Keysets {
		k := &t.Keysets[i]
		if k.KeysetID == "" {
			continue
		}
		res, up := tenants.KeysetResource(k), o.keysets[k.KeysetID]
		switch {
		case up == nil:
			if o.app != nil || t.AppID == "" { // a deleted app reports its keysets with it
				add(tenants.DriftKeysetDeleted, res, quoted(k.UpstreamName), "deleted")
			}
			continue
		case up.AppID != t.AppID:
			add(tenants.DriftKeysetElsewhere, res, fmt.Sprintf("%q in app %s", k.UpstreamName, t.AppID), fmt.Sprintf("%q in app %s", up.Name, up.AppID))
			continue
		case up.Name != k.UpstreamName && derivedName(up.Name) && !ownName(t, up.Name):
			add(tenants.DriftKeysetForeign, res, fmt.Sprintf("%q in app %s, the keyset of tenant %q", k.UpstreamName, t.AppID, t.ExternalID),
				fmt.Sprintf("%q in app %s, %s", up.Name, up.AppID, ownerOf(up.Name, "-"+k.Environment, "keyset")))
			continue
		case up.Name != k.UpstreamName && !k.RenamePending:
			add(tenants.DriftKeysetRenamed, res, quoted(k.UpstreamName), quoted(up.Name))
		}
		if cfg, ok := o.configs[k.KeysetID]; ok && !accessManagerOn(cfg) {
			add(tenants.DriftAccessManagerOff, res, "Access Manager on", "Access Manager off")
		}
	}
	if t.CustomerID == "" {
		return found
	}
	res := tenants.CustomerResource(t.CustomerID)
	switch {
	case o.customer == nil:
		add(tenants.DriftCustomerDeleted, res, "externalId "+quoted(t.ExternalID), "deleted")
		return found
	case o.customer.ExternalID != t.ExternalID:
		add(tenants.DriftCustomerForeign, res, "externalId "+quoted(t.ExternalID), "externalId "+quoted(o.customer.ExternalID))
		return found
	case o.customer.Name != t.CustomerName && t.CustomerName == t.Name:
		add(tenants.DriftCustomerRenamed, res, quoted(t.CustomerName), quoted(o.customer.Name))
	}
	held := map[string]bool{}
	for _, ck := range o.customer.Keysets {
		held[ck.ID] = true
	}
	ours := map[string]bool{}
	for i := range t.Keysets {
		k := &t.Keysets[i]
		ours[k.KeysetID] = true
		if k.KeysetID != "" && k.Assigned && !held[k.KeysetID] && o.keysets[k.KeysetID] != nil {
			add(tenants.DriftKeysetUnassigned, tenants.KeysetResource(k), "assigned to "+res, "not assigned")
		}
	}
	var foreign []string
	for _, ck := range o.customer.Keysets {
		if !ours[ck.ID] {
			foreign = append(foreign, ck.ID)
		}
	}
	if len(foreign) > 0 {
		slices.Sort(foreign)
		add(tenants.DriftCustomerKeysets, res, "only this tenant's keysets ("+strings.Join(keysetIDs(t), ", ")+")",
			"also keysets "+strings.Join(foreign, ", "))
	}
	return found
}

// namePrefix begins every name pnonboard derives (tenants.AppName, tenants.KeysetName).
const namePrefix = "pnonboard-"

// derivedName reports whether name has the shape of a name pnonboard derives for some
// externalId: "pnonboard-<externalId>[-<environment>]", or its long form cut to fit with
// "~" and 16 hex digits of a hash. A held app or keyset whose name differs from the tenant's
// own and has that shape is another tenant's, not a rename made in the portal.
func derivedName(name string) bool {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok || len(name) > tenants.MaxUpstreamName {
		return false
	}
	if i := strings.IndexByte(rest, '~'); i >= 0 {
		tag := rest[i+1:]
		if len(name) != tenants.MaxUpstreamName || len(tag) < 16 || strings.Trim(tag[:16], "0123456789abcdef") != "" {
			return false
		}
		rest = rest[:i] + tag[16:]
	}
	return tenants.ValidExternalID(rest)
}

// ownName reports whether name is one pnonboard gives a resource of t (its app, any of its
// keysets): a keyset named as another of the tenant's own is a rename, still the tenant's.
func ownName(t *tenants.Tenant, name string) bool {
	if name == tenants.AppName(t.ExternalID) {
		return true
	}
	return slices.ContainsFunc(t.Keysets, func(k tenants.Keyset) bool { return k.UpstreamName == name })
}

// ownerOf says whose derived name name is: the tenant whose externalId it spells (with
// suffix, the environment's, after it), when it can be read back.
func ownerOf(name, suffix, what string) string {
	rest := strings.TrimPrefix(name, namePrefix)
	if ext, ok := strings.CutSuffix(rest, suffix); ok && !strings.Contains(ext, "~") && tenants.ValidExternalID(ext) {
		return fmt.Sprintf("the %s of tenant %q", what, ext)
	}
	return "another tenant's " + what
}

func accessManagerOn(cfg *pubnub.KeysetConfig) bool {
	return cfg.AccessManager != nil && cfg.AccessManager.Enabled != nil && *cfg.AccessManager.Enabled
}

// check reads the tenant back, records what differs and announces new differences. When it
// finds a held resource gone or someone else's while the job still has work to do, the
// tenant fails naming both sides, with nothing changed upstream.
func (a *attempt) check(ctx context.Context, t *tenants.Tenant) error {
	by := t.CheckRequested
	o, err := a.observe(ctx, t)
	if err != nil {
		return err
	}
	found := compare(t, o)
	var after *tenants.Tenant
	err = a.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		t, err := tenants.GetForUpdate(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		var events []tenants.Event
		if ev, ok := t.Begin(); ok {
			events = append(events, ev) // a retried tenant, verified before it starts
		}
		fresh := t.Observe(found, time.Now().UTC())
		detail := map[string]any{"drift": len(t.Drift)}
		if by != "" {
			detail["requestedBy"] = string(by)
		}
		events = append(events, tenants.SystemEvent(tenants.ActionChecked, detail))
		var outcome tenants.Outcome
		if len(fresh) > 0 {
			events = append(events, tenants.SystemEvent(tenants.ActionDriftDetected, map[string]any{"drift": fresh}))
			outcome = tenants.OutcomeDriftDetected
		}
		if err := a.save(ctx, tx, t, outcome, events...); err != nil {
			return err
		}
		after = t
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) > 0 {
		a.opts.Logger.WarnContext(ctx, "tenant drifted upstream", "drift", len(found))
	}
	if after.State != tenants.StateFailed && blocked(after) && a.change(after) != nil {
		return blockedError(after)
	}
	return nil
}

// blocked reports whether t holds a resource that is gone or someone else's.
func blocked(t *tenants.Tenant) bool { return len(t.Blocking()) > 0 }

// blockedError says what blocks t, both sides named, and what to do.
func blockedError(t *tenants.Tenant) error {
	var parts []string
	gone := false
	for _, d := range t.Blocking() {
		if d.Kind.Gone() {
			gone = true
			parts = append(parts, fmt.Sprintf("%s, held by this tenant, no longer exists upstream", d.Resource))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: this tenant's is %s, upstream it is %s", d.Resource, d.Expected, d.Actual))
	}
	msg := strings.Join(parts, "; ") + "; nothing was changed upstream"
	if gone {
		msg += "; POST /v1/tenants/" + t.ExternalID + "/repair makes it again"
	}
	return notOurs("%s", msg)
}
