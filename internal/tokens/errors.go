package tokens

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
)

// Errors returned by Service, besides tenants.ErrNotFound, *tenants.StateError (a grant for a
// tenant that is not active) and *accessmanager.ValidationError (a grant request PubNub would
// refuse). The API maps each to a problem (internal/api's error table); the errors that name
// fields (*EnvironmentError, *accessmanager.ValidationError) implement invalid.Fielder.
var (
	// ErrTokenNotFound means the tenant has no token pnonboard issued with this ID or value (or
	// it expired and was pruned).
	ErrTokenNotFound = errors.New("token not found")
	// ErrAccessManagerOff means the environment's keyset has Access Manager off, so its clients
	// need no token; the error is an *AccessManagerOffError.
	ErrAccessManagerOff = errors.New("access manager is off")
	// ErrNotRevocable means PubNub cannot revoke the token; the error is a *NotRevocableError.
	ErrNotRevocable = errors.New("token cannot be revoked")
	// ErrUpstream means Access Manager refused the call or did not answer; the error is an
	// *UpstreamError.
	ErrUpstream = errors.New("access manager call failed")
)

// EnvironmentError is a grant naming an environment the tenant does not have.
type EnvironmentError struct {
	Environment string
	Known       []string // the tenant's environments
}

func (e *EnvironmentError) Error() string {
	return fmt.Sprintf("the tenant has no environment %q (it has %s)", e.Environment, strings.Join(e.Known, ", "))
}

// FieldErrors names the field at fault (internal/invalid's Fielder): the API answers a 422.
func (e *EnvironmentError) FieldErrors() map[string]string {
	return map[string]string{"environment": fmt.Sprintf("the tenant has no environment %q; it has %s", e.Environment, strings.Join(e.Known, ", "))}
}

// AccessManagerOffError is ErrAccessManagerOff for one environment.
type AccessManagerOffError struct{ Environment string }

func (e *AccessManagerOffError) Error() string {
	return fmt.Sprintf("the %s keyset has Access Manager off: its clients need no token", e.Environment)
}

// Is makes errors.Is(err, ErrAccessManagerOff) true.
func (e *AccessManagerOffError) Is(target error) bool { return target == ErrAccessManagerOff }

// The reasons a token cannot be revoked.
const (
	ReasonTokenRevokeOff = "token_revoke_off" // the keyset has accessManager.tokenRevoke off
	ReasonTTLTooLong     = "ttl_too_long"     // PubNub revokes only tokens of at most 30 days
)

// NotRevocableError is ErrNotRevocable with the reason.
type NotRevocableError struct {
	Reason      string // ReasonTokenRevokeOff or ReasonTTLTooLong
	Environment string
	TTL         int // minutes
}

func (e *NotRevocableError) Error() string {
	if e.Reason == ReasonTTLTooLong {
		return fmt.Sprintf("PubNub revokes only tokens with a TTL of at most %d minutes (30 days); this one has %d", accessmanager.MaxRevocableTTL, e.TTL)
	}
	return fmt.Sprintf("the %s keyset has token revoke (accessManager.tokenRevoke) off, so PubNub cannot revoke its tokens; they end at their expiry", e.Environment)
}

// Is makes errors.Is(err, ErrNotRevocable) true.
func (e *NotRevocableError) Is(target error) bool { return target == ErrNotRevocable }

// UpstreamError is ErrUpstream: what Access Manager answered (Err is an *accessmanager.Error)
// or why no answer came (an *accessmanager.TransportError), after the retries allowed.
type UpstreamError struct {
	Op       string // "grant" or "revoke"
	Attempts int
	Err      error
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("access manager %s (%d attempts): %v", e.Op, e.Attempts, e.Err)
}

// Unwrap returns the accessmanager error.
func (e *UpstreamError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUpstream) true.
func (e *UpstreamError) Is(target error) bool { return target == ErrUpstream }

// Status is the HTTP status Access Manager answered, or 0 when no answer came.
func (e *UpstreamError) Status() int {
	var apiErr *accessmanager.Error
	if errors.As(e.Err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// Refused reports whether Access Manager answered with a 4xx other than 408 and 429: a
// refusal that retrying cannot change.
func (e *UpstreamError) Refused() bool { return accessmanager.IsPermanent(e.Err) }

// Message is Access Manager's own message and details, for the caller: PubNub's words, never a
// key or a token (the accessmanager errors hold neither). "" when no answer came.
func (e *UpstreamError) Message() string {
	var apiErr *accessmanager.Error
	if !errors.As(e.Err, &apiErr) {
		return ""
	}
	msg := apiErr.Message
	if msg == "" {
		msg = http.StatusText(apiErr.StatusCode)
	}
	var details []string
	for _, d := range apiErr.Details {
		if d.Message != "" {
			details = append(details, d.Message)
		}
	}
	if len(details) > 0 {
		msg += ": " + strings.Join(details, " ")
	}
	return msg
}

// Fields are the request fields Access Manager named in a 400, in this API's names
// ("ttl", "channels.room-1", "patterns.channelGroups.^a$", "meta.plan", "authorizedUserId"),
// each with PubNub's message. Locations outside the body keep PubNub's name.
func (e *UpstreamError) Fields() map[string]string {
	var apiErr *accessmanager.Error
	if !errors.As(e.Err, &apiErr) {
		return nil
	}
	out := map[string]string{}
	for _, d := range apiErr.Details {
		field := d.Location
		if d.LocationType == "body" || d.LocationType == "" {
			field = apiField(d.Location)
		}
		if field == "" {
			field = "body"
		}
		if _, ok := out[field]; !ok {
			out[field] = d.Message
		}
	}
	return out
}

// apiField translates an Access Manager body location ("permissions.resources.groups.g1") into
// the name of the field in pnonboard's grant body ("channelGroups.g1").
func apiField(location string) string {
	rest, ok := strings.CutPrefix(location, "permissions.")
	if !ok {
		return location // "ttl", "<root>"
	}
	types := map[string]string{"channels": "channels", "groups": "channelGroups", "uuids": "userIds", "users": "users", "spaces": "spaces"}
	section, rest, _ := strings.Cut(rest, ".")
	switch section {
	case "uuid":
		return "authorizedUserId"
	case "meta":
		if rest == "" {
			return "meta"
		}
		return "meta." + rest
	case "resources", "patterns":
		typ, name, _ := strings.Cut(rest, ".")
		if t, ok := types[typ]; ok {
			typ = t
		}
		field := typ
		if name != "" {
			field += "." + name
		}
		if section == "patterns" {
			return "patterns." + field
		}
		if field == "" {
			return "resources"
		}
		return field
	}
	return location
}
