package accessmanager

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// Permissions is a set of Access Manager permission bits, as a grant body
// and a token carry them: the OR of the constants below.
type Permissions uint64

// The permission bits, in PubNub's numbering.
const (
	Read   Permissions = 1 << iota // 1
	Write                          // 2
	Manage                         // 4
	Delete                         // 8
	Create                         // 16
	Get                            // 32
	Update                         // 64
	Join                           // 128
)

// permissionWords names the bits, in bit order.
func permissionWords() []string {
	return []string{"read", "write", "manage", "delete", "create", "get", "update", "join"}
}

// Words returns the names of the known bits set in p, in bit order
// ("read", "write", …). Bits above Join have no name and are left out; the
// numeric value keeps them.
func (p Permissions) Words() []string {
	words := []string{}
	for i, w := range permissionWords() {
		if p&(1<<i) != 0 {
			words = append(words, w)
		}
	}
	return words
}

// String is the words joined by commas, or "none".
func (p Permissions) String() string {
	if w := p.Words(); len(w) > 0 {
		return strings.Join(w, ",")
	}
	return "none"
}

// ResourceType is a kind of resource a grant names.
type ResourceType int

// The resource types a grant can name.
const (
	Channels ResourceType = iota + 1 // channels (JSON "channels")
	Groups                           // channel groups (JSON "channelGroups")
	UUIDs                            // user IDs, PubNub's uuids (JSON "userIds")
)

// String is the API's JSON name of the type: "channels", "channelGroups" or
// "userIds". Validation errors name fields with it.
func (t ResourceType) String() string {
	switch t {
	case Channels:
		return "channels"
	case Groups:
		return "channelGroups"
	case UUIDs:
		return "userIds"
	}
	return fmt.Sprintf("ResourceType(%d)", int(t))
}

// Allowed returns the permissions PubNub accepts for the type: channels
// read, write, manage, delete, get, update and join; channel groups read and
// manage; user IDs get, update and delete. Nothing for an unknown type.
func (t ResourceType) Allowed() Permissions {
	switch t {
	case Channels:
		return Read | Write | Manage | Delete | Get | Update | Join
	case Groups:
		return Read | Manage
	case UUIDs:
		return Get | Update | Delete
	}
	return 0
}

// ParsePermissions turns permission words into bits for a resource of type
// t. It refuses an empty list, an unknown word and a word the type does not
// allow (see Allowed), with a message that names the word; repeating a word
// is harmless. Wrap the error in a FieldError naming the field.
func ParsePermissions(t ResourceType, words []string) (Permissions, error) {
	if len(words) == 0 {
		return 0, errors.New("needs at least one permission")
	}
	var p Permissions
	for _, w := range words {
		i := slices.Index(permissionWords(), w)
		if i < 0 || t.Allowed()&(1<<i) == 0 {
			return 0, fmt.Errorf("%q is not a permission for %s; use %s", w, t, strings.Join(t.Allowed().Words(), ", "))
		}
		p |= 1 << i
	}
	return p, nil
}

// Grant limits.
const (
	// MinTTL and MaxTTL bound a grant's TTL in minutes: PubNub refuses
	// anything outside 1 to 43,200 (30 days).
	MinTTL, MaxTTL = 1, 43_200
	// MaxRevocableTTL is the longest TTL, in minutes, whose tokens PubNub can
	// revoke: 30 days.
	MaxRevocableTTL = 43_200
)

// ErrInvalidArgument is wrapped by every error about input the client
// refuses before sending anything (a *ValidationError, empty keys or token).
// Such errors are permanent.
var ErrInvalidArgument = errors.New("invalid argument")

// FieldError is one invalid field of a grant request. Field uses the API's
// JSON names: "ttl", "meta.<key>", "<type>.<name>" for a resource and
// "patterns.<type>.<pattern>" for a pattern, with <type> one of channels,
// channelGroups and userIds and the name or pattern verbatim; "resources"
// when there is none at all.
type FieldError struct {
	Field   string
	Message string
}

// Error is "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every invalid field of a grant request, sorted by
// field. It matches ErrInvalidArgument with errors.Is.
type ValidationError struct {
	Fields []FieldError
}

// Error joins the field errors.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "accessmanager: invalid grant request: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalidArgument) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidArgument }

// FieldErrors returns field → message, the first message of each field
// (internal/invalid's Fielder, which the API answers with a 422).
func (e *ValidationError) FieldErrors() map[string]string {
	out := make(map[string]string, len(e.Fields))
	for _, f := range e.Fields {
		if _, ok := out[f.Field]; !ok {
			out[f.Field] = f.Message
		}
	}
	return out
}

// ValidTTL reports a TTL outside MinTTL..MaxTTL minutes (the range PubNub
// accepts) as a *FieldError on "ttl"; nil when valid.
func ValidTTL(ttl int) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return &FieldError{Field: "ttl", Message: fmt.Sprintf("must be from %d to %d minutes (30 days), got %d", MinTTL, MaxTTL, ttl)}
	}
	return nil
}

// ValidPattern reports a pattern that does not compile as an RE2 regular
// expression (PubNub evaluates patterns as RE2); the message is the
// compiler's. nil when valid.
func ValidPattern(pattern string) error {
	if pattern == "" {
		return errors.New("must not be empty")
	}
	if _, err := regexp.Compile(pattern); err != nil {
		var syn *syntax.Error
		if errors.As(err, &syn) {
			return fmt.Errorf("is not an RE2 regular expression: %s: `%s`", syn.Code, syn.Expr)
		}
		return errors.New("is not an RE2 regular expression")
	}
	return nil
}

// ValidMetaValue reports a meta value that is not a scalar: PubNub accepts a
// string, a number (any Go integer or float type, or json.Number) or a bool.
// null, objects, arrays and non-finite floats are refused. nil when valid.
func ValidMetaValue(v any) error {
	switch v := v.(type) {
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return nil
	case float32:
		return finite(float64(v))
	case float64:
		return finite(v)
	case json.Number:
		if _, err := v.Float64(); err != nil {
			return fmt.Errorf("%q is not a number", v.String())
		}
		return nil
	case nil:
		return errors.New("must be a string, number or boolean, not null")
	}
	return errors.New("must be a string, number or boolean (meta holds scalars only)")
}

func finite(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("must be a finite number")
	}
	return nil
}

// GrantRequest is what a token grants.
type GrantRequest struct {
	// TTL is the token's lifetime in minutes, MinTTL to MaxTTL.
	TTL int
	// AuthorizedUserID is the only user ID (PubNub uuid) that may use the
	// token. Optional but recommended: without it any client holding the
	// token may use it.
	AuthorizedUserID string
	// Resources grants permissions on named channels, groups and user IDs.
	Resources Resources
	// Patterns grants permissions on every name that matches an RE2 pattern.
	Patterns Resources
	// Meta is extra data carried in the token, scalar values only.
	Meta map[string]any
}

// Validate returns every problem of r, sorted by field, or nil: the TTL
// (ValidTTL), at least one resource or pattern, non-empty names, permission
// bits that are non-zero and allowed for their type (ResourceType.Allowed),
// patterns that compile as RE2 (ValidPattern), and scalar meta values
// (ValidMetaValue). Grant runs it before sending anything.
func (r GrantRequest) Validate() []FieldError {
	var errs []FieldError
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, FieldError{Field: field, Message: err.Error()})
		}
	}
	if err := ValidTTL(r.TTL); err != nil {
		errs = append(errs, *err.(*FieldError))
	}
	if r.Resources.empty() && r.Patterns.empty() {
		add("resources", errors.New("grant at least one channel, channel group, user ID or pattern"))
	}
	check := func(prefix string, t ResourceType, perms map[string]Permissions, pattern bool) {
		for name, p := range perms {
			field := prefix + t.String() + "." + name
			switch {
			case name == "":
				add(prefix+t.String(), errors.New("a name must not be empty"))
				continue
			case p == 0:
				add(field, errors.New("needs at least one permission"))
			case p&^t.Allowed() != 0:
				add(field, fmt.Errorf("%s not allowed for %s; use %s", describe(p&^t.Allowed()), t, strings.Join(t.Allowed().Words(), ", ")))
			}
			if pattern {
				add(field, ValidPattern(name))
			}
		}
	}
	for _, t := range []ResourceType{Channels, Groups, UUIDs} {
		check("", t, r.Resources.of(t), false)
		check("patterns.", t, r.Patterns.of(t), true)
	}
	for k, v := range r.Meta {
		add("meta."+k, ValidMetaValue(v))
	}
	slices.SortFunc(errs, func(a, b FieldError) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(a.Message, b.Message))
	})
	return errs
}

// describe names the bits of p: the words of known ones, then any unknown
// ones in hex.
func describe(p Permissions) string {
	words := p.Words()
	if unknown := p &^ (Join<<1 - 1); unknown != 0 {
		words = append(words, fmt.Sprintf("bits %#x", uint64(unknown)))
	}
	return strings.Join(words, ", ")
}

// Resources maps resource names (or, in GrantRequest.Patterns, RE2
// patterns) to permissions, per resource type.
type Resources struct {
	Channels map[string]Permissions
	Groups   map[string]Permissions // channel groups
	UUIDs    map[string]Permissions // user IDs
}

func (r Resources) empty() bool {
	return len(r.Channels) == 0 && len(r.Groups) == 0 && len(r.UUIDs) == 0
}

func (r Resources) of(t ResourceType) map[string]Permissions {
	switch t {
	case Channels:
		return r.Channels
	case Groups:
		return r.Groups
	case UUIDs:
		return r.UUIDs
	}
	return nil
}

// ResourceWords is Resources with each permission set as words.
type ResourceWords struct {
	Channels map[string][]string
	Groups   map[string][]string
	UUIDs    map[string][]string
}

// Words returns r with its permissions as words (Permissions.Words); maps
// are never nil.
func (r Resources) Words() ResourceWords {
	conv := func(m map[string]Permissions) map[string][]string {
		out := make(map[string][]string, len(m))
		for k, p := range m {
			out[k] = p.Words()
		}
		return out
	}
	return ResourceWords{Channels: conv(r.Channels), Groups: conv(r.Groups), UUIDs: conv(r.UUIDs)}
}

// GrantWords is a GrantRequest with its permissions as words ("read",
// "write", …), as an API takes it.
type GrantWords struct {
	TTL              int
	AuthorizedUserID string
	Resources        ResourceWords
	Patterns         ResourceWords
	Meta             map[string]any
}

// Request turns the words into a GrantRequest (ParseResources) and checks
// it (GrantRequest.Validate). It returns a *ValidationError listing every
// problem, sorted by field: a refused word comes before any other problem of
// its field, and there is no "resources" problem when names were given but
// every one was refused (their own problems say why).
func (w GrantWords) Request() (GrantRequest, error) {
	resources, errs := ParseResources("", w.Resources)
	patterns, patErrs := ParseResources("patterns.", w.Patterns)
	errs = append(errs, patErrs...)
	req := GrantRequest{TTL: w.TTL, AuthorizedUserID: w.AuthorizedUserID, Resources: resources, Patterns: patterns, Meta: w.Meta}
	named := w.Resources.names()+w.Patterns.names() > 0
	for _, fe := range req.Validate() {
		if fe.Field == "resources" && named {
			continue
		}
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
		return GrantRequest{}, &ValidationError{Fields: errs}
	}
	return req, nil
}

func (w ResourceWords) names() int { return len(w.Channels) + len(w.Groups) + len(w.UUIDs) }

// ParseResources turns permission words into Resources, with
// ParsePermissions for each name. prefix starts every field named in the
// errors: "" for resources, "patterns." for patterns, so that the fields
// match GrantRequest.Validate's. Errors are sorted by field; the Resources
// hold the names that parsed.
func ParseResources(prefix string, w ResourceWords) (Resources, []FieldError) {
	var errs []FieldError
	conv := func(t ResourceType, in map[string][]string) map[string]Permissions {
		if in == nil {
			return nil
		}
		out := make(map[string]Permissions, len(in))
		for name, words := range in {
			p, err := ParsePermissions(t, words)
			if err != nil {
				errs = append(errs, FieldError{Field: prefix + t.String() + "." + name, Message: err.Error()})
				continue
			}
			out[name] = p
		}
		return out
	}
	r := Resources{Channels: conv(Channels, w.Channels), Groups: conv(Groups, w.Groups), UUIDs: conv(UUIDs, w.UUIDs)}
	slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return r, errs
}
