package sandbox

import (
	"errors"
	"fmt"
	"strconv"
)

// State is everything the sandbox holds, as plain values: what Opts.StateFile
// keeps (see persist.go), and what Snapshot and Restore exchange, so tenants
// made in one run still find their app, keysets and customer in the next.
// The next IDs are part of it, so IDs are never handed out twice. Calls,
// rate-limit windows, faults and permissions are not.
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
	return st.snapshotLocked()
}

// snapshotLocked deep-copies the state. st.mu must be held.
func (st *store) snapshotLocked() State {
	out := State{
		NextAppID: st.nextAppID, NextKeysetID: st.nextKeysetID,
		Apps:      make([]App, 0, len(st.appOrder)),
		Keysets:   make([]Keyset, 0, len(st.ksOrder)),
		Customers: make([]Customer, 0, len(st.custOrder)),
	}
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

// Restore replaces the sandbox's resources with state (and writes it to the
// state file, if any). It refuses a state that breaks the sandbox's own
// rules, changing nothing: non-numeric or duplicate app or keyset IDs,
// duplicate customers or externalIds, a keyset in an unknown app, a keyset
// and a customer that disagree about their assignment, or a customer with
// more than 5 keysets. The next IDs become at least one past the highest ID
// in state, so a hand-edited state cannot make IDs repeat.
func (s *Sandbox) Restore(state State) error {
	return s.mutate(func(st *store) error { return st.restoreLocked(state) })
}

// restore is Restore for Open, before the state file is attached.
func (s *Sandbox) restore(state State) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.restoreLocked(state)
}

func (st *store) restoreLocked(state State) error {
	apps, keysets, customers := map[string]*App{}, map[string]*Keyset{}, map[string]*Customer{}
	byExternalID := map[string]string{}
	var appOrder, ksOrder, custOrder []string
	nextApp, nextKeyset := max(state.NextAppID, firstAppID), max(state.NextKeysetID, firstKeysetID)
	numeric := func(what, id string) (int64, error) {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
			return 0, fmt.Errorf("sandbox state: %s ID %q is not a positive number", what, id)
		}
		return n, nil
	}
	for _, a := range state.Apps {
		n, err := numeric("app", a.ID)
		if err != nil {
			return err
		}
		if apps[a.ID] != nil {
			return fmt.Errorf("sandbox state: app %s twice", a.ID)
		}
		nextApp = max(nextApp, n+1)
		a := a
		apps[a.ID], appOrder = &a, append(appOrder, a.ID)
	}
	for _, k := range state.Keysets {
		n, err := numeric("keyset", k.ID)
		if err != nil {
			return err
		}
		if keysets[k.ID] != nil || apps[k.AppID] == nil {
			return fmt.Errorf("sandbox state: keyset %s repeated or in an unknown app", k.ID)
		}
		nextKeyset = max(nextKeyset, n+1)
		k := k.clone()
		keysets[k.ID], ksOrder = &k, append(ksOrder, k.ID)
	}
	assigned := 0
	for _, c := range state.Customers {
		if c.ID == "" || customers[c.ID] != nil || byExternalID[c.ExternalID] != "" {
			return fmt.Errorf("sandbox state: customer %q or externalId %q empty or twice", c.ID, c.ExternalID)
		}
		if len(c.Keysets) > maxCustomerKeysets {
			return fmt.Errorf("sandbox state: customer %s holds %d keysets, at most %d", c.ID, len(c.Keysets), maxCustomerKeysets)
		}
		for _, ck := range c.Keysets {
			if k := keysets[ck.ID]; k == nil || k.CustomerID != c.ID {
				return fmt.Errorf("sandbox state: customer %s holds keyset %s inconsistently", c.ID, ck.ID)
			}
		}
		assigned += len(c.Keysets)
		c := c.clone()
		customers[c.ID], custOrder = &c, append(custOrder, c.ID)
		byExternalID[c.ExternalID] = c.ID
	}
	for _, k := range keysets {
		if k.CustomerID != "" && customers[k.CustomerID] == nil {
			return fmt.Errorf("sandbox state: keyset %s names unknown customer %s", k.ID, k.CustomerID)
		}
		if k.CustomerID != "" {
			assigned--
		}
	}
	if assigned != 0 {
		return errors.New("sandbox state: keysets and customers disagree about assignments")
	}
	st.apps, st.appOrder = apps, appOrder
	st.keysets, st.ksOrder = keysets, ksOrder
	st.appKeysets = map[string][]string{}
	for _, id := range ksOrder {
		st.appKeysets[keysets[id].AppID] = append(st.appKeysets[keysets[id].AppID], id)
	}
	st.customers, st.custOrder = customers, custOrder
	st.byExternalID = byExternalID
	st.nextAppID, st.nextKeysetID = nextApp, nextKeyset
	return nil
}
