package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// OEM rules (docs): externalId required, at most 255 characters of
// [a-zA-Z0-9_-], unique per account; name required, at most 255 characters;
// at most 5 keysets per customer; a keyset belongs to at most one customer.
const (
	maxExternalIDLength = 255
	maxCustomerKeysets  = 5
)

// customerBody is a customer on the wire (GET one, create, assign). IDs of
// keysets are JSON numbers in /v2/oem.
type customerBody struct {
	ID         string               `json:"id"`
	ExternalID string               `json:"externalId"`
	Name       string               `json:"name"`
	Created    string               `json:"created"`
	Updated    string               `json:"updated"`
	Keysets    []customerKeysetBody `json:"keysets"`
}

type customerKeysetBody struct {
	ID         int64  `json:"id"`
	AssignedAt string `json:"assignedAt"`
}

// customerListItem is a customer in GET /v2/oem/customers, with counts
// instead of keysets.
type customerListItem struct {
	ID          string `json:"id"`
	ExternalID  string `json:"externalId"`
	Name        string `json:"name"`
	Created     string `json:"created"`
	Updated     string `json:"updated"`
	AppCount    int    `json:"appCount"`
	KeysetCount int    `json:"keysetCount"`
}

func customerJSON(c *Customer) customerBody {
	b := customerBody{ID: c.ID, ExternalID: c.ExternalID, Name: c.Name, Created: stamp(c.Created), Updated: stamp(c.Updated), Keysets: []customerKeysetBody{}}
	for _, k := range c.Keysets {
		id, _ := strconv.ParseInt(k.ID, 10, 64)
		b.Keysets = append(b.Keysets, customerKeysetBody{ID: id, AssignedAt: stamp(k.AssignedAt)})
	}
	return b
}

// createCustomer serves POST /v2/oem/customers with {externalId, name,
// keysetIds?}: 200 (documented) with {result: customer}. With keysetIds the
// customer is created and the keysets assigned in one atomic step: if any
// keyset breaks a rule, no customer is created.
//
// [U] A duplicate externalId is answered 400 BadRequest ("... already
// exists"): 409 is not among the documented statuses of this endpoint, so
// the strictest plausible reading is the documented 400.
func (st *store) createCustomer(r *http.Request) result {
	var in struct {
		ExternalID *string `json:"externalId"`
		Name       *string `json:"name"`
		KeysetIDs  []int64 `json:"keysetIds"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	errs := checkExternalID(in.ExternalID)
	errs = append(errs, checkName("name", in.Name)...)
	if errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	if _, taken := st.byExternalID[*in.ExternalID]; taken {
		return errorResult(http.StatusBadRequest, fmt.Sprintf("Customer with externalId %q already exists", *in.ExternalID))
	}
	c := &Customer{ID: newCustomerID(), ExternalID: *in.ExternalID, Name: *in.Name}
	if res, ok := st.checkAssignable(c, in.KeysetIDs); !ok {
		return res
	}
	now := st.clock()
	c.Created, c.Updated = now, now
	st.assign(c, in.KeysetIDs, now)
	st.customers[c.ID] = c
	st.custOrder = append(st.custOrder, c.ID)
	st.byExternalID[c.ExternalID] = c.ID
	return st.changed(success(http.StatusOK, map[string]any{"result": customerJSON(c)}))
}

// checkExternalID validates an externalId against the documented rules.
func checkExternalID(id *string) []string {
	switch {
	case id == nil:
		return []string{"externalId is required"}
	case *id == "":
		return []string{"externalId should not be empty"}
	case len(*id) > maxExternalIDLength:
		return []string{fmt.Sprintf("externalId must be shorter than or equal to %d characters", maxExternalIDLength)}
	}
	for _, r := range *id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return []string{"externalId must match /^[a-zA-Z0-9_-]+$/ regular expression"}
		}
	}
	return nil
}

// listCustomers serves GET /v2/oem/customers?appId=: {result: [...]} with
// counts, unpaginated as documented. With appId, only customers having a
// keyset in that app. [U] A non-numeric appId is a 400; an unknown one
// gives an empty list.
func (st *store) listCustomers(r *http.Request) result {
	q := r.URL.Query()
	appID := ""
	if q.Has("appId") {
		id, ok := parseNumericID(q.Get("appId"))
		if !ok {
			return errorResult(http.StatusBadRequest, "appId must be a numeric string")
		}
		appID = id
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	items := []customerListItem{}
	for _, id := range st.custOrder {
		c := st.customers[id]
		apps := map[string]bool{}
		for _, ck := range c.Keysets {
			apps[st.keysets[ck.ID].AppID] = true
		}
		if appID != "" && !apps[appID] {
			continue
		}
		items = append(items, customerListItem{
			ID: c.ID, ExternalID: c.ExternalID, Name: c.Name, Created: stamp(c.Created), Updated: stamp(c.Updated),
			AppCount: len(apps), KeysetCount: len(c.Keysets),
		})
	}
	return success(http.StatusOK, map[string]any{"result": items})
}

// getCustomer serves GET /v2/oem/customers/{customerId}: {result: customer
// with keysets}, 404 if unknown.
func (st *store) getCustomer(r *http.Request) result {
	return st.withCustomer(r, func(c *Customer) result {
		return success(http.StatusOK, map[string]any{"result": customerJSON(c)})
	})
}

// assignKeysets serves POST /v2/oem/customers/{customerId}/keysets with
// {keysetIds}: the keysets are added to the customer's (append semantics,
// [I]) and the customer is answered 200 (the documented status) as
// {result: customer}. Atomic: if any keyset breaks a rule, nothing is
// assigned.
func (st *store) assignKeysets(r *http.Request) result {
	var in struct {
		KeysetIDs []int64 `json:"keysetIds"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	if len(in.KeysetIDs) == 0 {
		return errorResult(http.StatusBadRequest, "keysetIds should not be empty")
	}
	return st.withCustomer(r, func(c *Customer) result {
		if res, ok := st.checkAssignable(c, in.KeysetIDs); !ok {
			return res
		}
		now := st.clock()
		st.assign(c, in.KeysetIDs, now)
		c.Updated = now
		return st.changed(success(http.StatusOK, map[string]any{"result": customerJSON(c)}))
	})
}

// updateCustomer serves PUT /v2/oem/customers/{customerId} with {name}:
// 200 with {result: customer}, 404 if unknown. The name is a display name
// only; externalId cannot change, so sending it is a 400 ("property
// externalId should not exist").
func (st *store) updateCustomer(r *http.Request) result {
	var in struct {
		Name *string `json:"name"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	if errs := checkName("name", in.Name); errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}
	return st.withCustomer(r, func(c *Customer) result {
		c.Name, c.Updated = *in.Name, st.clock()
		return st.changed(success(http.StatusOK, map[string]any{"result": customerJSON(c)}))
	})
}

// deleteCustomer serves DELETE /v2/oem/customers/{customerId}: the customer
// and all its keyset assignments are gone; the keysets stay, unassigned,
// and may be assigned to another customer; the externalId is free again
// (docs). Served from MinDeleteCustomerVersion only.
//
// [U] The success body is undocumented; the sandbox answers 200
// {success: true} like the other v2 deletes. 404 if unknown.
func (st *store) deleteCustomer(r *http.Request) result {
	return st.withCustomer(r, func(c *Customer) result {
		st.removeCustomerLocked(c)
		return st.changed(success(http.StatusOK, map[string]bool{"success": true}))
	})
}

// removeCustomerLocked deletes c and its assignments. st.mu must be held.
func (st *store) removeCustomerLocked(c *Customer) {
	for _, ck := range c.Keysets {
		st.keysets[ck.ID].CustomerID = ""
	}
	delete(st.customers, c.ID)
	delete(st.byExternalID, c.ExternalID)
	st.custOrder = slices.DeleteFunc(st.custOrder, func(x string) bool { return x == c.ID })
}

// unassignLocked removes keyset k from its customer. st.mu must be held and
// k must be assigned.
func (st *store) unassignLocked(k *Keyset) {
	c := st.customers[k.CustomerID]
	c.Keysets = slices.DeleteFunc(c.Keysets, func(ck CustomerKeyset) bool { return ck.ID == k.ID })
	c.Updated = st.clock()
	k.CustomerID = ""
}

// listCustomerKeysets serves GET /v2/oem/keysets?customerId=&appId=:
// {result: [{id, assignedAt}]} in assignment order, unpaginated; with
// appId, only the customer's keysets in that app.
//
// [U] Strictest plausible: customerId is required (400 without it), an
// unknown customer is a 404, a non-numeric appId a 400 and an unknown one
// an empty list. S4's GET /oem/customers/{id}/keysets is not served (not in
// PubNub's docs).
func (st *store) listCustomerKeysets(r *http.Request) result {
	q := r.URL.Query()
	customerID := q.Get("customerId")
	var errs []string
	if customerID == "" {
		errs = append(errs, "customerId is required")
	}
	appID := ""
	if q.Has("appId") {
		id, ok := parseNumericID(q.Get("appId"))
		if !ok {
			errs = append(errs, "appId must be a numeric string")
		}
		appID = id
	}
	if errs != nil {
		return errorResult(http.StatusBadRequest, errs...)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	c, found := st.customers[customerID]
	if !found {
		return errorResult(http.StatusNotFound, fmt.Sprintf("Customer %s not found", customerID))
	}
	items := []customerKeysetBody{}
	for _, ck := range c.Keysets {
		if appID != "" && st.keysets[ck.ID].AppID != appID {
			continue
		}
		id, _ := strconv.ParseInt(ck.ID, 10, 64)
		items = append(items, customerKeysetBody{ID: id, AssignedAt: stamp(ck.AssignedAt)})
	}
	return success(http.StatusOK, map[string]any{"result": items})
}

// checkAssignable checks, before anything changes, that ids may all be
// assigned to c. st.mu must be held.
//
// Strictest plausible choices ([U]): a repeated id in one request is a 400;
// an unknown keyset is a 404 (the documented "not found" status of the
// assign endpoint); a keyset already assigned to any customer, this one
// included, is a 400, so a retried assignment must first read the customer;
// exceeding 5 keysets in total is a 400.
func (st *store) checkAssignable(c *Customer, ids []int64) (result, bool) {
	if len(c.Keysets)+len(ids) > maxCustomerKeysets {
		return errorResult(http.StatusBadRequest, fmt.Sprintf("A customer can have at most %d keysets (has %d, %d requested)", maxCustomerKeysets, len(c.Keysets), len(ids))), false
	}
	for i, n := range ids {
		if slices.Contains(ids[:i], n) {
			return errorResult(http.StatusBadRequest, fmt.Sprintf("keysetIds must not contain %d twice", n)), false
		}
	}
	for _, n := range ids {
		k, found := st.keysets[strconv.FormatInt(n, 10)]
		if !found {
			return errorResult(http.StatusNotFound, fmt.Sprintf("Keyset %d not found", n)), false
		}
		if k.CustomerID != "" {
			return errorResult(http.StatusBadRequest, fmt.Sprintf("Keyset %d is already assigned to a customer", n)), false
		}
	}
	return result{}, true
}

// assign records ids as c's keysets. checkAssignable must have passed.
func (st *store) assign(c *Customer, ids []int64, now time.Time) {
	for _, n := range ids {
		k := st.keysets[strconv.FormatInt(n, 10)]
		k.CustomerID = c.ID
		c.Keysets = append(c.Keysets, CustomerKeyset{ID: k.ID, AssignedAt: now})
	}
}

// withCustomer runs fn on the customer named in the path, holding the lock;
// 404 if unknown.
func (st *store) withCustomer(r *http.Request, fn func(*Customer) result) result {
	id := r.PathValue("customerId")
	st.mu.Lock()
	defer st.mu.Unlock()
	c, found := st.customers[id]
	if !found {
		return errorResult(http.StatusNotFound, fmt.Sprintf("Customer %s not found", id))
	}
	return fn(c)
}
