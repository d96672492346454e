package pubnub

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Customer is an OEM (Partner Portal) customer. Keysets is filled by
// CreateCustomer, GetCustomer and AssignKeysets; AppCount and KeysetCount by
// ListCustomers.
type Customer struct {
	ID          string
	ExternalID  string
	Name        string
	Created     time.Time
	Updated     time.Time
	Keysets     []CustomerKeyset
	AppCount    int
	KeysetCount int
}

// CustomerKeyset is a keyset assigned to a customer.
type CustomerKeyset struct {
	ID         string
	AssignedAt time.Time
}

// customerJSON is a customer on the wire; keyset IDs are JSON numbers here,
// but either form is accepted.
type customerJSON struct {
	ID          flexID   `json:"id"`
	ExternalID  string   `json:"externalId"`
	Name        string   `json:"name"`
	Created     flexTime `json:"created"`
	Updated     flexTime `json:"updated"`
	AppCount    int      `json:"appCount"`
	KeysetCount int      `json:"keysetCount"`
	Keysets     []struct {
		ID         flexID   `json:"id"`
		AssignedAt flexTime `json:"assignedAt"`
	} `json:"keysets"`
}

func (w customerJSON) customer() Customer {
	c := Customer{
		ID: string(w.ID), ExternalID: w.ExternalID, Name: w.Name,
		Created: w.Created.time(), Updated: w.Updated.time(),
		AppCount: w.AppCount, KeysetCount: w.KeysetCount,
	}
	for _, k := range w.Keysets {
		c.Keysets = append(c.Keysets, CustomerKeyset{ID: string(k.ID), AssignedAt: k.AssignedAt.time()})
	}
	return c
}

// CreateCustomerParams are the inputs of CreateCustomer. ExternalID is yours
// (unique per account, ^[a-zA-Z0-9_-]+$, at most 255, immutable); KeysetIDs
// (at most 5, numeric, not assigned elsewhere) are assigned in the same call.
type CreateCustomerParams struct {
	ExternalID string
	Name       string
	KeysetIDs  []string
}

// CreateCustomer creates an OEM customer and assigns KeysetIDs to it (POST
// /oem/customers). A non-numeric keyset ID is refused before sending
// (ErrInvalidArgument). A duplicate ExternalID is a 4xx whose status PubNub
// does not document (400 or 409): list customers to adopt the existing one.
func (c *Client) CreateCustomer(ctx context.Context, p CreateCustomerParams) (*Customer, error) {
	const op = "create customer"
	ids, err := numericIDs(op, p.KeysetIDs)
	if err != nil {
		return nil, err
	}
	in := struct {
		ExternalID string  `json:"externalId"`
		Name       string  `json:"name"`
		KeysetIDs  []int64 `json:"keysetIds,omitempty"`
	}{p.ExternalID, p.Name, ids}
	var out struct {
		Result customerJSON `json:"result"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/oem/customers", body: in}, &out); err != nil {
		return nil, err
	}
	if err := c.requireID(op, "/oem/customers", out.Result.ID); err != nil {
		return nil, err
	}
	cust := out.Result.customer()
	return &cust, nil
}

// GetCustomer returns the customer with id and its keysets (GET
// /oem/customers/{id}); IsNotFound reports a missing one.
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	const op = "get customer"
	seg, err := pathSegment(op, "customer id", id)
	if err != nil {
		return nil, err
	}
	var out struct {
		Result customerJSON `json:"result"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/oem/customers/" + seg}, &out); err != nil {
		return nil, err
	}
	cust := out.Result.customer()
	return &cust, nil
}

// ListCustomers returns the account's OEM customers with their app and
// keyset counts (GET /oem/customers, unpaginated); appID, when not "",
// keeps those with a keyset in that app. There is no externalId filter:
// match ExternalID yourself.
func (c *Client) ListCustomers(ctx context.Context, appID string) ([]Customer, error) {
	const op = "list customers"
	var q url.Values
	if appID != "" {
		if _, err := numericID(op, "app id", appID); err != nil {
			return nil, err
		}
		q = url.Values{"appId": {appID}}
	}
	var out struct {
		Result []customerJSON `json:"result"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/oem/customers", query: q}, &out); err != nil {
		return nil, err
	}
	customers := make([]Customer, len(out.Result))
	for i, w := range out.Result {
		customers[i] = w.customer()
	}
	return customers, nil
}

// AssignKeysets adds keysets to a customer (POST /oem/customers/{id}/keysets)
// and returns the customer afterwards. The call is all or nothing upstream.
// A keyset already assigned (to any customer, this one included), an unknown
// keyset or more than 5 in total is refused, so read the customer first and
// send only the keysets it lacks.
func (c *Client) AssignKeysets(ctx context.Context, customerID string, keysetIDs []string) (*Customer, error) {
	const op = "assign keysets"
	seg, err := pathSegment(op, "customer id", customerID)
	if err != nil {
		return nil, err
	}
	if len(keysetIDs) == 0 {
		return nil, fmt.Errorf("pubnub: %s: no keyset ids: %w", op, ErrInvalidArgument)
	}
	ids, err := numericIDs(op, keysetIDs)
	if err != nil {
		return nil, err
	}
	in := map[string][]int64{"keysetIds": ids}
	var out struct {
		Result customerJSON `json:"result"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/oem/customers/" + seg + "/keysets", body: in}, &out); err != nil {
		return nil, err
	}
	cust := out.Result.customer()
	return &cust, nil
}

// UpdateCustomer renames a customer (PUT /oem/customers/{id}; the name is a
// display name, the externalId cannot change) and returns it afterwards
// with its keysets; IsNotFound reports a missing one.
func (c *Client) UpdateCustomer(ctx context.Context, id, name string) (*Customer, error) {
	const op = "update customer"
	seg, err := pathSegment(op, "customer id", id)
	if err != nil {
		return nil, err
	}
	var out struct {
		Result customerJSON `json:"result"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodPut, path: "/oem/customers/" + seg, body: map[string]string{"name": name}}, &out); err != nil {
		return nil, err
	}
	cust := out.Result.customer()
	return &cust, nil
}

// DeleteCustomer deletes a customer and all its keyset assignments (DELETE
// /oem/customers/{id}); the keysets stay in the account and the externalId
// becomes free. It cannot be undone. The endpoint needs a newer
// PubNub-Version than the other OEM calls, so this call sends
// DeleteCustomerVersion when the client's version is older. IsNotFound
// reports a customer that does not exist.
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	const op = "delete customer"
	seg, err := pathSegment(op, "customer id", id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: "/oem/customers/" + seg, version: max(c.version, DeleteCustomerVersion)}, nil)
}

// ListCustomerKeysets returns the keysets assigned to a customer, with when
// each was assigned (GET /oem/keysets?customerId=&appId=, unpaginated);
// appID, when not "", keeps those in that app. IsNotFound reports an
// unknown customer ([U] upstream; the sandbox answers 404).
func (c *Client) ListCustomerKeysets(ctx context.Context, customerID, appID string) ([]CustomerKeyset, error) {
	const op = "list customer keysets"
	if customerID == "" {
		return nil, fmt.Errorf("pubnub: %s: customer id %q: %w", op, customerID, ErrInvalidArgument)
	}
	q := url.Values{"customerId": {customerID}}
	if appID != "" {
		if _, err := numericID(op, "app id", appID); err != nil {
			return nil, err
		}
		q.Set("appId", appID)
	}
	var out struct {
		Result []struct {
			ID         flexID   `json:"id"`
			AssignedAt flexTime `json:"assignedAt"`
		} `json:"result"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/oem/keysets", query: q}, &out); err != nil {
		return nil, err
	}
	keysets := make([]CustomerKeyset, len(out.Result))
	for i, k := range out.Result {
		keysets[i] = CustomerKeyset{ID: string(k.ID), AssignedAt: k.AssignedAt.time()}
	}
	return keysets, nil
}

func numericIDs(op string, ids []string) ([]int64, error) {
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		n, err := numericID(op, "keyset id", id)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
