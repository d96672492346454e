package api

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/invalid"
)

// apiKeyJSON is an API key as the API shows it: never the key itself, except once, on create.
type apiKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

func apiKeyFrom(k *auth.Key) apiKeyJSON {
	scopes := make([]string, len(k.Scopes))
	for i, s := range k.Scopes {
		scopes[i] = string(s)
	}
	return apiKeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: scopes, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsedAt}
}

type createAPIKeyRequest struct {
	Body struct {
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes"`
		ExpiresIn *string  `json:"expiresIn"`
	}
}

func (r *createAPIKeyRequest) body() (any, bool) { return &r.Body, false }

func (r *createAPIKeyRequest) validate() map[string]string {
	errs := map[string]string{}
	if err := auth.CheckName(r.Body.Name); err != nil { // auth's one rule, as Create applies it
		fields, _ := invalid.FieldsOf(err)
		maps.Copy(errs, fields)
	}
	if _, err := auth.ParseScopes(r.Body.Scopes); err != nil {
		errs["scopes"] = err.Error()
	}
	if _, err := r.expiresIn(); err != nil {
		fields, _ := invalid.FieldsOf(err)
		maps.Copy(errs, fields)
	}
	return errs
}

// expiresIn is the lifetime asked for; zero (the default) when none was.
func (r *createAPIKeyRequest) expiresIn() (time.Duration, error) {
	if r.Body.ExpiresIn == nil {
		return 0, nil
	}
	return auth.ParseExpiry(*r.Body.ExpiresIn)
}

type createAPIKeyResponse struct {
	apiKeyJSON
	// Key is the API key itself, shown this once.
	Key string `json:"key"`
}

func (createAPIKeyResponse) statusCode() int { return http.StatusCreated }

// createAPIKey issues a key; the response is the only place the key ever appears. The calling
// key grants only scopes it holds, and for no longer than it lives itself: admin lets it make
// keys, and grants nothing else.
func (s *Server) createAPIKey(ctx context.Context, req *createAPIKeyRequest) (createAPIKeyResponse, error) {
	grantor := auth.KeyFrom(ctx)
	if grantor == nil {
		return createAPIKeyResponse{}, errors.New("create api key: no authenticated key in the request")
	}
	scopes, err := auth.ParseScopes(req.Body.Scopes)
	if err != nil {
		return createAPIKeyResponse{}, err // validate has refused this already
	}
	expiresIn, err := req.expiresIn()
	if err != nil {
		return createAPIKeyResponse{}, err
	}
	key, plaintext, err := s.keys.Create(ctx, auth.CreateParams{
		Name: req.Body.Name, Scopes: scopes, ExpiresIn: expiresIn, CreatedBy: auth.ActorFrom(ctx), GrantedBy: grantor,
	})
	if err != nil {
		return createAPIKeyResponse{}, err
	}
	return createAPIKeyResponse{apiKeyJSON: apiKeyFrom(key), Key: plaintext}, nil
}

type listAPIKeysRequest struct{}

type listAPIKeysResponse struct {
	Data []apiKeyJSON `json:"data"`
}

func (s *Server) listAPIKeys(ctx context.Context, _ *listAPIKeysRequest) (listAPIKeysResponse, error) {
	keys, err := s.keys.List(ctx)
	if err != nil {
		return listAPIKeysResponse{}, err
	}
	out := listAPIKeysResponse{Data: make([]apiKeyJSON, 0, len(keys))}
	for _, k := range keys {
		out.Data = append(out.Data, apiKeyFrom(k))
	}
	return out, nil
}

type revokeAPIKeyRequest struct{ id string }

func (r *revokeAPIKeyRequest) extract(p *params) { r.id = p.path("id") }

// revokeAPIKey revokes at once; revoking twice is harmless and keeps the first time.
func (s *Server) revokeAPIKey(ctx context.Context, req *revokeAPIKeyRequest) (apiKeyJSON, error) {
	key, err := s.keys.Revoke(ctx, req.id)
	if err != nil {
		return apiKeyJSON{}, err
	}
	return apiKeyFrom(key), nil
}
