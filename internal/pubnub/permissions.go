package pubnub

// Service Integration permission resources, as PubNub names them in a key's
// permission rows (level:resource:access; docs/pubnub.md). A call whose row
// the key lacks is refused with 403.
const (
	ResourceApp         = "app"
	ResourceKeyset      = "keyset"
	ResourceSecretKey   = "secret-key"
	ResourceUsage       = "usage"
	ResourceOEMCustomer = "oem-customer"
)

// PermissionResources returns the permission resources the failed call
// needed, so that a 403 can name the rows to add: creating a keyset needs
// keyset and secret-key ("keyset:write and keyset-secret:read on the app",
// confirmed); every other call needs the resource it addresses (assumed, as
// the sandbox's table in internal/pubnub/sandbox/permissions.go has it).
// It returns nil for an operation it does not know.
func (e *Error) PermissionResources() []string {
	switch e.Op {
	case "create app", "get app", "update app", "list apps":
		return []string{ResourceApp}
	case "create keyset":
		return []string{ResourceKeyset, ResourceSecretKey}
	case "get keyset", "update keyset", "delete keyset", "list keysets", "get keyset config", "update keyset config":
		return []string{ResourceKeyset}
	case "list secret keys", "rotate secret key":
		return []string{ResourceSecretKey}
	case "create customer", "get customer", "list customers", "assign keysets", "update customer",
		"delete customer", "list customer keysets":
		return []string{ResourceOEMCustomer}
	case "get usage metrics":
		return []string{ResourceUsage}
	}
	return nil
}
