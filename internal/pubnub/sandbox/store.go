package sandbox

import (
	"slices"
	"sync"
	"time"
)

// App is an app as the sandbox holds it.
type App struct {
	ID        string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Keyset is a keyset as the sandbox holds it, with what the API hides from
// GET requests (config, secret keys, owning customer) so that tests can
// assert on them.
type Keyset struct {
	ID           string
	Name         string
	AppID        string
	Type         string // "testing" or "production"
	PublishKey   string
	SubscribeKey string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Config       Config
	// SecretKeys holds the main key (ExpiresAt nil) and any rotated keys,
	// expired ones included, oldest first.
	SecretKeys []SecretKey
	// CustomerID is the OEM customer the keyset is assigned to, or "".
	CustomerID string
}

// SecretKey is one secret key of a keyset. Sandbox secrets are fake, so they
// are shown in full.
type SecretKey struct {
	Value     string
	ExpiresAt *time.Time // nil for the main key
}

// Customer is an OEM customer as the sandbox holds it.
type Customer struct {
	ID         string
	ExternalID string
	Name       string
	Created    time.Time
	Updated    time.Time
	Keysets    []CustomerKeyset // in assignment order
}

// CustomerKeyset is one keyset assignment of a customer.
type CustomerKeyset struct {
	ID         string
	AssignedAt time.Time
}

// KeysetIDs returns the IDs of the customer's keysets in assignment order.
func (c Customer) KeysetIDs() []string {
	ids := make([]string, len(c.Keysets))
	for i, k := range c.Keysets {
		ids[i] = k.ID
	}
	return ids
}

func (k Keyset) clone() Keyset {
	k.Config = k.Config.clone()
	k.SecretKeys = slices.Clone(k.SecretKeys)
	for i := range k.SecretKeys {
		k.SecretKeys[i].ExpiresAt = clonePtr(k.SecretKeys[i].ExpiresAt)
	}
	return k
}

func (c Customer) clone() Customer {
	c.Keysets = slices.Clone(c.Keysets)
	return c
}

// store is the sandbox's state. One mutex guards all of it: every endpoint
// runs as one critical section, so every change is atomic and a refused
// request changes nothing.
type store struct {
	mu  sync.Mutex
	now func() time.Time

	// seq counts changes; persist, when set, writes each change's snapshot
	// (see persist.go).
	seq     uint64
	persist *persister
	// usageShape is Opts.UsageShape.
	usageShape UsageShape

	nextAppID, nextKeysetID int64

	apps     map[string]*App
	appOrder []string
	keysets  map[string]*Keyset
	ksOrder  []string
	// appKeysets maps an app ID to its keysets' IDs in creation order.
	appKeysets map[string][]string
	customers  map[string]*Customer
	custOrder  []string
	// byExternalID maps an externalId to its customer's ID.
	byExternalID map[string]string
}

func newStore(now func() time.Time, usageShape UsageShape) *store {
	st := &store{now: now, usageShape: usageShape}
	st.resetLocked()
	return st
}

func (st *store) resetLocked() {
	st.nextAppID, st.nextKeysetID = firstAppID, firstKeysetID
	st.apps, st.appOrder = map[string]*App{}, nil
	st.keysets, st.ksOrder = map[string]*Keyset{}, nil
	st.appKeysets = map[string][]string{}
	st.customers, st.custOrder = map[string]*Customer{}, nil
	st.byExternalID = map[string]string{}
}

// addKeysetLocked records a new keyset. st.mu must be held.
func (st *store) addKeysetLocked(k *Keyset) {
	st.keysets[k.ID] = k
	st.ksOrder = append(st.ksOrder, k.ID)
	st.appKeysets[k.AppID] = append(st.appKeysets[k.AppID], k.ID)
}

// clock returns the current time at the millisecond precision the API
// answers with, so stored and decoded times compare equal.
func (st *store) clock() time.Time { return st.now().UTC().Truncate(time.Millisecond) }

// Apps returns copies of all apps in creation order.
func (s *Sandbox) Apps() []App {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]App, 0, len(st.appOrder))
	for _, id := range st.appOrder {
		out = append(out, *st.apps[id])
	}
	return out
}

// Keysets returns deep copies of all keysets in creation order, with their
// config, secret keys and customer.
func (s *Sandbox) Keysets() []Keyset {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Keyset, 0, len(st.ksOrder))
	for _, id := range st.ksOrder {
		out = append(out, st.keysets[id].clone())
	}
	return out
}

// Customers returns copies of all OEM customers in creation order, with
// their keyset assignments.
func (s *Sandbox) Customers() []Customer {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Customer, 0, len(st.custOrder))
	for _, id := range st.custOrder {
		out = append(out, st.customers[id].clone())
	}
	return out
}
