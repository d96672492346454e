package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/pnonboard/pnonboard/internal/auth"
)

// uiHandler guards a browser UI (the River job UI): an admin key, given as the password of
// HTTP basic auth (what a browser prompts for) or as a bearer token. Mutating requests from
// other origins are refused (CSRF), since browsers resend basic credentials on their own.
type uiHandler struct {
	s    *Server
	next http.Handler
}

// Scope is the scope the UI needs.
func (h *uiHandler) Scope() auth.Scope { return auth.ScopeAdmin }

func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, err := h.authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			h.s.writeError(w, r, err)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="pnonboard job UI (password: an admin API key)", charset="UTF-8"`)
		h.s.writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: "unauthenticated",
			Detail: "the job UI needs an admin API key as the basic-auth password"})
		return
	}
	if !key.Has(auth.ScopeAdmin) {
		h.s.writeError(w, r, &Error{Status: http.StatusForbidden, Code: "insufficient_scope",
			Detail: "the job UI needs a key with the admin scope", Extra: map[string]any{"requiredScope": string(auth.ScopeAdmin)}})
		return
	}
	r = r.WithContext(auth.WithKey(r.Context(), key))
	h.next.ServeHTTP(w, r)
}

func (h *uiHandler) authenticate(ctx context.Context, header string) (*auth.Key, error) {
	scheme, value, ok := strings.Cut(header, " ")
	switch {
	case !ok:
		return nil, auth.ErrUnauthenticated
	case strings.EqualFold(scheme, "Bearer"):
		return h.s.auth.Authenticate(ctx, strings.TrimSpace(value))
	case strings.EqualFold(scheme, "Basic"):
		decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return nil, auth.ErrUnauthenticated
		}
		_, password, _ := strings.Cut(string(decoded), ":")
		return h.s.auth.Authenticate(ctx, password)
	}
	return nil, auth.ErrUnauthenticated
}
