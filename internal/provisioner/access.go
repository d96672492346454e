package provisioner

import (
	"context"
	"fmt"
	"time"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// PubNub's Admin API v2 has no disable primitive (docs/pubnub.md). Until it does,
// this file is the whole mapping of "disable a tenant" (and "retire an environment") onto
// what exists, per keyset:
//
//   - lock: turn Access Manager on, with token revoke, so clients without a valid token are
//     refused; then rotate the secret key at once (no expiry), so nobody holding the old
//     secret can mint new tokens. The new secret is stored sealed.
//   - unlock: put Access Manager back as the environment's profile has it. The rotated
//     secret stays: it is the keyset's secret now.
//
// Both are resumable like the creates: the config change is idempotent, and the rotation
// keeps a pending marker; after a lost answer, settleRotation reads the current secret back and
// compares it with the one we hold to tell whether the rotation happened, before any other
// step, so an enable that overtakes a disable never leaves a stale secret stored.

func (a *attempt) lockKeyset(ctx context.Context, t *tenants.Tenant, env string) error {
	ks := keysetOf(t, env)
	if !ks.AccessLocked {
		patch := &pubnub.KeysetConfig{AccessManager: &pubnub.AccessManagerConfig{Enabled: new(true), TokenRevoke: new(true)}}
		if _, err := a.opts.Upstream.UpdateKeysetConfig(ctx, ks.KeysetID, patch); err != nil {
			return err
		}
		if err := a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
			k := keysetOf(t, env)
			k.AccessLocked = true
			events := []tenants.Event{tenants.SystemEvent(tenants.ActionAccessManagerEnabled, map[string]any{"environment": env, "keysetId": ks.KeysetID})}
			if t.Resolve(tenants.DriftAccessManagerOff, tenants.KeysetResource(k)) {
				events = append(events, repaired(tenants.DriftAccessManagerOff, k))
			}
			return events
		}); err != nil {
			return err
		}
	}
	if ks.RotatedFor >= ks.RotateFor {
		return nil
	}
	ctx = a.marked(ctx, t.ID, func(t *tenants.Tenant) **time.Time { return &keysetOf(t, env).RotatePendingAt })
	secret, err := a.opts.Upstream.RotateSecretKey(ctx, ks.KeysetID, nil)
	if err != nil {
		return err
	}
	return a.saveRotated(ctx, t.ID, env, ks.RotateFor, secret, tenants.ActionSecretRotated)
}

// settleRotation resolves a rotation whose answer was lost (its pending marker is set): the
// keyset's current main secret is read back. If it is not the one we hold, the rotation
// happened, and the new secret is stored; if it is, the rotation never happened, and only
// the marker goes (a disable still under way rotates again).
func (a *attempt) settleRotation(ctx context.Context, t *tenants.Tenant, env string) error {
	ks := keysetOf(t, env)
	current, err := a.mainSecret(ctx, ks.KeysetID)
	if err != nil {
		return err
	}
	held, err := a.opts.Keyring.Open(ks.SecretKeySealed, tenants.SecretAAD(t.ID, env))
	if err != nil {
		return fmt.Errorf("open secret key of %s: %w", env, err)
	}
	if current.Reveal() != string(held) {
		return a.saveRotated(ctx, t.ID, env, ks.RotateFor, current, tenants.ActionSecretRotationFound)
	}
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		keysetOf(t, env).RotatePendingAt = nil
		return []tenants.Event{tenants.SystemEvent(tenants.ActionSecretRotationLost, map[string]any{"environment": env, "keysetId": ks.KeysetID})}
	})
}

func (a *attempt) saveRotated(ctx context.Context, tenantID int64, env string, gen int, secret pubnub.Secret, action tenants.Action) error {
	sealed := a.opts.Keyring.Seal([]byte(secret.Reveal()), tenants.SecretAAD(tenantID, env))
	return a.update(ctx, tenantID, func(t *tenants.Tenant) []tenants.Event {
		ks := keysetOf(t, env)
		ks.SecretKeySealed, ks.RotatedFor, ks.RotatePendingAt = sealed, gen, nil
		return []tenants.Event{tenants.SystemEvent(action, map[string]any{"environment": env, "keysetId": ks.KeysetID})}
	})
}

func (a *attempt) unlockKeyset(ctx context.Context, t *tenants.Tenant, env string) error {
	ks := keysetOf(t, env)
	profile, ok := a.opts.Profiles.Get(env)
	if !ok {
		return fmt.Errorf("%w: no profile for environment %q", pubnub.ErrInvalidArgument, env)
	}
	patch := &pubnub.KeysetConfig{AccessManager: &pubnub.AccessManagerConfig{Enabled: new(profile.accessManagerOn())}}
	if _, err := a.opts.Upstream.UpdateKeysetConfig(ctx, ks.KeysetID, patch); err != nil {
		return err
	}
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		keysetOf(t, env).AccessLocked = false
		return []tenants.Event{tenants.SystemEvent(tenants.ActionAccessManagerRestore, map[string]any{"environment": env, "keysetId": ks.KeysetID, "accessManager": profile.accessManagerOn()})}
	})
}
