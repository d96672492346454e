package pubnub

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"time"
)

// KeysetType is a keyset's type. Production keysets need a paid plan.
type KeysetType string

// The keyset types PubNub documents.
const (
	// KeysetTypeTesting is a testing keyset; it may get stricter data-plane
	// rate limits.
	KeysetTypeTesting KeysetType = "testing"
	// KeysetTypeProduction is a production keyset; it needs a paid plan.
	KeysetTypeProduction KeysetType = "production"
)

// Keyset is a PubNub keyset without its secrets: what GET and list answer.
type Keyset struct {
	ID           string
	Name         string
	AppID        string
	Type         KeysetType
	PublishKey   string
	SubscribeKey string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// keysetJSON is a keyset on the wire; secretKeys appear only in the create
// answer. The app is read from appId, the documented schema's field, or
// from applicationId, the name in the overview's example and in
// /v2/illuminate/keysets; appId wins when both are present.
type keysetJSON struct {
	ID            flexID          `json:"id"`
	Name          string          `json:"name"`
	AppID         flexID          `json:"appId"`
	ApplicationID flexID          `json:"applicationId"`
	Type          KeysetType      `json:"type"`
	PublishKey    string          `json:"publishKey"`
	SubscribeKey  string          `json:"subscribeKey"`
	CreatedAt     flexTime        `json:"createdAt"`
	UpdatedAt     flexTime        `json:"updatedAt"`
	SecretKeys    []secretKeyJSON `json:"secretKeys"`
}

func (w keysetJSON) keyset() Keyset {
	return Keyset{
		ID: string(w.ID), Name: w.Name, AppID: string(cmp.Or(w.AppID, w.ApplicationID)), Type: w.Type,
		PublishKey: w.PublishKey, SubscribeKey: w.SubscribeKey,
		CreatedAt: w.CreatedAt.time(), UpdatedAt: w.UpdatedAt.time(),
	}
}

// CreateKeysetParams are the inputs of CreateKeyset. Config is optional and
// partial: only its non-nil fields are sent, PubNub's defaults apply to the
// rest.
type CreateKeysetParams struct {
	Name   string
	AppID  string
	Type   KeysetType
	Config *KeysetConfig
}

// CreatedKeyset is the answer to CreateKeyset: the keyset, its secret keys
// (the only answer besides ListSecretKeys that carries them; store them now)
// and its full config with defaults applied.
type CreatedKeyset struct {
	Keyset     Keyset
	SecretKeys []SecretKey
	Config     *KeysetConfig
}

// CreateKeyset creates a keyset in an app, with an optional initial config
// (POST /keysets). Name, appId and type are always sent, since one doc
// version requires all three. Creates are not idempotent: after a retryable
// error, look the keyset up by name before creating it again, and read its
// secret with ListSecretKeys.
func (c *Client) CreateKeyset(ctx context.Context, p CreateKeysetParams) (*CreatedKeyset, error) {
	const op = "create keyset"
	type keysetIn struct {
		Name  string     `json:"name"`
		AppID string     `json:"appId"`
		Type  KeysetType `json:"type"`
	}
	in := struct {
		Keyset keysetIn      `json:"keyset"`
		Config *KeysetConfig `json:"config,omitempty"`
	}{Keyset: keysetIn{Name: p.Name, AppID: p.AppID, Type: p.Type}, Config: p.Config}
	var out struct {
		Keyset keysetJSON    `json:"keyset"`
		Config *KeysetConfig `json:"config"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/keysets", body: in}, &out); err != nil {
		return nil, err
	}
	if err := c.requireID(op, "/keysets", out.Keyset.ID); err != nil {
		return nil, err
	}
	return &CreatedKeyset{Keyset: out.Keyset.keyset(), SecretKeys: secretKeys(out.Keyset.SecretKeys), Config: out.Config}, nil
}

// GetKeyset returns the keyset with id (GET /keysets/{id}), without secrets
// or config; IsNotFound reports a missing one.
func (c *Client) GetKeyset(ctx context.Context, id string) (*Keyset, error) {
	const op = "get keyset"
	seg, err := pathSegment(op, "keyset id", id)
	if err != nil {
		return nil, err
	}
	var w keysetJSON
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/keysets/" + seg}, &w); err != nil {
		return nil, err
	}
	k := w.keyset()
	return &k, nil
}

// UpdateKeysetParams are the inputs of UpdateKeyset. An empty field is left
// unchanged; at least one must be set. Moving a keyset to another app is not
// possible.
type UpdateKeysetParams struct {
	Name string
	Type KeysetType
}

// UpdateKeyset renames a keyset or changes its type (PATCH /keysets/{id};
// testing to production needs a paid plan) and returns it afterwards,
// without secrets; IsNotFound reports a missing one. Both fields empty is
// ErrInvalidArgument.
func (c *Client) UpdateKeyset(ctx context.Context, id string, p UpdateKeysetParams) (*Keyset, error) {
	const op = "update keyset"
	seg, err := pathSegment(op, "keyset id", id)
	if err != nil {
		return nil, err
	}
	if p.Name == "" && p.Type == "" {
		return nil, fmt.Errorf("pubnub: %s: nothing to change: %w", op, ErrInvalidArgument)
	}
	in := struct {
		Name string     `json:"name,omitempty"`
		Type KeysetType `json:"type,omitempty"`
	}{p.Name, p.Type}
	var w keysetJSON
	if err := c.do(ctx, request{op: op, method: http.MethodPatch, path: "/keysets/" + seg, body: in}, &w); err != nil {
		return nil, err
	}
	k := w.keyset()
	return &k, nil
}

// DeleteKeyset deletes a keyset for good (DELETE /keysets/{id}): its keys
// stop working and the deletion cannot be undone. PubNub has no disable
// endpoint in v2. A keyset assigned to an OEM customer loses that
// assignment ([U] upstream; the sandbox does so). IsNotFound reports a
// keyset that does not exist, which a caller retrying a delete can treat as
// done.
func (c *Client) DeleteKeyset(ctx context.Context, id string) error {
	const op = "delete keyset"
	seg, err := pathSegment(op, "keyset id", id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: "/keysets/" + seg}, nil)
}

// ListKeysets returns every keyset of the account, walking all pages of GET
// /keysets with limit=100. The API has no app filter; filter on AppID.
func (c *Client) ListKeysets(ctx context.Context) ([]Keyset, error) {
	return walkPages(func(page int) ([]Keyset, int, error) {
		return c.ListKeysetsPage(ctx, page, listPageSize)
	}, func(k Keyset) string { return k.ID })
}
