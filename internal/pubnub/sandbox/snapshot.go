package sandbox

import "fmt"

// State is everything the sandbox holds, as plain values: what dev mode saves when it stops
// and restores when it starts, so tenants made in one run still find their app, keysets and
// customer in the next. Calls, rate-limit windows and faults are not part of it.
type State struct {
	NextAppID    int64
	NextKeysetID int64
	Apps         []App
	Keysets      []Keyset
	Customers    []Customer
}

// Snapshot returns a deep copy of the sandbox's resources.
func (s *Sandbox) Snapshot() State {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	out := State{NextAppID: st.nextAppID, NextKeysetID: st.nextKeysetID}
	for _, id := range st.appOrder {
		out.Apps = append(out.Apps, *st.apps[id])
	}
	for _, id := range st.ksOrder {
		out.Keysets = append(out.Keysets, st.keysets[id].clone())
	}
	for _, id := range st.custOrder {
		out.Customers = append(out.Customers, st.customers[id].clone())
	}
	return out
}

// Restore replaces the sandbox's resources with state. It refuses a state that breaks the
// sandbox's own rules (duplicate IDs or externalIds, dangling references), changing nothing.
func (s *Sandbox) Restore(state State) error {
	apps, keysets, customers := map[string]*App{}, map[string]*Keyset{}, map[string]*Customer{}
	byExternalID := map[string]string{}
	var appOrder, ksOrder, custOrder []string
	for _, a := range state.Apps {
		if apps[a.ID] != nil {
			return fmt.Errorf("sandbox state: app %s twice", a.ID)
		}
		a := a
		apps[a.ID], appOrder = &a, append(appOrder, a.ID)
	}
	for _, k := range state.Keysets {
		if keysets[k.ID] != nil || apps[k.AppID] == nil {
			return fmt.Errorf("sandbox state: keyset %s repeated or in an unknown app", k.ID)
		}
		k := k.clone()
		keysets[k.ID], ksOrder = &k, append(ksOrder, k.ID)
	}
	for _, c := range state.Customers {
		if customers[c.ID] != nil || byExternalID[c.ExternalID] != "" {
			return fmt.Errorf("sandbox state: customer %s or externalId %q twice", c.ID, c.ExternalID)
		}
		for _, ck := range c.Keysets {
			if k := keysets[ck.ID]; k == nil || k.CustomerID != c.ID {
				return fmt.Errorf("sandbox state: customer %s holds keyset %s inconsistently", c.ID, ck.ID)
			}
		}
		c := c.clone()
		customers[c.ID], custOrder = &c, append(custOrder, c.ID)
		byExternalID[c.ExternalID] = c.ID
	}
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	st.apps, st.appOrder = apps, appOrder
	st.keysets, st.ksOrder = keysets, ksOrder
	st.customers, st.custOrder = customers, custOrder
	st.byExternalID = byExternalID
	st.nextAppID = max(state.NextAppID, firstAppID)
	st.nextKeysetID = max(state.NextKeysetID, firstKeysetID)
	return nil
}
