package main

import (
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

// tokenEnvironments tells the token service, per environment profile, whether its keysets
// have Access Manager on (otherwise clients need no token) and token revoke on (otherwise
// PubNub cannot revoke their tokens), as the profile creates them.
func tokenEnvironments(profiles provisioner.Profiles) []tokens.Environment {
	envs := make([]tokens.Environment, len(profiles))
	for i, p := range profiles {
		envs[i] = tokens.Environment{Name: p.Name}
		if p.Config == nil || p.Config.AccessManager == nil {
			continue
		}
		am := p.Config.AccessManager
		envs[i].AccessManager = am.Enabled != nil && *am.Enabled
		envs[i].TokenRevoke = am.TokenRevoke != nil && *am.TokenRevoke
	}
	return envs
}
