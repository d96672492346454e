// Package auth issues and checks pnonboard's API keys. Keys are modelled on PubNub's own
// service-integration keys: random, shown once, stored only as a SHA-256 hash with a short
// visible prefix, scoped to least privilege, expiring within a year, and revocable.
package auth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Scope is one permission a key can carry. Scopes do not imply each other: admin grants key
// management and the job UI, nothing else; and a key grants other keys only the scopes it
// holds (CreateParams.GrantedBy), so admin alone cannot mint, say, credentials:read.
type Scope string

// The scopes; docs/ARCHITECTURE.md (section 10, Auth and input) and README (API keys) say
// what each grants.
const (
	ScopeTenantsRead    Scope = "tenants:read"
	ScopeTenantsWrite   Scope = "tenants:write"
	ScopeTenantsDisable Scope = "tenants:disable"
	// ScopeTokensWrite grants and revokes Access Manager tokens for tenants: all a partner
	// backend's end-user login path needs.
	ScopeTokensWrite     Scope = "tokens:write"
	ScopeCredentialsRead Scope = "credentials:read"
	ScopeWebhooksRead    Scope = "webhooks:read"
	ScopeWebhooksWrite   Scope = "webhooks:write"
	ScopeUsageRead       Scope = "usage:read"
	ScopeAdmin           Scope = "admin"
)

// AllScopes lists every scope, in a stable order.
func AllScopes() []Scope {
	return []Scope{ScopeTenantsRead, ScopeTenantsWrite, ScopeTenantsDisable, ScopeTokensWrite, ScopeCredentialsRead,
		ScopeWebhooksRead, ScopeWebhooksWrite, ScopeUsageRead, ScopeAdmin}
}

// ParseScopes validates names (exactly as AllScopes spells them), drops duplicates and
// returns them in AllScopes order. It rejects an empty list and names every unknown scope.
func ParseScopes(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("at least one scope is required (one of %s)", scopeList())
	}
	var unknown []string
	seen := map[Scope]bool{}
	for _, n := range names {
		s := Scope(n)
		if !slices.Contains(AllScopes(), s) {
			unknown = append(unknown, strconv.QuoteToASCII(n))
			continue
		}
		seen[s] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown scope %s (want %s)", strings.Join(unknown, ", "), scopeList())
	}
	var out []Scope
	for _, s := range AllScopes() {
		if seen[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

func scopeList() string {
	names := make([]string, 0, len(AllScopes()))
	for _, s := range AllScopes() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
