package pubnub

import (
	"context"
	"fmt"
	"net/http"
)

// KeysetConfig is a keyset's configuration. Every section and leaf is a
// pointer with omitempty, so a value built for a PATCH sends only the fields
// that are set (write new(true), new(30), new("aws-iad-1")), and a decoded
// answer shows which fields PubNub returned (nil for absent or null).
// Unknown fields in answers are ignored, so fields PubNub adds later do not
// break decoding. Clearing a nullable field (sending null) is not supported.
type KeysetConfig struct {
	AccessManager      *AccessManagerConfig      `json:"accessManager,omitempty"`
	MessagePersistence *MessagePersistenceConfig `json:"messagePersistence,omitempty"`
	AppContext         *AppContextConfig         `json:"appContext,omitempty"`
	Files              *FilesConfig              `json:"files,omitempty"`
	StreamController   *StreamControllerConfig   `json:"streamController,omitempty"`
	Presence           *PresenceConfig           `json:"presence,omitempty"`
	Apns               *ApnsConfig               `json:"apns,omitempty"`
	Fcm                *FcmConfig                `json:"fcm,omitempty"`
	DataSync           *DataSyncConfig           `json:"dataSync,omitempty"`
}

// AccessManagerConfig is the Access Manager (PAM) section. TokenRevoke lets
// issued v3 tokens be revoked.
type AccessManagerConfig struct {
	Enabled     *bool `json:"enabled,omitempty"`
	TokenRevoke *bool `json:"tokenRevoke,omitempty"`
}

// MessagePersistenceConfig is the Message Persistence (history) section.
// Retention is in days: 1, 7, 30, 90, 180, 365, or 0 for unlimited.
type MessagePersistenceConfig struct {
	Enabled               *bool `json:"enabled,omitempty"`
	Retention             *int  `json:"retention,omitempty"`
	IncludePresenceEvents *bool `json:"includePresenceEvents,omitempty"`
	DeleteFromHistory     *bool `json:"deleteFromHistory,omitempty"`
}

// AppContextConfig is the App Context (Objects) section. Region (aws-iad-1,
// aws-pdx-1, aws-fra-1, aws-bom-1, aws-hnd-1) is required when enabling and
// cannot change once set.
type AppContextConfig struct {
	Enabled                       *bool   `json:"enabled,omitempty"`
	Region                        *string `json:"region,omitempty"`
	UserMetadataEvents            *bool   `json:"userMetadataEvents,omitempty"`
	ChannelMetadataEvents         *bool   `json:"channelMetadataEvents,omitempty"`
	MembershipEvents              *bool   `json:"membershipEvents,omitempty"`
	DisallowGetAllChannelMetadata *bool   `json:"disallowGetAllChannelMetadata,omitempty"`
	DisallowGetAllUserMetadata    *bool   `json:"disallowGetAllUserMetadata,omitempty"`
	ReferentialIntegrity          *bool   `json:"referentialIntegrity,omitempty"`
}

// FilesConfig is the File Sharing section. Retention is in days: 1, 7, 30,
// 90, 180, 365, or 0 for unlimited. Region (us-east-1, us-west-1,
// eu-central-1, ap-south-1, ap-northeast-1) is optional and cannot change
// once set.
type FilesConfig struct {
	Enabled   *bool   `json:"enabled,omitempty"`
	Retention *int    `json:"retention,omitempty"`
	Region    *string `json:"region,omitempty"`
}

// StreamControllerConfig is the Stream Controller (channel groups) section.
type StreamControllerConfig struct {
	Enabled           *bool `json:"enabled,omitempty"`
	WildcardSubscribe *bool `json:"wildcardSubscribe,omitempty"`
	ChannelGroupLimit *int  `json:"channelGroupLimit,omitempty"`
}

// PresenceConfig is the Presence section. AnnounceMax is 0 to 100.
type PresenceConfig struct {
	Enabled                   *bool   `json:"enabled,omitempty"`
	AnnounceMax               *int    `json:"announceMax,omitempty"`
	Interval                  *int    `json:"interval,omitempty"`
	Deltas                    *bool   `json:"deltas,omitempty"`
	GenerateLeaveOnDisconnect *bool   `json:"generateLeaveOnDisconnect,omitempty"`
	StreamFiltering           *bool   `json:"streamFiltering,omitempty"`
	ActiveNoticeChannel       *string `json:"activeNoticeChannel,omitempty"`
	Debounce                  *int    `json:"debounce,omitempty"`
}

// ApnsConfig is the Apple push section.
type ApnsConfig struct {
	Enabled   *bool   `json:"enabled,omitempty"`
	TeamID    *string `json:"teamId,omitempty"`
	AuthKeyID *string `json:"authKeyId,omitempty"`
	Filename  *string `json:"filename,omitempty"`
}

// FcmConfig is the Firebase push section.
type FcmConfig struct {
	Filename *string `json:"filename,omitempty"`
}

// DataSyncConfig is the DataSync section (latest doc sets). It works only
// with a region and with Access Manager enabled separately, but PubNub
// documents those as runtime rules: the config is accepted without them.
// The region cannot change once set.
type DataSyncConfig struct {
	Enabled *bool   `json:"enabled,omitempty"`
	Region  *string `json:"region,omitempty"`
}

// GetKeysetConfig returns a keyset's full configuration, defaults included
// (GET /keysets/{id}/config).
func (c *Client) GetKeysetConfig(ctx context.Context, keysetID string) (*KeysetConfig, error) {
	const op = "get keyset config"
	seg, err := pathSegment(op, "keyset id", keysetID)
	if err != nil {
		return nil, err
	}
	var cfg KeysetConfig
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/keysets/" + seg + "/config"}, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// UpdateKeysetConfig applies patch, a partial config, to a keyset (PATCH
// /keysets/{id}/config) and returns the full config after the change. Only
// non-nil fields are sent; the rest keep their values. PubNub refuses (400)
// a change to a region that is already set.
func (c *Client) UpdateKeysetConfig(ctx context.Context, keysetID string, patch *KeysetConfig) (*KeysetConfig, error) {
	const op = "update keyset config"
	seg, err := pathSegment(op, "keyset id", keysetID)
	if err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, fmt.Errorf("pubnub: %s: nil patch: %w", op, ErrInvalidArgument)
	}
	var cfg KeysetConfig
	if err := c.do(ctx, request{op: op, method: http.MethodPatch, path: "/keysets/" + seg + "/config", body: patch}, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}
