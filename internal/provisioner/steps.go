package provisioner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Upstream creates are not idempotent, so each follows the same leak-safe shape:
//
//  1. If a create-pending marker is set, an earlier attempt may have created the resource
//     and lost the answer: look it up by its deterministic name (or externalId) and adopt it.
//  2. Otherwise commit the marker, then create.
//  3. Commit the result (the upstream ID) and clear the marker.
//
// A crash or lost response anywhere leaves either no resource, or one that step 1 finds, so
// one tenant resource never becomes two upstream resources.

// errUnexpectedAnswer marks an upstream answer that contradicts what we asked for.
var errUnexpectedAnswer = errors.New("unexpected answer from PubNub")

func (w *Worker) createApp(ctx context.Context, t *tenants.Tenant) error {
	name := tenants.AppName(t.ExternalID)
	if t.AppPendingAt != nil {
		apps, err := w.opts.Upstream.ListApps(ctx)
		if err != nil {
			return err
		}
		for _, a := range apps {
			if a.Name == name {
				return w.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
					t.AppID, t.AppPendingAt = a.ID, nil
					return []tenants.Event{systemEvent("app_adopted", map[string]any{"appId": a.ID, "name": name})}
				})
			}
		}
	} else if err := w.markPending(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &t.AppPendingAt }); err != nil {
		return err
	}
	app, err := w.opts.Upstream.CreateApp(ctx, name)
	if err != nil {
		return err
	}
	return w.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		t.AppID, t.AppPendingAt = app.ID, nil
		return []tenants.Event{systemEvent("app_created", map[string]any{"appId": app.ID, "name": name})}
	})
}

// markPending commits a create-pending marker (the field pending selects) before a create.
func (w *Worker) markPending(ctx context.Context, tenantID int64, pending func(t *tenants.Tenant) **time.Time) error {
	return w.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		if p := pending(t); *p == nil {
			now := time.Now().UTC()
			*p = &now
		}
		return nil
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

func (w *Worker) createKeyset(ctx context.Context, t *tenants.Tenant, env string) error {
	ks := keysetOf(t, env)
	if ks.CreatePendingAt != nil {
		found, err := w.findKeyset(ctx, t.AppID, ks.UpstreamName)
		if err != nil {
			return err
		}
		if found != nil {
			// The create happened and its answer was lost, secret key and all: read it back.
			secret, err := w.mainSecret(ctx, found.ID)
			if err != nil {
				return err
			}
			return w.saveKeyset(ctx, t.ID, env, found, secret, "keyset_adopted")
		}
	} else if err := w.markPending(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &keysetOf(t, env).CreatePendingAt }); err != nil {
		return err
	}
	profile, ok := w.opts.Profiles.Get(env)
	if !ok {
		return fmt.Errorf("%w: no profile for environment %q", pubnub.ErrInvalidArgument, env)
	}
	created, err := w.opts.Upstream.CreateKeyset(ctx, pubnub.CreateKeysetParams{
		Name: ks.UpstreamName, AppID: t.AppID, Type: profile.KeysetType, Config: profile.Config,
	})
	if err != nil {
		return err
	}
	secret, ok := mainKey(created.SecretKeys)
	if !ok {
		// The create answer always carries the secret; without it, read it back next attempt.
		return fmt.Errorf("%w: keyset %s created without a secret key", errUnexpectedAnswer, created.Keyset.ID)
	}
	return w.saveKeyset(ctx, t.ID, env, &created.Keyset, secret, "keyset_created")
}

func (w *Worker) saveKeyset(ctx context.Context, tenantID int64, env string, k *pubnub.Keyset, secret pubnub.Secret, action string) error {
	sealed := w.opts.Keyring.Seal([]byte(secret.Reveal()), tenants.SecretAAD(tenantID, env))
	return w.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		ks := keysetOf(t, env)
		ks.KeysetID, ks.PublishKey, ks.SubscribeKey = k.ID, k.PublishKey, k.SubscribeKey
		ks.SecretKeySealed, ks.CreatePendingAt = sealed, nil
		return []tenants.Event{systemEvent(action, map[string]any{"environment": env, "keysetId": k.ID, "type": string(k.Type)})}
	})
}

// findKeyset looks for the keyset named name in app appID (nil when there is none).
func (w *Worker) findKeyset(ctx context.Context, appID, name string) (*pubnub.Keyset, error) {
	all, err := w.opts.Upstream.ListKeysets(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name && all[i].AppID == appID {
			return &all[i], nil
		}
	}
	return nil, nil
}

// mainSecret reads a keyset's current main secret key (the one that never expires).
func (w *Worker) mainSecret(ctx context.Context, keysetID string) (pubnub.Secret, error) {
	keys, err := w.opts.Upstream.ListSecretKeys(ctx, keysetID, true)
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
func (w *Worker) createCustomer(ctx context.Context, t *tenants.Tenant) error {
	if t.CustomerPendingAt != nil {
		adopted, err := w.adoptCustomer(ctx, t)
		if err != nil || adopted {
			return err
		}
	} else if err := w.markPending(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &t.CustomerPendingAt }); err != nil {
		return err
	}
	ids := make([]string, len(t.Keysets))
	for i, k := range t.Keysets {
		ids[i] = k.KeysetID
	}
	cust, err := w.opts.Upstream.CreateCustomer(ctx, pubnub.CreateCustomerParams{ExternalID: t.ExternalID, Name: t.Name, KeysetIDs: ids})
	if status := pubnub.StatusCode(err); status == http.StatusBadRequest || status == http.StatusConflict {
		// PubNub does not document how it refuses a duplicate externalId (400 or 409): look.
		adopted, lookErr := w.adoptCustomer(ctx, t)
		if lookErr != nil || adopted {
			return lookErr
		}
	}
	if err != nil {
		return err
	}
	return w.saveCustomer(ctx, t.ID, cust, "customer_created")
}

// adoptCustomer finds the customer with the tenant's externalId and records it. It looks
// among the customers of the tenant's app first (where ours is, whenever we made it), and
// only then through the whole account (one made by hand elsewhere).
func (w *Worker) adoptCustomer(ctx context.Context, t *tenants.Tenant) (bool, error) {
	for _, appID := range []string{t.AppID, ""} {
		all, err := w.opts.Upstream.ListCustomers(ctx, appID)
		if err != nil {
			return false, err
		}
		for i := range all {
			if all[i].ExternalID == t.ExternalID {
				// The listing carries no keysets; read the customer to see which are assigned.
				cust, err := w.opts.Upstream.GetCustomer(ctx, all[i].ID)
				if err != nil {
					return false, err
				}
				return true, w.saveCustomer(ctx, t.ID, cust, "customer_adopted")
			}
		}
	}
	return false, nil
}

// saveCustomer records the customer and which of our keysets it holds: its answer is the
// upstream read that confirms the assignment.
func (w *Worker) saveCustomer(ctx context.Context, tenantID int64, cust *pubnub.Customer, action string) error {
	return w.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		t.CustomerID, t.CustomerPendingAt = cust.ID, nil
		assigned := markAssigned(t, cust)
		return []tenants.Event{systemEvent(action, map[string]any{"customerId": cust.ID, "assignedKeysets": assigned})}
	})
}

func markAssigned(t *tenants.Tenant, cust *pubnub.Customer) []string {
	held := make([]string, 0, len(cust.Keysets))
	for _, k := range cust.Keysets {
		held = append(held, k.ID)
	}
	var assigned []string
	for i := range t.Keysets {
		if slices.Contains(held, t.Keysets[i].KeysetID) {
			t.Keysets[i].Assigned = true
			assigned = append(assigned, t.Keysets[i].KeysetID)
		}
	}
	return assigned
}

// assignKeysets assigns the keysets the customer lacks. It reads the customer first: assigning
// is not idempotent, and an earlier attempt may have assigned some before losing the answer.
func (w *Worker) assignKeysets(ctx context.Context, t *tenants.Tenant) error {
	cust, err := w.opts.Upstream.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, k := range cust.Keysets {
		held[k.ID] = true
	}
	var missing []string
	for _, k := range t.Keysets {
		if !held[k.KeysetID] {
			missing = append(missing, k.KeysetID)
		}
	}
	if len(missing) > 0 {
		if cust, err = w.opts.Upstream.AssignKeysets(ctx, t.CustomerID, missing); err != nil {
			return err
		}
	}
	var stillMissing []string
	err = w.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		assigned := markAssigned(t, cust)
		for _, k := range t.Keysets {
			if !k.Assigned {
				stillMissing = append(stillMissing, k.KeysetID)
			}
		}
		return []tenants.Event{systemEvent("keysets_assigned", map[string]any{"customerId": cust.ID, "assignedKeysets": assigned})}
	})
	if err == nil && len(stillMissing) > 0 {
		return fmt.Errorf("%w: customer %s still lacks keysets %v after assigning them", errUnexpectedAnswer, cust.ID, stillMissing)
	}
	return err
}
