package provisioner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Upstream creates are not idempotent, so each follows the same leak-safe shape:
//
//  1. If a create-pending marker is set, an earlier attempt sent the create and lost the
//     answer: look the resource up by its deterministic name (or externalId) and adopt it
//     when exactly one candidate is there.
//  2. Otherwise create. The marker is committed by the budget's transport once the request's
//     token is granted, just before the request leaves (WithBeforeSend): a create that was
//     never sent (the budget said wait) leaves no marker, so nothing is looked up for nothing.
//  3. Commit the result (the upstream ID) and clear the marker.
//
// A crash or lost response anywhere leaves either no resource, or one that step 1 finds, so
// one tenant resource never becomes two upstream resources. Adoption takes only a resource
// with the tenant's deterministic name (a keyset: in the tenant's app; a customer: with its
// externalId and no keysets but the tenant's). Whatever a tenant holds from an earlier job is
// checked upstream (the verify step) before it is used when nothing confirmed it within
// VerifyAfter, and always when an operator retries a failed tenant: a held app or keyset that
// upstream says belongs to someone else (another app, or another tenant's derived name) fails
// the tenant, naming both, instead of being created into or assigned.

// errUnexpectedAnswer marks an upstream answer that contradicts what we asked for.
var errUnexpectedAnswer = errors.New("unexpected answer from PubNub")

// errNotOurs marks an upstream resource that is not the one this tenant made (another name,
// another app, another externalId), or a lookup with more than one candidate: the tenant
// fails, nothing is assigned, and an operator looks.
var errNotOurs = errors.New("not this tenant's")

// notOursError is an errNotOurs whose message says what upstream holds.
type notOursError struct{ msg string }

func (e *notOursError) Error() string        { return errNotOurs.Error() + ": " + e.msg }
func (e *notOursError) Is(target error) bool { return target == errNotOurs }

func notOurs(format string, args ...any) error {
	return &notOursError{msg: fmt.Sprintf(format, args...)}
}

// marked returns ctx with the create-pending marker that pending selects committed just
// before the create is sent.
func (a *attempt) marked(ctx context.Context, tenantID int64, pending func(t *tenants.Tenant) **time.Time) context.Context {
	return WithBeforeSend(ctx, func(ctx context.Context) error {
		return a.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
			if p := pending(t); *p == nil {
				now := time.Now().UTC()
				*p = &now
			}
			return nil
		})
	})
}

func (a *attempt) createApp(ctx context.Context, t *tenants.Tenant) error {
	name := tenants.AppName(t.ExternalID)
	if t.AppPendingAt != nil {
		apps, err := findRecent(ctx, a.opts.Upstream.ListAppsPage, a.estimateListing(ctx, false),
			func(app pubnub.App) time.Time { return app.CreatedAt },
			func(app pubnub.App) bool { return app.Name == name }, *t.AppPendingAt)
		if err != nil {
			return err
		}
		var found []string
		for _, app := range apps {
			found = append(found, app.ID)
		}
		switch len(found) {
		case 1:
			return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
				t.AppID, t.AppPendingAt = found[0], nil
				return []tenants.Event{tenants.SystemEvent(tenants.ActionAppAdopted, map[string]any{"appId": found[0], "name": name})}
			})
		case 0: // the lost create never happened: create it now
		default:
			return notOurs("%d apps upstream are named %q (IDs %s): cannot tell which is this tenant's", len(found), name, strings.Join(found, ", "))
		}
	}
	app, err := a.opts.Upstream.CreateApp(a.marked(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &t.AppPendingAt }), name)
	if err != nil {
		return err
	}
	if app.Name != name {
		return fmt.Errorf("%w: app %s was created named %q, not %q", errUnexpectedAnswer, app.ID, app.Name, name)
	}
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		t.AppID, t.AppPendingAt = app.ID, nil
		return []tenants.Event{tenants.SystemEvent(tenants.ActionAppCreated, map[string]any{"appId": app.ID, "name": name})}
	})
}

func keysetOf(t *tenants.Tenant, env string) *tenants.Keyset {
	for i := range t.Keysets {
		if t.Keysets[i].Environment == env {
			return &t.Keysets[i]
		}
	}
	return nil
}

func (a *attempt) createKeyset(ctx context.Context, t *tenants.Tenant, env string) error {
	ks := keysetOf(t, env)
	if ks.CreatePendingAt != nil {
		found, err := a.findKeyset(ctx, t.AppID, ks.UpstreamName, *ks.CreatePendingAt)
		if err != nil {
			return err
		}
		if found != nil {
			// The create happened and its answer was lost, secret key and all: read it back.
			secret, err := a.mainSecret(ctx, found.ID)
			if err != nil {
				return err
			}
			return a.saveKeyset(ctx, t.ID, env, found, secret, tenants.ActionKeysetAdopted)
		}
	}
	profile, ok := a.opts.Profiles.Get(env)
	if !ok {
		return fmt.Errorf("%w: no profile for environment %q", pubnub.ErrInvalidArgument, env)
	}
	ctx = a.marked(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &keysetOf(t, env).CreatePendingAt })
	created, err := a.opts.Upstream.CreateKeyset(ctx, pubnub.CreateKeysetParams{
		Name: ks.UpstreamName, AppID: t.AppID, Type: profile.KeysetType, Config: profile.Config,
	})
	if err != nil {
		return err
	}
	if created.Keyset.Name != ks.UpstreamName || created.Keyset.AppID != t.AppID {
		return fmt.Errorf("%w: keyset %s was created named %q in app %s, not %q in app %s",
			errUnexpectedAnswer, created.Keyset.ID, created.Keyset.Name, created.Keyset.AppID, ks.UpstreamName, t.AppID)
	}
	secret, ok := mainKey(created.SecretKeys)
	if !ok {
		// The create answer always carries the secret; without it, read it back next attempt.
		return fmt.Errorf("%w: keyset %s created without a secret key", errUnexpectedAnswer, created.Keyset.ID)
	}
	return a.saveKeyset(ctx, t.ID, env, &created.Keyset, secret, tenants.ActionKeysetCreated)
}

func (a *attempt) saveKeyset(ctx context.Context, tenantID int64, env string, k *pubnub.Keyset, secret pubnub.Secret, action tenants.Action) error {
	sealed := a.opts.Keyring.Seal([]byte(secret.Reveal()), tenants.SecretAAD(tenantID, env))
	return a.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		ks := keysetOf(t, env)
		ks.KeysetID, ks.PublishKey, ks.SubscribeKey = k.ID, k.PublishKey, k.SubscribeKey
		ks.SecretKeySealed, ks.CreatePendingAt = sealed, nil
		return []tenants.Event{tenants.SystemEvent(action, map[string]any{"environment": env, "keysetId": k.ID, "type": string(k.Type)})}
	})
}

// findKeyset looks for the keyset named name in app appID, made since: nil when there is
// none, an errNotOurs when there are several.
func (a *attempt) findKeyset(ctx context.Context, appID, name string, since time.Time) (*pubnub.Keyset, error) {
	all, err := findRecent(ctx, a.opts.Upstream.ListKeysetsPage, a.estimateListing(ctx, true),
		func(k pubnub.Keyset) time.Time { return k.CreatedAt },
		func(k pubnub.Keyset) bool { return k.Name == name && k.AppID == appID }, since)
	if err != nil {
		return nil, err
	}
	found := make([]*pubnub.Keyset, len(all))
	for i := range all {
		found[i] = &all[i]
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, k := range found {
		ids[i] = k.ID
	}
	return nil, notOurs("%d keysets in app %s are named %q (IDs %s): cannot tell which is this tenant's", len(found), appID, name, strings.Join(ids, ", "))
}

// estimateListing estimates how many apps (or keysets) the account lists, from what pnonboard
// itself holds: in an account pnonboard fills, that is the total. A wrong estimate costs one
// call; none (an error) reads from the first page.
func (a *attempt) estimateListing(ctx context.Context, keysets bool) int {
	apps, ks, err := tenants.CountHeld(ctx, a.opts.Pool)
	if err != nil {
		return 0
	}
	if keysets {
		return ks
	}
	return apps
}

// mainSecret reads a keyset's current main secret key (the one that never expires).
func (a *attempt) mainSecret(ctx context.Context, keysetID string) (pubnub.Secret, error) {
	keys, err := a.opts.Upstream.ListSecretKeys(ctx, keysetID, true)
	if err != nil {
		return "", err
	}
	secret, ok := mainKey(keys)
	if !ok {
		return "", fmt.Errorf("%w: keyset %s has no main secret key", errUnexpectedAnswer, keysetID)
	}
	return secret, nil
}

func mainKey(keys []pubnub.SecretKey) (pubnub.Secret, bool) {
	for _, k := range keys {
		if k.ExpiresAt == nil && k.SecretKey != "" {
			return k.SecretKey, true
		}
	}
	return "", false
}

// createCustomer creates the OEM customer with every keyset assigned in the same call. A
// customer that already holds the externalId (our lost answer, or one made by hand) is
// adopted; assignKeysets then adds what it lacks.
func (a *attempt) createCustomer(ctx context.Context, t *tenants.Tenant) error {
	if t.CustomerPendingAt != nil {
		adopted, err := a.adoptCustomer(ctx, t)
		if err != nil || adopted {
			return err
		}
	}
	ids := make([]string, len(t.Keysets))
	for i, k := range t.Keysets {
		ids[i] = k.KeysetID
	}
	ctx = a.marked(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &t.CustomerPendingAt })
	cust, err := a.opts.Upstream.CreateCustomer(ctx, pubnub.CreateCustomerParams{ExternalID: t.ExternalID, Name: t.Name, KeysetIDs: ids})
	if status := pubnub.StatusCode(err); status == http.StatusBadRequest || status == http.StatusConflict {
		// PubNub does not document how it refuses a duplicate externalId (400 or 409): look.
		adopted, lookErr := a.adoptCustomer(ctx, t)
		if lookErr != nil || adopted {
			return lookErr
		}
	}
	if err != nil {
		return err
	}
	if cust.ExternalID != "" && cust.ExternalID != t.ExternalID {
		return fmt.Errorf("%w: customer %s was created with externalId %q", errUnexpectedAnswer, cust.ID, cust.ExternalID)
	}
	return a.saveCustomer(ctx, t.ID, cust, tenants.ActionCustomerCreated)
}

// adoptCustomer finds the customer with the tenant's externalId and records it. It looks
// among the customers of the tenant's app first (where ours is, whenever we made it), and
// only then through the whole account (one made by hand elsewhere). The externalId is unique
// per account, so there is at most one.
func (a *attempt) adoptCustomer(ctx context.Context, t *tenants.Tenant) (bool, error) {
	for _, appID := range []string{t.AppID, ""} {
		all, err := a.opts.Upstream.ListCustomers(ctx, appID)
		if err != nil {
			return false, err
		}
		for i := range all {
			if all[i].ExternalID == t.ExternalID {
				// The listing carries no keysets; read the customer to see which are assigned.
				cust, err := a.opts.Upstream.GetCustomer(ctx, all[i].ID)
				if err != nil {
					return false, err
				}
				if err := a.requireOnlyOurKeysets(t, cust); err != nil {
					return false, err
				}
				return true, a.saveCustomer(ctx, t.ID, cust, tenants.ActionCustomerAdopted)
			}
		}
	}
	return false, nil
}

// requireOnlyOurKeysets refuses a customer holding keysets other than the tenant's: adopting
// it would hand that customer's usage and access to the tenant.
func (a *attempt) requireOnlyOurKeysets(t *tenants.Tenant, cust *pubnub.Customer) error {
	ours := map[string]bool{}
	for _, k := range t.Keysets {
		ours[k.KeysetID] = true
	}
	var foreign []string
	for _, k := range cust.Keysets {
		if !ours[k.ID] {
			foreign = append(foreign, k.ID)
		}
	}
	if len(foreign) > 0 {
		return notOurs("customer %s with externalId %q holds keysets %s that are not this tenant's (its keysets: %s)",
			cust.ID, t.ExternalID, strings.Join(foreign, ", "), strings.Join(keysetIDs(t), ", "))
	}
	return nil
}

func keysetIDs(t *tenants.Tenant) []string {
	var ids []string
	for _, k := range t.Keysets {
		if k.KeysetID != "" {
			ids = append(ids, k.KeysetID)
		}
	}
	return ids
}

// saveCustomer records the customer and which of our keysets it holds: its answer is the
// upstream read that confirms the assignment.
func (a *attempt) saveCustomer(ctx context.Context, tenantID int64, cust *pubnub.Customer, action tenants.Action) error {
	return a.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		t.CustomerID, t.CustomerPendingAt, t.CustomerName = cust.ID, nil, cust.Name
		assigned := markAssigned(t, cust)
		return []tenants.Event{tenants.SystemEvent(action, map[string]any{"customerId": cust.ID, "assignedKeysets": assigned})}
	})
}

// markAssigned sets each keyset's Assigned to whether cust holds it, and lists those it holds.
func markAssigned(t *tenants.Tenant, cust *pubnub.Customer) []string {
	held := make([]string, 0, len(cust.Keysets))
	for _, k := range cust.Keysets {
		held = append(held, k.ID)
	}
	var assigned []string
	for i := range t.Keysets {
		t.Keysets[i].Assigned = t.Keysets[i].KeysetID != "" && slices.Contains(held, t.Keysets[i].KeysetID)
		if t.Keysets[i].Assigned {
			assigned = append(assigned, t.Keysets[i].KeysetID)
		}
	}
	return assigned
}

// assignKeysets assigns the keysets the customer lacks, in one call. Assigning is not
// idempotent (PubNub refuses a keyset already assigned), so it follows the create shape: a
// marker is committed just before the request leaves, and an attempt that finds it set reads
// the customer first to see what the lost answer had done.
func (a *attempt) assignKeysets(ctx context.Context, t *tenants.Tenant) error {
	var missing []string
	for _, k := range t.Keysets {
		if !k.Assigned {
			missing = append(missing, k.KeysetID)
		}
	}
	if t.AssignPendingAt != nil {
		cust, err := a.opts.Upstream.GetCustomer(ctx, t.CustomerID)
		if err != nil {
			return err
		}
		held := map[string]bool{}
		for _, k := range cust.Keysets {
			held[k.ID] = true
		}
		missing = slices.DeleteFunc(missing, func(id string) bool { return held[id] })
		if len(missing) == 0 {
			return a.saveAssigned(ctx, t.ID, cust)
		}
	}
	ctx = a.marked(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &t.AssignPendingAt })
	cust, err := a.opts.Upstream.AssignKeysets(ctx, t.CustomerID, missing)
	if err != nil {
		return err
	}
	return a.saveAssigned(ctx, t.ID, cust)
}

// saveAssigned records which keysets cust holds, from the answer that says so, and resolves
// the drift that assigning repaired.
func (a *attempt) saveAssigned(ctx context.Context, tenantID int64, cust *pubnub.Customer) error {
	var stillMissing []string
	err := a.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		t.AssignPendingAt = nil
		assigned := markAssigned(t, cust)
		events := []tenants.Event{tenants.SystemEvent(tenants.ActionKeysetsAssigned, map[string]any{"customerId": cust.ID, "assignedKeysets": assigned})}
		for i := range t.Keysets {
			k := &t.Keysets[i]
			if !k.Assigned {
				stillMissing = append(stillMissing, k.KeysetID)
			} else if t.Resolve(tenants.DriftKeysetUnassigned, tenants.KeysetResource(k)) {
				events = append(events, repaired(tenants.DriftKeysetUnassigned, k))
			}
		}
		return events
	})
	if err == nil && len(stillMissing) > 0 {
		return fmt.Errorf("%w: customer %s still lacks keysets %v after assigning them", errUnexpectedAnswer, cust.ID, stillMissing)
	}
	return err
}

// repaired is the timeline entry of drift a step undid on keyset k.
func repaired(kind tenants.DriftKind, k *tenants.Keyset) tenants.Event {
	return tenants.SystemEvent(tenants.ActionDriftRepaired, map[string]any{"kind": string(kind), "environment": k.Environment, "keysetId": k.KeysetID})
}

// renameCustomer gives the customer the tenant's name (a PATCH of name, or a repair of a
// rename made in the portal). Renaming is idempotent: no marker is needed.
func (a *attempt) renameCustomer(ctx context.Context, t *tenants.Tenant) error {
	cust, err := a.opts.Upstream.UpdateCustomer(ctx, t.CustomerID, t.Name)
	if err != nil {
		return err
	}
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		from := t.CustomerName
		t.CustomerName = cust.Name
		t.Resolve(tenants.DriftCustomerRenamed, tenants.CustomerResource(t.CustomerID))
		return []tenants.Event{tenants.SystemEvent(tenants.ActionCustomerRenamed, map[string]any{"customerId": t.CustomerID, "from": from, "to": cust.Name})}
	})
}

// renameApp names the app back as pnonboard made it.
func (a *attempt) renameApp(ctx context.Context, t *tenants.Tenant) error {
	name := tenants.AppName(t.ExternalID)
	if _, err := a.opts.Upstream.UpdateApp(ctx, t.AppID, name); err != nil {
		return err
	}
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		t.AppRenamePending = false
		t.Resolve(tenants.DriftAppRenamed, tenants.AppResource(t.AppID))
		return []tenants.Event{tenants.SystemEvent(tenants.ActionAppRenamed, map[string]any{"appId": t.AppID, "to": name})}
	})
}

// renameKeyset names a keyset back as pnonboard made it.
func (a *attempt) renameKeyset(ctx context.Context, t *tenants.Tenant, env string) error {
	ks := t.Keyset(env)
	if _, err := a.opts.Upstream.UpdateKeyset(ctx, ks.KeysetID, pubnub.UpdateKeysetParams{Name: ks.UpstreamName}); err != nil {
		return err
	}
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		k := t.Keyset(env)
		k.RenamePending = false
		t.Resolve(tenants.DriftKeysetRenamed, tenants.KeysetResource(k))
		return []tenants.Event{tenants.SystemEvent(tenants.ActionKeysetRenamed, map[string]any{"environment": env, "keysetId": k.KeysetID, "to": k.UpstreamName})}
	})
}
