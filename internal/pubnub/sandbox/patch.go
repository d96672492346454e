package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// optional is a JSON field that remembers whether it was present and whether
// it was null, which a pointer cannot: PATCH needs "absent" (keep), "null"
// (clear, where allowed) and a value.
type optional[T any] struct {
	set, null bool
	v         T
}

// wrapped is T, whose members unknownProperty checks.
func (optional[T]) wrapped() reflect.Type { return reflect.TypeFor[T]() }

// UnmarshalJSON records presence and decodes strictly (unknown properties
// inside nested objects are refused too).
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&o.v)
}

// configPatch is a partial config as sent on keyset create and config PATCH.
type configPatch struct {
	AccessManager      optional[accessManagerPatch]      `json:"accessManager"`
	MessagePersistence optional[messagePersistencePatch] `json:"messagePersistence"`
	AppContext         optional[appContextPatch]         `json:"appContext"`
	Files              optional[filesPatch]              `json:"files"`
	StreamController   optional[streamControllerPatch]   `json:"streamController"`
	Presence           optional[presencePatch]           `json:"presence"`
	Apns               optional[apnsPatch]               `json:"apns"`
	Fcm                optional[fcmPatch]                `json:"fcm"`
	DataSync           optional[dataSyncPatch]           `json:"dataSync"`
}

type accessManagerPatch struct {
	Enabled     optional[bool] `json:"enabled"`
	TokenRevoke optional[bool] `json:"tokenRevoke"`
}

type messagePersistencePatch struct {
	Enabled               optional[bool] `json:"enabled"`
	Retention             optional[int]  `json:"retention"`
	IncludePresenceEvents optional[bool] `json:"includePresenceEvents"`
	DeleteFromHistory     optional[bool] `json:"deleteFromHistory"`
}

type appContextPatch struct {
	Enabled                       optional[bool]   `json:"enabled"`
	Region                        optional[string] `json:"region"`
	UserMetadataEvents            optional[bool]   `json:"userMetadataEvents"`
	ChannelMetadataEvents         optional[bool]   `json:"channelMetadataEvents"`
	MembershipEvents              optional[bool]   `json:"membershipEvents"`
	DisallowGetAllChannelMetadata optional[bool]   `json:"disallowGetAllChannelMetadata"`
	DisallowGetAllUserMetadata    optional[bool]   `json:"disallowGetAllUserMetadata"`
	ReferentialIntegrity          optional[bool]   `json:"referentialIntegrity"`
}

type filesPatch struct {
	Enabled   optional[bool]   `json:"enabled"`
	Retention optional[int]    `json:"retention"`
	Region    optional[string] `json:"region"`
}

type streamControllerPatch struct {
	Enabled           optional[bool] `json:"enabled"`
	WildcardSubscribe optional[bool] `json:"wildcardSubscribe"`
	ChannelGroupLimit optional[int]  `json:"channelGroupLimit"`
}

type presencePatch struct {
	Enabled                   optional[bool]   `json:"enabled"`
	AnnounceMax               optional[int]    `json:"announceMax"`
	Interval                  optional[int]    `json:"interval"`
	Deltas                    optional[bool]   `json:"deltas"`
	GenerateLeaveOnDisconnect optional[bool]   `json:"generateLeaveOnDisconnect"`
	StreamFiltering           optional[bool]   `json:"streamFiltering"`
	ActiveNoticeChannel       optional[string] `json:"activeNoticeChannel"`
	Debounce                  optional[int]    `json:"debounce"`
}

type apnsPatch struct {
	Enabled   optional[bool]   `json:"enabled"`
	TeamID    optional[string] `json:"teamId"`
	AuthKeyID optional[string] `json:"authKeyId"`
	Filename  optional[string] `json:"filename"`
}

type fcmPatch struct {
	Filename optional[string] `json:"filename"`
}

type dataSyncPatch struct {
	Enabled optional[bool]   `json:"enabled"`
	Region  optional[string] `json:"region"`
}

// patcher applies optional fields onto a config and collects messages for
// the ones it cannot apply.
type patcher struct{ errs []string }

// section reports whether a section is present, refusing an explicit null.
func section[T any](p *patcher, name string, o optional[T]) (T, bool) {
	if o.set && o.null {
		p.errs = append(p.errs, name+" must be an object")
	}
	return o.v, o.set && !o.null
}

// value applies a non-nullable field.
func value[T any](p *patcher, name string, o optional[T], dst *T) {
	switch {
	case !o.set:
	case o.null:
		p.errs = append(p.errs, fmt.Sprintf("%s must not be null", name))
	default:
		*dst = o.v
	}
}

// nullable applies a field that may be set to null.
func nullable[T any](o optional[T], dst **T) {
	switch {
	case !o.set:
	case o.null:
		*dst = nil
	default:
		v := o.v
		*dst = &v
	}
}

// apply returns c with patch applied, and the messages for fields that could
// not be applied. It does not validate values; see validate.
func (patch configPatch) apply(c Config) (Config, []string) {
	c = c.clone()
	p := &patcher{}
	if s, ok := section(p, "accessManager", patch.AccessManager); ok {
		value(p, "accessManager.enabled", s.Enabled, &c.AccessManager.Enabled)
		nullable(s.TokenRevoke, &c.AccessManager.TokenRevoke)
	}
	if s, ok := section(p, "messagePersistence", patch.MessagePersistence); ok {
		value(p, "messagePersistence.enabled", s.Enabled, &c.MessagePersistence.Enabled)
		value(p, "messagePersistence.retention", s.Retention, &c.MessagePersistence.Retention)
		value(p, "messagePersistence.includePresenceEvents", s.IncludePresenceEvents, &c.MessagePersistence.IncludePresenceEvents)
		value(p, "messagePersistence.deleteFromHistory", s.DeleteFromHistory, &c.MessagePersistence.DeleteFromHistory)
	}
	if s, ok := section(p, "appContext", patch.AppContext); ok {
		value(p, "appContext.enabled", s.Enabled, &c.AppContext.Enabled)
		nullable(s.Region, &c.AppContext.Region)
		value(p, "appContext.userMetadataEvents", s.UserMetadataEvents, &c.AppContext.UserMetadataEvents)
		value(p, "appContext.channelMetadataEvents", s.ChannelMetadataEvents, &c.AppContext.ChannelMetadataEvents)
		value(p, "appContext.membershipEvents", s.MembershipEvents, &c.AppContext.MembershipEvents)
		value(p, "appContext.disallowGetAllChannelMetadata", s.DisallowGetAllChannelMetadata, &c.AppContext.DisallowGetAllChannelMetadata)
		value(p, "appContext.disallowGetAllUserMetadata", s.DisallowGetAllUserMetadata, &c.AppContext.DisallowGetAllUserMetadata)
		value(p, "appContext.referentialIntegrity", s.ReferentialIntegrity, &c.AppContext.ReferentialIntegrity)
	}
	if s, ok := section(p, "files", patch.Files); ok {
		value(p, "files.enabled", s.Enabled, &c.Files.Enabled)
		value(p, "files.retention", s.Retention, &c.Files.Retention)
		nullable(s.Region, &c.Files.Region)
	}
	if s, ok := section(p, "streamController", patch.StreamController); ok {
		value(p, "streamController.enabled", s.Enabled, &c.StreamController.Enabled)
		value(p, "streamController.wildcardSubscribe", s.WildcardSubscribe, &c.StreamController.WildcardSubscribe)
		value(p, "streamController.channelGroupLimit", s.ChannelGroupLimit, &c.StreamController.ChannelGroupLimit)
	}
	if s, ok := section(p, "presence", patch.Presence); ok {
		value(p, "presence.enabled", s.Enabled, &c.Presence.Enabled)
		value(p, "presence.announceMax", s.AnnounceMax, &c.Presence.AnnounceMax)
		value(p, "presence.interval", s.Interval, &c.Presence.Interval)
		value(p, "presence.deltas", s.Deltas, &c.Presence.Deltas)
		value(p, "presence.generateLeaveOnDisconnect", s.GenerateLeaveOnDisconnect, &c.Presence.GenerateLeaveOnDisconnect)
		value(p, "presence.streamFiltering", s.StreamFiltering, &c.Presence.StreamFiltering)
		nullable(s.ActiveNoticeChannel, &c.Presence.ActiveNoticeChannel)
		value(p, "presence.debounce", s.Debounce, &c.Presence.Debounce)
	}
	if s, ok := section(p, "apns", patch.Apns); ok {
		value(p, "apns.enabled", s.Enabled, &c.Apns.Enabled)
		nullable(s.TeamID, &c.Apns.TeamID)
		nullable(s.AuthKeyID, &c.Apns.AuthKeyID)
		nullable(s.Filename, &c.Apns.Filename)
	}
	if s, ok := section(p, "fcm", patch.Fcm); ok {
		nullable(s.Filename, &c.Fcm.Filename)
	}
	if s, ok := section(p, "dataSync", patch.DataSync); ok {
		value(p, "dataSync.enabled", s.Enabled, &c.DataSync.Enabled)
		nullable(s.Region, &c.DataSync.Region)
	}
	return c, p.errs
}
