package provisioner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Profile is how an environment's keyset is made: its type, and the configuration sent in the
// create call itself (so provisioning needs no separate config call).
type Profile struct {
	Name       string               `json:"name" yaml:"name"`
	KeysetType pubnub.KeysetType    `json:"keysetType" yaml:"keysetType"`
	Config     *pubnub.KeysetConfig `json:"config,omitempty" yaml:"config,omitempty"`
}

// accessManagerOn reports whether the profile turns Access Manager on: what enable restores.
func (p *Profile) accessManagerOn() bool {
	return p.Config != nil && p.Config.AccessManager != nil && p.Config.AccessManager.Enabled != nil && *p.Config.AccessManager.Enabled
}

// Profiles is the ordered set of environment profiles; the order is the default environment list.
type Profiles []Profile

// Get returns the named profile.
func (ps Profiles) Get(name string) (*Profile, bool) {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i], true
		}
	}
	return nil, false
}

// Names lists the profiles' names in order.
func (ps Profiles) Names() []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// Environments describes the profiles to the tenants domain, in order.
func (ps Profiles) Environments() []tenants.Environment {
	envs := make([]tenants.Environment, len(ps))
	for i, p := range ps {
		envs[i] = tenants.Environment{Name: p.Name, KeysetType: string(p.KeysetType)}
	}
	return envs
}

// Defaults are the environments of a tenant that names none: the first profiles, as many as
// a customer may hold keysets.
func (ps Profiles) Defaults() []string {
	names := ps.Names()
	return names[:min(len(names), tenants.MaxEnvironments)]
}

// DefaultProfiles are the built-in environments: development is a testing
// keyset with Access Manager off; staging and production turn Access Manager on with token
// revoke; production is a production keyset. All keep a week of message history and enable
// presence and App Context in the US East region.
func DefaultProfiles() Profiles {
	base := func(am bool) *pubnub.KeysetConfig {
		cfg := &pubnub.KeysetConfig{
			AccessManager:      &pubnub.AccessManagerConfig{Enabled: new(am)},
			MessagePersistence: &pubnub.MessagePersistenceConfig{Enabled: new(true), Retention: new(7)},
			AppContext:         &pubnub.AppContextConfig{Enabled: new(true), Region: new("aws-iad-1")},
			Presence:           &pubnub.PresenceConfig{Enabled: new(true)},
		}
		if am {
			cfg.AccessManager.TokenRevoke = new(true)
		}
		return cfg
	}
	return Profiles{
		{Name: "development", KeysetType: pubnub.KeysetTypeTesting, Config: base(false)},
		{Name: "staging", KeysetType: pubnub.KeysetTypeTesting, Config: base(true)},
		{Name: "production", KeysetType: pubnub.KeysetTypeProduction, Config: base(true)},
	}
}

// LoadProfiles reads profiles from a JSON or YAML file (by extension; a list of profiles, or
// {"profiles": [...]}) and validates them. Unknown fields are errors: a typo in a config key
// must not silently provision keysets without the setting.
func LoadProfiles(path string) (Profiles, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profiles file: %w", err)
	}
	var wrapped struct {
		Profiles Profiles `json:"profiles" yaml:"profiles"`
	}
	var list Profiles
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("profiles:")) {
			err = decodeYAML(raw, &wrapped)
			list = wrapped.Profiles
		} else {
			err = decodeYAML(raw, &list)
		}
	default:
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			err = decodeJSON(raw, &wrapped)
			list = wrapped.Profiles
		} else {
			err = decodeJSON(raw, &list)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("profiles file %s: %w", path, err)
	}
	if err := list.Validate(); err != nil {
		return nil, fmt.Errorf("profiles file %s: %w", path, err)
	}
	return list, nil
}

func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeYAML goes through JSON so the config's JSON field names (and the pubnub types' tags)
// are the only names, in both formats.
func decodeYAML(raw []byte, v any) error {
	var generic any
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&generic); err != nil {
		return err
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// Validate checks names (unique, like environment names) and keyset types.
func (ps Profiles) Validate() error {
	if len(ps) == 0 {
		return fmt.Errorf("no profiles")
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if p.Name == "" || len(p.Name) > 32 || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return fmt.Errorf("profile %d: name %q must be 1-32 lowercase letters, digits, - or _", i, p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("profile %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if p.KeysetType != pubnub.KeysetTypeTesting && p.KeysetType != pubnub.KeysetTypeProduction {
			return fmt.Errorf("profile %q: keysetType must be testing or production (got %q)", p.Name, p.KeysetType)
		}
	}
	return nil
}
