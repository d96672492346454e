package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Service Integration permissions.
//
// PubNub grants an API key permission rows, each a Level (Account, App or
// Keyset), a resource (App, Keyset, Secret key, Usage & Monitoring, OEM
// Customer) and an access option (Read, Write or Read & write, "availability
// depends on the resource"); rows are fixed when the Service Integration is
// made. The sandbox models the rows and refuses a request whose row is
// missing with 403 and PubNub's error body, one message per missing row:
//
//	{"statusCode":403,"error":"Forbidden","message":["Service Integration lacks permission account:oem-customer:rw"]}
//
// A row is written level:resource:access:
//
//	level     account | app/<appId> | keyset/<keysetId>
//	resource  app | keyset | secret-key | usage | oem-customer
//	access    r | rw
//
// An account row covers every app and keyset; an app row covers that app and
// its keysets; a keyset row covers that keyset. rw includes r. The 403 names
// the account-level row, which always suffices; an app or keyset row for the
// target would do too.
//
// The rows each endpoint needs (RequiredPermissions gives them in code):
//
//	POST   /v2/apps                          account:app:rw
//	GET    /v2/apps                          account:app:r
//	GET    /v2/apps/{id}                     app:r         (account or that app)
//	PATCH  /v2/apps/{id}                     app:rw        (account or that app)
//	POST   /v2/keysets                       keyset:rw and secret-key:r (account or the body's app)
//	GET    /v2/keysets                       account:keyset:r
//	GET    /v2/keysets/{id}[/config]         keyset:r      (account, its app or it)
//	PATCH  /v2/keysets/{id}[/config]         keyset:rw     (account, its app or it)
//	DELETE /v2/keysets/{id}                  keyset:rw     (account, its app or it)
//	GET    /v2/keysets/{id}/secret-keys      secret-key:r  (account, its app or it)
//	POST   /v2/keysets/{id}/secret-keys      secret-key:rw (account, its app or it)
//	GET    /v2/oem/...                       account:oem-customer:r
//	POST, PUT, DELETE /v2/oem/...            account:oem-customer:rw
//	GET    /v2/usage-metrics                 usage:r       (account; or the app or keyset for entityType app, keyset)
//
// [C] Creating a keyset "requires both keyset:write and keyset-secret:read
// permissions on the app" (docs), hence two rows. [U] The rest is the
// strictest plausible reading: lists need an account row (no filtering by
// what app rows allow); OEM rows exist at account level only, since OEM
// customers belong to the account; usage has no write (usage:rw is
// refused); a Write-only option is not modelled (only r and rw are
// accepted). The default, nil Opts.Permissions, is full access
// (FullAccess).

// Resource is the resource of a permission row.
type Resource string

// The resources PubNub lists for Service Integration permissions.
const (
	ResourceApp         Resource = "app"
	ResourceKeyset      Resource = "keyset"
	ResourceSecretKey   Resource = "secret-key"
	ResourceUsage       Resource = "usage" // "Usage & Monitoring"
	ResourceOEMCustomer Resource = "oem-customer"
)

// Access is the access option of a permission row.
type Access string

// The access options. AccessReadWrite includes AccessRead.
const (
	AccessRead      Access = "r"
	AccessReadWrite Access = "rw"
)

// Permission levels.
const (
	LevelAccount = "account"
	LevelApp     = "app"
	LevelKeyset  = "keyset"
)

// Permission is one Service Integration permission row.
type Permission struct {
	// Level is LevelAccount, LevelApp or LevelKeyset.
	Level string
	// LevelID is the app's or keyset's ID at those levels, "" at account
	// level.
	LevelID  string
	Resource Resource
	Access   Access
}

// String writes the row as ParsePermissions reads it, for example
// "account:keyset:rw" or "app/1000001:keyset:r".
func (p Permission) String() string {
	level := p.Level
	if p.LevelID != "" {
		level += "/" + p.LevelID
	}
	return level + ":" + string(p.Resource) + ":" + string(p.Access)
}

// FullAccess returns the rows of a Service Integration that may do
// everything the sandbox serves: every resource at account level, read and
// write (usage, read only).
func FullAccess() []Permission {
	return []Permission{
		{Level: LevelAccount, Resource: ResourceApp, Access: AccessReadWrite},
		{Level: LevelAccount, Resource: ResourceKeyset, Access: AccessReadWrite},
		{Level: LevelAccount, Resource: ResourceSecretKey, Access: AccessReadWrite},
		{Level: LevelAccount, Resource: ResourceUsage, Access: AccessRead},
		{Level: LevelAccount, Resource: ResourceOEMCustomer, Access: AccessReadWrite},
	}
}

// ParsePermissions parses comma-separated rows, as PNONBOARD_SANDBOX_PERMISSIONS
// holds them, e.g.
// "account:app:rw,account:keyset:rw,account:secret-key:rw,account:oem-customer:rw".
// An empty string gives nil (full access, the default); "none" gives an
// empty, non-nil list (every request is refused with 403). It returns an
// error naming the first bad row: an unknown level, resource or access, a
// non-numeric app or keyset ID, an OEM row below account level, an app row
// at keyset level, or usage with rw.
func ParsePermissions(s string) ([]Permission, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.TrimSpace(s) == "none" {
		return []Permission{}, nil
	}
	var out []Permission
	for raw := range strings.SplitSeq(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		p, err := parsePermission(raw)
		if err != nil {
			return nil, fmt.Errorf("parse permissions %q: %w", s, err)
		}
		out = append(out, p)
	}
	if out == nil {
		return []Permission{}, nil
	}
	return out, nil
}

func parsePermission(raw string) (Permission, error) {
	parts := strings.Split(raw, ":")
	if len(parts) != 3 {
		return Permission{}, fmt.Errorf("%q is not level:resource:access", raw)
	}
	var p Permission
	level, id, hasID := strings.Cut(parts[0], "/")
	switch {
	case level == LevelAccount && !hasID:
	case (level == LevelApp || level == LevelKeyset) && hasID:
		n, ok := parseNumericID(id)
		if !ok {
			return Permission{}, fmt.Errorf("%q: %s ID %q is not numeric", raw, level, id)
		}
		p.LevelID = n
	default:
		return Permission{}, fmt.Errorf("%q: level must be account, app/<appId> or keyset/<keysetId>", raw)
	}
	p.Level = level
	p.Resource = Resource(parts[1])
	switch p.Resource {
	case ResourceApp, ResourceKeyset, ResourceSecretKey, ResourceUsage, ResourceOEMCustomer:
	default:
		return Permission{}, fmt.Errorf("%q: resource must be app, keyset, secret-key, usage or oem-customer", raw)
	}
	p.Access = Access(parts[2])
	if p.Access != AccessRead && p.Access != AccessReadWrite {
		return Permission{}, fmt.Errorf("%q: access must be r or rw", raw)
	}
	switch {
	case p.Resource == ResourceOEMCustomer && p.Level != LevelAccount:
		return Permission{}, fmt.Errorf("%q: oem-customer rows exist at account level only", raw)
	case p.Resource == ResourceApp && p.Level == LevelKeyset:
		return Permission{}, fmt.Errorf("%q: app rows exist at account and app level only", raw)
	case p.Resource == ResourceUsage && p.Access == AccessReadWrite:
		return Permission{}, fmt.Errorf("%q: usage is read only (usage:r)", raw)
	}
	return p, nil
}

// scope says which IDs a request's permission may be granted for.
type scope int

const (
	scopeAccount   scope = iota // account rows only
	scopeAppPath                // the app in path parameter "id"
	scopeAppBody                // the app in the body's keyset.appId (create keyset)
	scopeKeysetID               // the keyset in path parameter "id", and its app
	scopeKeysetKey              // the keyset in path parameter "keysetId", and its app
	scopeUsage                  // the entity of entityType/entityId
)

// need is one permission a request needs.
type need struct {
	resource Resource
	access   Access
	scope    scope
}

// needs returns the permissions a request of op needs.
func needs(op Operation) []need {
	n := func(res Resource, acc Access, sc scope) []need { return []need{{res, acc, sc}} }
	switch op {
	case OpCreateApp:
		return n(ResourceApp, AccessReadWrite, scopeAccount)
	case OpListApps:
		return n(ResourceApp, AccessRead, scopeAccount)
	case OpGetApp:
		return n(ResourceApp, AccessRead, scopeAppPath)
	case OpUpdateApp:
		return n(ResourceApp, AccessReadWrite, scopeAppPath)
	case OpCreateKeyset:
		return []need{{ResourceKeyset, AccessReadWrite, scopeAppBody}, {ResourceSecretKey, AccessRead, scopeAppBody}}
	case OpListKeysets:
		return n(ResourceKeyset, AccessRead, scopeAccount)
	case OpGetKeyset, OpGetKeysetConfig:
		return n(ResourceKeyset, AccessRead, scopeKeysetID)
	case OpUpdateKeyset, OpDeleteKeyset, OpUpdateKeysetConfig:
		return n(ResourceKeyset, AccessReadWrite, scopeKeysetID)
	case OpListSecretKeys:
		return n(ResourceSecretKey, AccessRead, scopeKeysetKey)
	case OpRotateSecretKey:
		return n(ResourceSecretKey, AccessReadWrite, scopeKeysetKey)
	case OpListCustomers, OpGetCustomer, OpListCustomerKeysets:
		return n(ResourceOEMCustomer, AccessRead, scopeAccount)
	case OpCreateCustomer, OpUpdateCustomer, OpDeleteCustomer, OpAssignKeysets:
		return n(ResourceOEMCustomer, AccessReadWrite, scopeAccount)
	case OpGetUsageMetrics:
		return n(ResourceUsage, AccessRead, scopeUsage)
	}
	return nil
}

// RequiredPermissions returns the account-level rows a request of op needs
// (an app- or keyset-level row for the request's target would also do), or
// nil for an unknown operation.
func RequiredPermissions(op Operation) []Permission {
	var out []Permission
	for _, nd := range needs(op) {
		out = append(out, Permission{Level: LevelAccount, Resource: nd.resource, Access: nd.access})
	}
	return out
}

// permissions holds the granted rows; nil means full access.
type permissions struct {
	mu   sync.Mutex
	rows []Permission
}

// SetPermissions replaces the granted rows (nil: full access), as if the
// sandbox's API key now belonged to another Service Integration. Requests
// already past the check are not affected.
func (s *Sandbox) SetPermissions(rows []Permission) {
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	s.perms.rows = slices.Clone(rows)
	if rows != nil && s.perms.rows == nil {
		s.perms.rows = []Permission{}
	}
}

// checkPermissions refuses r with 403 when a row op needs is missing.
func (s *Sandbox) checkPermissions(r *http.Request, op Operation) (result, bool) {
	s.perms.mu.Lock()
	rows := s.perms.rows
	s.perms.mu.Unlock()
	if rows == nil {
		return result{}, true
	}
	var missing []string
	for _, nd := range needs(op) {
		appID, keysetID := s.target(r, nd.scope)
		if !granted(rows, nd, appID, keysetID) {
			missing = append(missing, "Service Integration lacks permission "+Permission{Level: LevelAccount, Resource: nd.resource, Access: nd.access}.String())
		}
	}
	if missing != nil {
		return errorResult(http.StatusForbidden, missing...), false
	}
	return result{}, true
}

// granted reports whether a row grants nd for the target app and keyset.
func granted(rows []Permission, nd need, appID, keysetID string) bool {
	for _, p := range rows {
		if p.Resource != nd.resource || nd.access == AccessReadWrite && p.Access != AccessReadWrite {
			continue
		}
		switch {
		case p.Level == LevelAccount,
			p.Level == LevelApp && appID != "" && p.LevelID == appID,
			p.Level == LevelKeyset && keysetID != "" && p.LevelID == keysetID:
			return true
		}
	}
	return false
}

// target returns the app and keyset a request addresses, for app- and
// keyset-level rows ("" where none applies or the resource is unknown).
func (s *Sandbox) target(r *http.Request, sc scope) (appID, keysetID string) {
	keysetApp := func(id string) (string, string) {
		id, ok := parseNumericID(id)
		if !ok {
			return "", ""
		}
		st := s.store
		st.mu.Lock()
		defer st.mu.Unlock()
		if k, found := st.keysets[id]; found {
			return k.AppID, id
		}
		return "", ""
	}
	switch sc {
	case scopeAppPath:
		appID, _ = parseNumericID(r.PathValue("id"))
	case scopeAppBody:
		appID = peekAppID(r)
	case scopeKeysetID:
		return keysetApp(r.PathValue("id"))
	case scopeKeysetKey:
		return keysetApp(r.PathValue("keysetId"))
	case scopeUsage:
		q := r.URL.Query()
		switch q.Get("entityType") {
		case "app":
			appID, _ = parseNumericID(q.Get("entityId"))
		case "keyset":
			return keysetApp(q.Get("entityId"))
		}
	}
	return appID, ""
}

// peekAppID reads keyset.appId from a create-keyset body and puts the body
// back for the endpoint.
func peekAppID(r *http.Request) string {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	var in struct {
		Keyset struct {
			AppID string `json:"appId"`
		} `json:"keyset"`
	}
	if json.Unmarshal(raw, &in) != nil {
		return ""
	}
	id, _ := parseNumericID(in.Keyset.AppID)
	return id
}
