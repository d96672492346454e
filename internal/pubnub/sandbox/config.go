package sandbox

import (
	"fmt"
	"slices"
	"strings"
)

// Config is a keyset's full configuration, as GET /v2/keysets/{id}/config
// answers it: every section and field present, nullable ones as null.
type Config struct {
	AccessManager      AccessManagerConfig      `json:"accessManager"`
	MessagePersistence MessagePersistenceConfig `json:"messagePersistence"`
	AppContext         AppContextConfig         `json:"appContext"`
	Files              FilesConfig              `json:"files"`
	StreamController   StreamControllerConfig   `json:"streamController"`
	Presence           PresenceConfig           `json:"presence"`
	Apns               ApnsConfig               `json:"apns"`
	Fcm                FcmConfig                `json:"fcm"`
	DataSync           DataSyncConfig           `json:"dataSync"`
}

// AccessManagerConfig is the Access Manager (PAM) section.
type AccessManagerConfig struct {
	Enabled     bool  `json:"enabled"`
	TokenRevoke *bool `json:"tokenRevoke"`
}

// MessagePersistenceConfig is the Message Persistence (history) section.
type MessagePersistenceConfig struct {
	Enabled               bool `json:"enabled"`
	Retention             int  `json:"retention"` // days; 0 = unlimited
	IncludePresenceEvents bool `json:"includePresenceEvents"`
	DeleteFromHistory     bool `json:"deleteFromHistory"`
}

// AppContextConfig is the App Context (Objects) section. Region is immutable
// once set.
type AppContextConfig struct {
	Enabled                       bool    `json:"enabled"`
	Region                        *string `json:"region"`
	UserMetadataEvents            bool    `json:"userMetadataEvents"`
	ChannelMetadataEvents         bool    `json:"channelMetadataEvents"`
	MembershipEvents              bool    `json:"membershipEvents"`
	DisallowGetAllChannelMetadata bool    `json:"disallowGetAllChannelMetadata"`
	DisallowGetAllUserMetadata    bool    `json:"disallowGetAllUserMetadata"`
	ReferentialIntegrity          bool    `json:"referentialIntegrity"`
}

// FilesConfig is the File Sharing section. Region is immutable once set.
type FilesConfig struct {
	Enabled   bool    `json:"enabled"`
	Retention int     `json:"retention"` // days; 0 = unlimited
	Region    *string `json:"region"`
}

// StreamControllerConfig is the Stream Controller (channel groups) section.
type StreamControllerConfig struct {
	Enabled           bool `json:"enabled"`
	WildcardSubscribe bool `json:"wildcardSubscribe"`
	ChannelGroupLimit int  `json:"channelGroupLimit"`
}

// PresenceConfig is the Presence section.
type PresenceConfig struct {
	Enabled                   bool    `json:"enabled"`
	AnnounceMax               int     `json:"announceMax"`
	Interval                  int     `json:"interval"`
	Deltas                    bool    `json:"deltas"`
	GenerateLeaveOnDisconnect bool    `json:"generateLeaveOnDisconnect"`
	StreamFiltering           bool    `json:"streamFiltering"`
	ActiveNoticeChannel       *string `json:"activeNoticeChannel"`
	Debounce                  int     `json:"debounce"`
}

// ApnsConfig is the Apple push section.
type ApnsConfig struct {
	Enabled   bool    `json:"enabled"`
	TeamID    *string `json:"teamId"`
	AuthKeyID *string `json:"authKeyId"`
	Filename  *string `json:"filename"`
}

// FcmConfig is the Firebase push section.
type FcmConfig struct {
	Filename *string `json:"filename"`
}

// DataSyncConfig is the DataSync section (latest doc set). Region is
// immutable once set.
type DataSyncConfig struct {
	Enabled bool    `json:"enabled"`
	Region  *string `json:"region"`
}

// DefaultConfig returns the configuration of a keyset created without one.
//
// [U] PubNub's defaults are not documented; every feature starts off, with
// the values of PubNub's own test fixture (retention 7 days, channel group
// limit 100, presence announceMax 20, interval 10, debounce 2) and no region.
func DefaultConfig() Config {
	return Config{
		MessagePersistence: MessagePersistenceConfig{Retention: 7},
		Files:              FilesConfig{Retention: 7},
		StreamController:   StreamControllerConfig{ChannelGroupLimit: 100},
		Presence:           PresenceConfig{AnnounceMax: 20, Interval: 10, Debounce: 2},
	}
}

// clone deep-copies c so that callers of the inspection API cannot reach
// the sandbox's state through its pointers.
func (c Config) clone() Config {
	c.AccessManager.TokenRevoke = clonePtr(c.AccessManager.TokenRevoke)
	c.AppContext.Region = clonePtr(c.AppContext.Region)
	c.Files.Region = clonePtr(c.Files.Region)
	c.Presence.ActiveNoticeChannel = clonePtr(c.Presence.ActiveNoticeChannel)
	c.Apns.TeamID = clonePtr(c.Apns.TeamID)
	c.Apns.AuthKeyID = clonePtr(c.Apns.AuthKeyID)
	c.Apns.Filename = clonePtr(c.Apns.Filename)
	c.Fcm.Filename = clonePtr(c.Fcm.Filename)
	c.DataSync.Region = clonePtr(c.DataSync.Region)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Allowed values, as functions so that no package-level state exists. Where
// sources disagree the sandbox takes the intersection, the strictest
// plausible reading.

// appContextRegions is from PubNub's MCP server schema.
func appContextRegions() []string {
	return []string{"aws-iad-1", "aws-pdx-1", "aws-fra-1", "aws-bom-1", "aws-hnd-1"}
}

// filesRegions is from the docs.
func filesRegions() []string {
	return []string{"us-east-1", "us-west-1", "eu-central-1", "ap-south-1", "ap-northeast-1"}
}

// dataSyncRegions: [U] undocumented; the App Context regions are assumed.
func dataSyncRegions() []string { return appContextRegions() }

// persistenceRetentions: docs and MCP agree. Plan gating is not modelled:
// the sandbox account has every plan.
func persistenceRetentions() []int { return []int{0, 1, 7, 30, 90, 180, 365} }

// filesRetentions: the create-keyset docs list 1, 7, 30, 90, 180, 365 and 0
// ("Possible values"). The MCP schema's shorter 1, 7, 30, 0 is its own
// narrower choice, not the API's.
func filesRetentions() []int { return []int{0, 1, 7, 30, 90, 180, 365} }

// Numeric ranges: channelGroupLimit 1–2000 (docs), presence announceMax
// 0–100 (MCP schema; the legacy docs' 1–100 is the old API), interval
// 10–300 (MCP ≥10, legacy ≤300: the intersection), debounce ≥ 0.
const (
	minChannelGroupLimit, maxChannelGroupLimit = 1, 2000
	minAnnounceMax, maxAnnounceMax             = 0, 100
	minInterval, maxInterval                   = 10, 300
)

// validate returns a message for each rule c breaks.
//
// A region is required only to enable App Context (documented there). Files
// and DataSync may be enabled without one: the docs do not require it in the
// config, and DataSync's "requires a configured DataSync region" and
// "requires Access Manager, which must be enabled separately" are runtime
// rules (the feature does not work until they hold), not refusals of the
// config. [I] That reading is the issue-17 correction of an earlier,
// stricter one.
func (c Config) validate() []string {
	var errs []string
	oneOf := func(name string, v *string, allowed []string) {
		if v != nil && !slices.Contains(allowed, *v) {
			errs = append(errs, fmt.Sprintf("%s must be one of: %s", name, strings.Join(allowed, ", ")))
		}
	}
	intOneOf := func(name string, v int, allowed []int) {
		if !slices.Contains(allowed, v) {
			errs = append(errs, fmt.Sprintf("%s must be one of: %s", name, strings.Trim(fmt.Sprint(allowed), "[]")))
		}
	}
	between := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Sprintf("%s must be between %d and %d", name, lo, hi))
		}
	}
	required := func(name string, enabled bool, v *string, feature string) {
		if enabled && v == nil {
			errs = append(errs, fmt.Sprintf("%s is required when %s is enabled", name, feature))
		}
	}

	intOneOf("messagePersistence.retention", c.MessagePersistence.Retention, persistenceRetentions())
	oneOf("appContext.region", c.AppContext.Region, appContextRegions())
	required("appContext.region", c.AppContext.Enabled, c.AppContext.Region, "App Context")
	intOneOf("files.retention", c.Files.Retention, filesRetentions())
	oneOf("files.region", c.Files.Region, filesRegions())
	between("streamController.channelGroupLimit", c.StreamController.ChannelGroupLimit, minChannelGroupLimit, maxChannelGroupLimit)
	between("presence.announceMax", c.Presence.AnnounceMax, minAnnounceMax, maxAnnounceMax)
	between("presence.interval", c.Presence.Interval, minInterval, maxInterval)
	if c.Presence.Debounce < 0 {
		errs = append(errs, "presence.debounce must not be negative")
	}
	oneOf("dataSync.region", c.DataSync.Region, dataSyncRegions())
	return errs
}

// immutableChanges returns a message for each region that next changes
// although it was already set in prev. Setting a region for the first time
// is allowed; repeating the current value is a no-op, not a change.
func immutableChanges(prev, next Config) []string {
	var errs []string
	check := func(name string, before, after *string) {
		if before != nil && (after == nil || *after != *before) {
			errs = append(errs, fmt.Sprintf("%s cannot be changed after initial setup", name))
		}
	}
	check("appContext.region", prev.AppContext.Region, next.AppContext.Region)
	check("files.region", prev.Files.Region, next.Files.Region)
	check("dataSync.region", prev.DataSync.Region, next.DataSync.Region)
	return errs
}
