package sandbox

// Operation names one Admin API endpoint. Calls are recorded with it and
// scripted faults target it, so tests can say "fail the CreateKeyset step"
// without caring about paths.
type Operation string

// The operations the sandbox serves, one per endpoint, plus OpUnknown for
// requests that match no endpoint and OpAny for faults that hit whatever
// request comes next.
const (
	OpUnknown            Operation = "Unknown"            // any request that matches no endpoint (answered 404)
	OpAny                Operation = "Any"                // InjectFault only: the next request of any operation
	OpCreateApp          Operation = "CreateApp"          // POST /v2/apps
	OpListApps           Operation = "ListApps"           // GET /v2/apps
	OpGetApp             Operation = "GetApp"             // GET /v2/apps/{id}
	OpCreateKeyset       Operation = "CreateKeyset"       // POST /v2/keysets
	OpListKeysets        Operation = "ListKeysets"        // GET /v2/keysets
	OpGetKeyset          Operation = "GetKeyset"          // GET /v2/keysets/{id}
	OpGetKeysetConfig    Operation = "GetKeysetConfig"    // GET /v2/keysets/{id}/config
	OpUpdateKeysetConfig Operation = "UpdateKeysetConfig" // PATCH /v2/keysets/{id}/config
	OpListSecretKeys     Operation = "ListSecretKeys"     // GET /v2/keysets/{keysetId}/secret-keys
	OpRotateSecretKey    Operation = "RotateSecretKey"    // POST /v2/keysets/{keysetId}/secret-keys
	OpCreateCustomer     Operation = "CreateCustomer"     // POST /v2/oem/customers
	OpListCustomers      Operation = "ListCustomers"      // GET /v2/oem/customers
	OpGetCustomer        Operation = "GetCustomer"        // GET /v2/oem/customers/{customerId}
	OpAssignKeysets      Operation = "AssignKeysets"      // POST /v2/oem/customers/{customerId}/keysets
	OpGetUsageMetrics    Operation = "GetUsageMetrics"    // GET /v2/usage-metrics

	OpUpdateApp           Operation = "UpdateApp"           // PATCH /v2/apps/{id}
	OpUpdateKeyset        Operation = "UpdateKeyset"        // PATCH /v2/keysets/{id}
	OpDeleteKeyset        Operation = "DeleteKeyset"        // DELETE /v2/keysets/{id}
	OpUpdateCustomer      Operation = "UpdateCustomer"      // PUT /v2/oem/customers/{customerId}
	OpDeleteCustomer      Operation = "DeleteCustomer"      // DELETE /v2/oem/customers/{customerId}
	OpListCustomerKeysets Operation = "ListCustomerKeysets" // GET /v2/oem/keysets?customerId=&appId=
)

// Minimum PubNub-Version dates. The header must be a valid YYYY-MM-DD date
// no older than the minimum of the endpoint, else 400 naming the minimum.
// Any valid later date is served, including dates between doc sets (PubNub's
// MCP server sends 2026-03-23, which names no doc set).
//
// [U] How PubNub treats an arbitrary date is unknown. The sandbox reads each
// date as "the latest doc set on or before it" and takes the strictest
// plausible minimum: the oldest doc set known to document the endpoint,
// nothing older (docs/pubnub.md, "Doc sets per endpoint group").
const (
	// MinSecretKeyVersion is the oldest version served by the secret-key
	// endpoints (list, rotate): their pages exist from the 2025-11-01 doc
	// set.
	MinSecretKeyVersion = "2025-11-01"
	// MinListKeysetsVersion is the oldest version served by GET /v2/keysets:
	// the list-keysets page is in the 2025-11-01 doc set.
	MinListKeysetsVersion = "2025-11-01"
	// MinCoreVersion is the oldest version served by the other apps and
	// keysets endpoints, keyset config and usage metrics: their pages are
	// known from the 2025-11-15 doc set only, so 2025-11-01 is refused for
	// them.
	MinCoreVersion = "2025-11-15"
	// MinOEMVersion is the oldest version served by the OEM customer
	// endpoints: no doc set before 2026-02-09 contains them.
	MinOEMVersion = "2026-02-09"
	// MinDeleteCustomerVersion is the oldest version served by DELETE
	// /v2/oem/customers/{customerId}. [U] The endpoint is in the latest,
	// unversioned docs only, absent from the 2026-02-09 and 2026-03-01 sets;
	// of the later sets seen (2026-05-26, 2026-09-03) the sandbox requires
	// the newest, the strictest plausible choice.
	MinDeleteCustomerVersion = "2026-09-03"
)
