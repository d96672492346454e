package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors of the portal methods (and of the admin routes, as 404 and 400).
var (
	// ErrNotFound is wrapped when the app, keyset or customer does not
	// exist, or a keyset to unassign has no customer.
	ErrNotFound = errors.New("not found")
	// ErrInvalid is wrapped when an argument breaks a rule the Admin API
	// would enforce (an empty or too long name, a bad externalId, more than
	// 5 environments, a taken externalId).
	ErrInvalid = errors.New("invalid")
)

// The portal methods change the sandbox as a person in PubNub's Admin Portal
// would, behind the Admin API client's back: tests and dev mode use them to
// make drift happen. They bypass the Admin API pipeline (no rate limit,
// faults, permissions or call log), change UpdatedAt/Updated like the API,
// and are persisted like any other change when Opts.StateFile is set.

// DeleteKeyset deletes a keyset and its customer assignment, as the portal's
// delete does. Returns ErrNotFound for an unknown keyset.
func (s *Sandbox) DeleteKeyset(id string) error {
	return s.mutate(func(st *store) error {
		if _, err := st.keysetLocked(id); err != nil {
			return err
		}
		st.removeKeysetLocked(id)
		return nil
	})
}

// UnassignKeyset removes a keyset from its OEM customer, which the Admin API
// cannot do (the Partner Portal can). Returns ErrNotFound for an unknown or
// unassigned keyset.
func (s *Sandbox) UnassignKeyset(id string) error {
	return s.mutate(func(st *store) error {
		k, err := st.keysetLocked(id)
		if err != nil {
			return err
		}
		if k.CustomerID == "" {
			return fmt.Errorf("keyset %s has no customer: %w", id, ErrNotFound)
		}
		st.unassignLocked(k)
		return nil
	})
}

// RenameApp renames an app. Returns ErrNotFound for an unknown app and
// ErrInvalid for an empty or too long name.
func (s *Sandbox) RenameApp(id, name string) error {
	return s.mutate(func(st *store) error {
		if err := validName(name); err != nil {
			return err
		}
		a, ok := st.apps[id]
		if !ok {
			return fmt.Errorf("app %s: %w", id, ErrNotFound)
		}
		a.Name, a.UpdatedAt = name, st.clock()
		return nil
	})
}

// RenameKeyset renames a keyset. Returns ErrNotFound for an unknown keyset
// and ErrInvalid for an empty or too long name.
func (s *Sandbox) RenameKeyset(id, name string) error {
	return s.mutate(func(st *store) error {
		if err := validName(name); err != nil {
			return err
		}
		k, err := st.keysetLocked(id)
		if err != nil {
			return err
		}
		k.Name, k.UpdatedAt = name, st.clock()
		return nil
	})
}

// RenameCustomer renames an OEM customer (its externalId stays). Returns
// ErrNotFound for an unknown customer and ErrInvalid for an empty or too
// long name.
func (s *Sandbox) RenameCustomer(id, name string) error {
	return s.mutate(func(st *store) error {
		if err := validName(name); err != nil {
			return err
		}
		c, ok := st.customers[id]
		if !ok {
			return fmt.Errorf("customer %s: %w", id, ErrNotFound)
		}
		c.Name, c.Updated = name, st.clock()
		return nil
	})
}

// SetAccessManager turns Access Manager on or off in a keyset's config,
// leaving the rest of the config alone. Returns ErrNotFound for an unknown
// keyset.
func (s *Sandbox) SetAccessManager(keysetID string, enabled bool) error {
	return s.mutate(func(st *store) error {
		k, err := st.keysetLocked(keysetID)
		if err != nil {
			return err
		}
		k.Config.AccessManager.Enabled, k.UpdatedAt = enabled, st.clock()
		return nil
	})
}

// DeleteCustomer deletes an OEM customer and its assignments; its keysets
// stay. Returns ErrNotFound for an unknown customer.
func (s *Sandbox) DeleteCustomer(id string) error {
	return s.mutate(func(st *store) error {
		c, ok := st.customers[id]
		if !ok {
			return fmt.Errorf("customer %s: %w", id, ErrNotFound)
		}
		st.removeCustomerLocked(c)
		return nil
	})
}

// DeleteApp deletes an app with its keysets (and their customer
// assignments), as the portal's delete does. Returns ErrNotFound for an
// unknown app.
func (s *Sandbox) DeleteApp(id string) error {
	return s.mutate(func(st *store) error {
		if _, ok := st.apps[id]; !ok {
			return fmt.Errorf("app %s: %w", id, ErrNotFound)
		}
		for _, k := range slices.Clone(st.appKeysets[id]) {
			st.removeKeysetLocked(k)
		}
		delete(st.appKeysets, id)
		delete(st.apps, id)
		st.appOrder = slices.DeleteFunc(st.appOrder, func(x string) bool { return x == id })
		return nil
	})
}

// AssignKeyset assigns a keyset to an OEM customer, as the Partner Portal
// can, taking it from the customer it was assigned to, if any. Returns
// ErrNotFound for an unknown keyset or customer and ErrInvalid when the
// customer already holds the keyset or 5 keysets.
func (s *Sandbox) AssignKeyset(keysetID, customerID string) error {
	return s.mutate(func(st *store) error {
		k, err := st.keysetLocked(keysetID)
		if err != nil {
			return err
		}
		c, ok := st.customers[customerID]
		if !ok {
			return fmt.Errorf("customer %s: %w", customerID, ErrNotFound)
		}
		if k.CustomerID == c.ID || len(c.Keysets) >= maxCustomerKeysets {
			return fmt.Errorf("customer %s holds keyset %s or %d keysets: %w", customerID, keysetID, maxCustomerKeysets, ErrInvalid)
		}
		if k.CustomerID != "" {
			st.unassignLocked(k)
		}
		now := st.clock()
		k.CustomerID = c.ID
		c.Keysets = append(c.Keysets, CustomerKeyset{ID: k.ID, AssignedAt: now})
		c.Updated = now
		return nil
	})
}

// MoveKeyset moves a keyset into another app (its keys, config and
// assignment stay), as PubNub support could; the Admin API cannot. Returns
// ErrNotFound for an unknown keyset or app.
func (s *Sandbox) MoveKeyset(keysetID, appID string) error {
	return s.mutate(func(st *store) error {
		k, err := st.keysetLocked(keysetID)
		if err != nil {
			return err
		}
		if _, ok := st.apps[appID]; !ok {
			return fmt.Errorf("app %s: %w", appID, ErrNotFound)
		}
		if k.AppID == appID {
			return nil
		}
		st.appKeysets[k.AppID] = slices.DeleteFunc(st.appKeysets[k.AppID], func(x string) bool { return x == k.ID })
		st.appKeysets[appID] = append(st.appKeysets[appID], k.ID)
		k.AppID, k.UpdatedAt = appID, st.clock()
		return nil
	})
}

// SetCustomerExternalID gives an OEM customer another externalId, as
// PubNub support could; the Admin API cannot. Returns ErrNotFound for an
// unknown customer and ErrInvalid for a bad or taken externalId.
func (s *Sandbox) SetCustomerExternalID(id, externalID string) error {
	return s.mutate(func(st *store) error {
		c, ok := st.customers[id]
		if !ok {
			return fmt.Errorf("customer %s: %w", id, ErrNotFound)
		}
		if errs := checkExternalID(&externalID); errs != nil {
			return fmt.Errorf("%s: %w", strings.Join(errs, "; "), ErrInvalid)
		}
		if _, taken := st.byExternalID[externalID]; taken {
			return fmt.Errorf("externalId %q is taken: %w", externalID, ErrInvalid)
		}
		delete(st.byExternalID, c.ExternalID)
		st.byExternalID[externalID] = c.ID
		c.ExternalID, c.Updated = externalID, st.clock()
		return nil
	})
}

// PrefillOpts shape the tenants Prefill makes. Zero fields take the
// defaults, which mirror pnonboard's naming.
type PrefillOpts struct {
	// ExternalIDFunc names the i-th tenant (i from 0) of this call
	// (default "prefill-000001", "prefill-000002", ...).
	ExternalIDFunc func(i int) string
	// Environments are the keysets of each tenant, in order (default
	// development, staging, production; at most 5, the OEM limit). The one
	// named "production" is a production keyset, the others testing.
	Environments []string
	// AppNameFunc names a tenant's app (default "pnonboard-<externalId>").
	AppNameFunc func(externalID string) string
	// KeysetNameFunc names an environment's keyset (default
	// "pnonboard-<externalId>-<environment>").
	KeysetNameFunc func(externalID, environment string) string
	// CustomerNameFunc names the OEM customer (default the externalId).
	CustomerNameFunc func(externalID string) string
	// ConfigFunc gives an environment's keyset config (default
	// DefaultConfig). It is not validated.
	ConfigFunc func(environment string) Config
	// CreatedAt stamps every resource (default Opts.Now), for example a
	// day in the past so that usage metrics already exist.
	CreatedAt time.Time
}

// PrefilledTenant is what Prefill made for one tenant.
type PrefilledTenant struct {
	ExternalID string
	AppID      string
	CustomerID string
	// KeysetIDs are in the order of PrefillOpts.Environments.
	KeysetIDs []string
}

// Prefill adds n synthetic tenants' worth of resources, as pnonboard would
// have provisioned them: per tenant an app, one keyset per environment (with
// keys and a main secret key) and an OEM customer holding those keysets. It
// bypasses HTTP and takes one lock for the whole batch, so 10,000 tenants
// take a fraction of a second; with Opts.StateFile the state is written
// once at the end. IDs continue from the sandbox's counters, resources are
// appended in tenant order (each tenant's app, then its keysets), and the
// call is all or nothing: it returns ErrInvalid, changing nothing, for a bad
// or taken externalId, a bad name or more than 5 environments.
func (s *Sandbox) Prefill(n int, opts *PrefillOpts) ([]PrefilledTenant, error) {
	var o PrefillOpts
	if opts != nil {
		o = *opts
	}
	if o.ExternalIDFunc == nil {
		o.ExternalIDFunc = func(i int) string { return fmt.Sprintf("prefill-%06d", i+1) }
	}
	if o.Environments == nil {
		o.Environments = []string{"development", "staging", "production"}
	}
	if o.AppNameFunc == nil {
		o.AppNameFunc = func(id string) string { return "pnonboard-" + id }
	}
	if o.KeysetNameFunc == nil {
		o.KeysetNameFunc = func(id, env string) string { return "pnonboard-" + id + "-" + env }
	}
	if o.CustomerNameFunc == nil {
		o.CustomerNameFunc = func(id string) string { return id }
	}
	if o.ConfigFunc == nil {
		o.ConfigFunc = func(string) Config { return DefaultConfig() }
	}
	if n < 0 || len(o.Environments) > maxCustomerKeysets {
		return nil, fmt.Errorf("prefill %d tenants with %d environments (at most %d): %w", n, len(o.Environments), maxCustomerKeysets, ErrInvalid)
	}
	var out []PrefilledTenant
	err := s.mutate(func(st *store) error {
		now := o.CreatedAt.UTC().Truncate(time.Millisecond)
		if o.CreatedAt.IsZero() {
			now = st.clock()
		}
		// Validate everything first, so that a refusal changes nothing.
		ids := make([]string, n)
		seen := make(map[string]bool, n)
		for i := range ids {
			id := o.ExternalIDFunc(i)
			if errs := checkExternalID(&id); errs != nil {
				return fmt.Errorf("prefill tenant %d: %s: %w", i, strings.Join(errs, "; "), ErrInvalid)
			}
			if _, taken := st.byExternalID[id]; taken || seen[id] {
				return fmt.Errorf("prefill tenant %d: externalId %q is taken: %w", i, id, ErrInvalid)
			}
			seen[id] = true
			for _, name := range append([]string{o.AppNameFunc(id), o.CustomerNameFunc(id)}, keysetNames(o, id)...) {
				if err := validName(name); err != nil {
					return fmt.Errorf("prefill tenant %q: %w", id, err)
				}
			}
			ids[i] = id
		}
		out = make([]PrefilledTenant, n)
		for i, extID := range ids {
			a := &App{ID: strconv.FormatInt(st.nextAppID, 10), Name: o.AppNameFunc(extID), CreatedAt: now, UpdatedAt: now}
			st.nextAppID++
			st.apps[a.ID] = a
			st.appOrder = append(st.appOrder, a.ID)
			c := &Customer{ID: newCustomerID(), ExternalID: extID, Name: o.CustomerNameFunc(extID), Created: now, Updated: now}
			t := PrefilledTenant{ExternalID: extID, AppID: a.ID, CustomerID: c.ID}
			for _, env := range o.Environments {
				typ := "testing"
				if env == "production" {
					typ = "production"
				}
				uuid := newUUID()
				k := &Keyset{
					ID: strconv.FormatInt(st.nextKeysetID, 10), Name: o.KeysetNameFunc(extID, env), AppID: a.ID, Type: typ,
					PublishKey: "pub-c-" + uuid, SubscribeKey: "sub-c-" + uuid, CreatedAt: now, UpdatedAt: now,
					Config: o.ConfigFunc(env).clone(), SecretKeys: []SecretKey{{Value: newSecretKey()}}, CustomerID: c.ID,
				}
				st.nextKeysetID++
				st.addKeysetLocked(k)
				c.Keysets = append(c.Keysets, CustomerKeyset{ID: k.ID, AssignedAt: now})
				t.KeysetIDs = append(t.KeysetIDs, k.ID)
			}
			st.customers[c.ID] = c
			st.custOrder = append(st.custOrder, c.ID)
			st.byExternalID[extID] = c.ID
			out[i] = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func keysetNames(o PrefillOpts, externalID string) []string {
	names := make([]string, len(o.Environments))
	for i, env := range o.Environments {
		names[i] = o.KeysetNameFunc(externalID, env)
	}
	return names
}

// validName applies the API's name rule (required, at most 255 characters).
func validName(name string) error {
	if errs := checkName("name", &name); errs != nil {
		return fmt.Errorf("%s: %w", strings.Join(errs, "; "), ErrInvalid)
	}
	return nil
}

// keysetLocked returns keyset id or ErrNotFound. st.mu must be held.
func (st *store) keysetLocked(id string) (*Keyset, error) {
	k, ok := st.keysets[id]
	if !ok {
		return nil, fmt.Errorf("keyset %s: %w", id, ErrNotFound)
	}
	return k, nil
}

// mutate runs fn on the store under its lock, as one change, and writes it
// through to the state file (if any) before returning. When fn fails,
// nothing may have changed.
func (s *Sandbox) mutate(fn func(st *store) error) error {
	st := s.store
	st.mu.Lock()
	err := fn(st)
	var save *pendingSave
	if err == nil {
		save = st.changed(result{}).save
	}
	st.mu.Unlock()
	if err != nil {
		return err
	}
	return st.save(save)
}
