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
)

// Minimum PubNub-Version dates. The header must be a valid YYYY-MM-DD date
// no older than the minimum of the endpoint's group, else 400.
//
// [U] How PubNub treats an arbitrary date is unknown. The sandbox takes the
// strictest plausible reading: a date older than the first doc set that
// documents an endpoint is refused with a 400 that names the minimum, and any
// valid later date is served (like "latest version on or before the date").
const (
	// MinCoreVersion is the oldest version served by the apps, keysets,
	// keyset config and usage endpoints: they are documented from 2025-11-15
	// (a 2025-11-01 doc set exists for one page only, so it is not honoured).
	MinCoreVersion = "2025-11-15"
	// MinOEMVersion is the oldest version served by the OEM customer and the
	// secret-key endpoints: no doc set before 2026-02-09 contains them.
	MinOEMVersion = "2026-02-09"
)
