package tenants

import (
	"slices"
	"time"
)

// This file is the whole vocabulary of a tenant's life: its states, what callers may ask, the
// timeline's actions, and the outcomes announced to partners; and the transitions, as methods
// on *Tenant. The provisioner calls PubNub and then asks the tenant what that means; the API
// and the console ask the Service, which asks the tenant. Nobody else spells a state.

// State is what pnonboard has achieved upstream for a tenant.
type State string

// The states. A tenant moves pending → provisioning → active ⇄ (disabling → disabled →
// enabling); any step that meets a permanent upstream error moves it to failed, and a retry
// from failed moves it back to pending.
const (
	StatePending      State = "pending"
	StateProvisioning State = "provisioning"
	StateActive       State = "active"
	StateFailed       State = "failed"
	StateDisabling    State = "disabling"
	StateDisabled     State = "disabled"
	StateEnabling     State = "enabling"
	StateUpdating     State = "updating"
)

// AllStates lists the states in lifecycle order.
func AllStates() []State {
	return []State{StatePending, StateProvisioning, StateActive, StateFailed, StateDisabling, StateDisabled, StateEnabling, StateUpdating}
}

// InFlight lists the states in which a tenant's reconcile job is carrying it somewhere.
func InFlight() []State {
	return []State{StatePending, StateProvisioning, StateDisabling, StateEnabling, StateUpdating}
}

// Desired is what callers asked for: active (the default) or disabled.
type Desired string

// The desired states.
const (
	DesiredActive   Desired = "active"
	DesiredDisabled Desired = "disabled"
)

// KeysetState is a keyset's progress as the API shows it.
type KeysetState string

// The keyset states.
const (
	KeysetPending  KeysetState = "pending"  // not created upstream yet
	KeysetCreated  KeysetState = "created"  // created, not yet assigned to the customer
	KeysetActive   KeysetState = "active"   // assigned, open to its clients
	KeysetDisabled KeysetState = "disabled" // locked: Access Manager on, secret rotated
	KeysetRetired  KeysetState = "retired"  // its environment was removed: locked, kept
)

// KeysetStates lists the keyset states.
func KeysetStates() []KeysetState {
	return []KeysetState{KeysetPending, KeysetCreated, KeysetActive, KeysetDisabled, KeysetRetired}
}

// DriftKind names a difference between what pnonboard made and what upstream holds.
type DriftKind string

// The drift kinds. Safe ones are repaired by the check itself; the others are reported and
// repaired on request.
const (
	DriftKeysetUnassigned DriftKind = "keyset_unassigned"  // safe: assigned again
	DriftAccessManagerOff DriftKind = "access_manager_off" // safe: turned on again
	DriftKeysetDeleted    DriftKind = "keyset_deleted"     // repair: a new keyset (new keys)
	DriftKeysetRenamed    DriftKind = "keyset_renamed"     // repair: renamed back
	DriftAppDeleted       DriftKind = "app_deleted"        // repair: app and keysets made again
	DriftAppRenamed       DriftKind = "app_renamed"        // repair: renamed back
	DriftCustomerDeleted  DriftKind = "customer_deleted"   // repair: made again, same externalId
	DriftCustomerRenamed  DriftKind = "customer_renamed"   // repair: renamed back
	DriftCustomerKeysets  DriftKind = "customer_keysets"   // reported: holds keysets that are not ours
	DriftCustomerForeign  DriftKind = "customer_foreign"   // reported: the held ID has another externalId
	DriftKeysetElsewhere  DriftKind = "keyset_elsewhere"   // reported: moved to another app
	DriftAppForeign       DriftKind = "app_foreign"        // reported: named as pnonboard names another tenant's app
	DriftKeysetForeign    DriftKind = "keyset_foreign"     // reported: named as pnonboard names another tenant's keyset
)

// DriftKinds lists the drift kinds.
func DriftKinds() []DriftKind {
	return []DriftKind{DriftKeysetUnassigned, DriftAccessManagerOff, DriftKeysetDeleted, DriftKeysetRenamed,
		DriftAppDeleted, DriftAppRenamed, DriftCustomerDeleted, DriftCustomerRenamed, DriftCustomerKeysets, DriftCustomerForeign, DriftKeysetElsewhere,
		DriftAppForeign, DriftKeysetForeign}
}

// Safe reports whether the drift check repairs k by itself.
func (k DriftKind) Safe() bool { return k == DriftKeysetUnassigned || k == DriftAccessManagerOff }

// Foreign reports whether k means a resource the tenant holds is someone else's now: no
// job uses anything of a tenant with such drift.
func (k DriftKind) Foreign() bool {
	return k == DriftCustomerKeysets || k == DriftCustomerForeign || k == DriftKeysetElsewhere ||
		k == DriftAppForeign || k == DriftKeysetForeign
}

// Gone reports whether k means a resource the tenant holds no longer exists upstream.
func (k DriftKind) Gone() bool {
	return k == DriftAppDeleted || k == DriftKeysetDeleted || k == DriftCustomerDeleted
}

// Verb is what a caller asks of an existing tenant.
type Verb string

// The verbs.
const (
	VerbDisable Verb = "disable"
	VerbEnable  Verb = "enable"
	VerbRetry   Verb = "retry"
	VerbUpdate  Verb = "update"
	VerbRepair  Verb = "repair"
	VerbCheck   Verb = "check"
)

// Action names one entry of a tenant's timeline (its audit trail).
type Action string

// The timeline's actions: what callers asked (and whether it was refused), and what the
// provisioner did upstream.
const (
	ActionCreated              Action = "created"
	ActionCreateReplayed       Action = "create_replayed"
	ActionDisableRequested     Action = "disable_requested"
	ActionDisableRefused       Action = "disable_refused"
	ActionEnableRequested      Action = "enable_requested"
	ActionEnableRefused        Action = "enable_refused"
	ActionRetryRequested       Action = "retry_requested"
	ActionRetryNowRequested    Action = "retry_now_requested"
	ActionRetryRefused         Action = "retry_refused"
	ActionReconcileStarted     Action = "reconcile_started"
	ActionUpstreamVerified     Action = "upstream_verified" // recorded by releases before the check step
	ActionAppCreated           Action = "app_created"
	ActionAppAdopted           Action = "app_adopted"
	ActionKeysetCreated        Action = "keyset_created"
	ActionKeysetAdopted        Action = "keyset_adopted"
	ActionCustomerCreated      Action = "customer_created"
	ActionCustomerAdopted      Action = "customer_adopted"
	ActionKeysetsAssigned      Action = "keysets_assigned"
	ActionAccessManagerEnabled Action = "access_manager_enabled"
	ActionAccessManagerRestore Action = "access_manager_restored"
	ActionSecretRotated        Action = "secret_key_rotated"
	ActionSecretRotationFound  Action = "secret_key_rotation_adopted"
	ActionSecretRotationLost   Action = "secret_key_rotation_not_applied"
	ActionUpstreamError        Action = "upstream_error"
	ActionFailed               Action = "failed"
	ActionProvisioned          Action = "provisioned"
	ActionEnabled              Action = "enabled"
	ActionDisabled             Action = "disabled"
	ActionUpdateRequested      Action = "update_requested"
	ActionUpdateRefused        Action = "update_refused"
	ActionUpdated              Action = "updated"
	ActionCustomerRenamed      Action = "customer_renamed"
	ActionAppRenamed           Action = "app_renamed"
	ActionKeysetRenamed        Action = "keyset_renamed"
	ActionCheckRequested       Action = "check_requested"
	ActionCheckRefused         Action = "check_refused"
	ActionChecked              Action = "checked"
	ActionDriftDetected        Action = "drift_detected"
	ActionDriftRepaired        Action = "drift_repaired"
	ActionRepairRequested      Action = "repair_requested"
	ActionRepairRefused        Action = "repair_refused"
	// Recorded by the token service (internal/tokens).
	ActionTokensGranted     Action = "tokens_granted"
	ActionTokenRevoked      Action = "token_revoked"
	ActionTokenRevokeFailed Action = "token_revoke_failed"
)

// Actions lists every timeline action.
func Actions() []Action {
	return []Action{
		ActionCreated, ActionCreateReplayed, ActionDisableRequested, ActionDisableRefused, ActionEnableRequested,
		ActionEnableRefused, ActionRetryRequested, ActionRetryNowRequested, ActionRetryRefused, ActionReconcileStarted,
		ActionUpstreamVerified, ActionAppCreated, ActionAppAdopted, ActionKeysetCreated, ActionKeysetAdopted,
		ActionCustomerCreated, ActionCustomerAdopted, ActionKeysetsAssigned, ActionAccessManagerEnabled,
		ActionAccessManagerRestore, ActionSecretRotated, ActionSecretRotationFound, ActionSecretRotationLost,
		ActionUpstreamError, ActionFailed, ActionProvisioned, ActionEnabled, ActionDisabled,
		ActionUpdateRequested, ActionUpdateRefused, ActionUpdated, ActionCustomerRenamed, ActionAppRenamed,
		ActionKeysetRenamed, ActionCheckRequested, ActionCheckRefused, ActionChecked, ActionDriftDetected, ActionDriftRepaired,
		ActionRepairRequested, ActionRepairRefused, ActionTokensGranted, ActionTokenRevoked, ActionTokenRevokeFailed,
	}
}

// actions are the timeline's words for a verb: asked for, and refused.
func (v Verb) actions() (requested, refused Action) {
	switch v {
	case VerbDisable:
		return ActionDisableRequested, ActionDisableRefused
	case VerbEnable:
		return ActionEnableRequested, ActionEnableRefused
	case VerbUpdate:
		return ActionUpdateRequested, ActionUpdateRefused
	case VerbRepair:
		return ActionRepairRequested, ActionRepairRefused
	case VerbCheck:
		return ActionCheckRequested, ActionCheckRefused
	}
	return ActionRetryRequested, ActionRetryRefused
}

func (v Verb) requested() Action { a, _ := v.actions(); return a }

func (v Verb) refused() Action { _, a := v.actions(); return a }

// Outcome is a finished change that partners hear of (webhooks map each to an event type).
type Outcome string

// The outcomes.
const (
	OutcomeProvisioned        Outcome = "provisioned"
	OutcomeProvisioningFailed Outcome = "provisioning_failed"
	OutcomeDisabled           Outcome = "disabled"
	OutcomeEnabled            Outcome = "enabled"
	OutcomeUpdated            Outcome = "updated"
	OutcomeDriftDetected      Outcome = "drift_detected"
)

// Outcomes lists every outcome.
func Outcomes() []Outcome {
	return []Outcome{OutcomeProvisioned, OutcomeProvisioningFailed, OutcomeDisabled, OutcomeEnabled, OutcomeUpdated, OutcomeDriftDetected}
}

// ProvisionerActor is the actor of everything the provisioner records.
const ProvisionerActor = "provisioner"

// SystemEvent is a timeline entry by the provisioner.
func SystemEvent(action Action, detail map[string]any) Event {
	return Event{Actor: ProvisionerActor, Action: action, Detail: detail}
}

// transition is one caller verb's rule: the states it applies from, the states in which it
// is already satisfied (recorded, nothing changes), and what it changes.
type transition struct {
	verb    Verb
	allowed []State
	noop    []State
	apply   func(t *Tenant)
}

func disableTransition() transition {
	return transition{verb: VerbDisable,
		allowed: []State{StateActive, StateEnabling},
		noop:    []State{StateDisabling, StateDisabled},
		apply: func(t *Tenant) {
			t.Desired, t.State = DesiredDisabled, StateDisabling
			t.LockGeneration++
			for i := range t.Keysets {
				t.Keysets[i].RotateFor = max(t.Keysets[i].RotateFor, t.LockGeneration)
			}
		}}
}

func enableTransition() transition {
	return transition{verb: VerbEnable,
		allowed: []State{StateDisabled, StateDisabling},
		noop:    []State{StateActive, StateEnabling},
		apply: func(t *Tenant) {
			t.Desired, t.State = DesiredActive, StateEnabling
		}}
}

// check says whether tr applies to t: applies (change it), satisfied (already so), or a
// *StateError.
func (tr transition) check(t *Tenant) (applies bool, satisfied bool, refused *StateError) {
	switch {
	case slices.Contains(tr.noop, t.State):
		return false, true, nil
	case !slices.Contains(tr.allowed, t.State):
		return false, false, &StateError{Action: tr.verb, Current: t.State, Allowed: append(slices.Clone(tr.allowed), tr.noop...)}
	}
	return true, false, nil
}

// Begin labels the work a reconcile job is about to do on a pending tenant (a new one, or a
// failed one retried): provisioning it when it never was; else updating it when it already
// is as wanted (active, or disabled: a change or repair failed, so it settles as updated and
// is announced as tenant.updated), or disabling or enabling it. It reports false when the
// tenant is not pending.
func (t *Tenant) Begin() (Event, bool) {
	if t.State != StatePending {
		return Event{}, false
	}
	switch {
	case t.ProvisionedAt == nil && !t.Provisioned():
		t.State = StateProvisioning
	case t.ProvisionedAt != nil && (t.Desired == DesiredDisabled) == (t.DisabledAt != nil):
		// Already active, or already disabled, as wanted: what failed was a change or a repair.
		t.State = StateUpdating
	case t.Desired == DesiredDisabled:
		t.State = StateDisabling
	default:
		t.State = StateEnabling
	}
	return SystemEvent(ActionReconcileStarted, map[string]any{"state": t.State}), true
}

// Settle is called once nothing is left to do upstream: the tenant takes the state it was
// heading for and says what to record and announce. An enable that overtook a disable before
// it finished is recorded but not announced (partners never heard "disabled"). It reports
// false when the tenant already was where it should be.
func (t *Tenant) Settle(now time.Time) (Event, Outcome, bool) {
	switch {
	case t.State == StateFailed:
		return Event{}, "", false
	case t.State == StateUpdating:
		t.State = StateActive
		if t.Desired == DesiredDisabled {
			t.State = StateDisabled
			if t.DisabledAt == nil {
				t.DisabledAt = &now
			}
		}
		return SystemEvent(ActionUpdated, nil), OutcomeUpdated, true
	case t.Desired == DesiredActive && t.State != StateActive:
		var outcome Outcome
		action := ActionEnabled
		switch {
		case t.ProvisionedAt == nil:
			action, outcome = ActionProvisioned, OutcomeProvisioned
			t.ProvisionedAt = &now
		case t.DisabledAt != nil:
			outcome = OutcomeEnabled
		}
		t.State, t.DisabledAt = StateActive, nil
		return SystemEvent(action, nil), outcome, true
	case t.Desired == DesiredDisabled && t.State != StateDisabled:
		t.State, t.DisabledAt = StateDisabled, &now
		return SystemEvent(ActionDisabled, nil), OutcomeDisabled, true
	}
	return Event{}, "", false
}

// Fail stops the tenant at step with a message an operator can act on, and says what to
// record and, when provisioning never completed, announce ("" otherwise).
func (t *Tenant) Fail(step, msg string) (Event, Outcome) {
	t.State, t.LastError, t.FailedStep = StateFailed, msg, step
	var outcome Outcome
	if t.ProvisionedAt == nil {
		outcome = OutcomeProvisioningFailed
	}
	return SystemEvent(ActionFailed, map[string]any{"step": step, "error": msg}), outcome
}

// Signup reports whether the tenant is still on its way to its first provisioning (a customer
// signing up is waiting), as opposed to an operator's change to a provisioned one.
func (t *Tenant) Signup() bool {
	return t.ProvisionedAt == nil && t.Desired == DesiredActive
}
