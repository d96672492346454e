package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
)

// Authenticator checks a presented API key. *auth.Service implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Key, error)
}

// scopedHandler guards one route: a valid key (401 otherwise) that carries the route's scope
// (403 otherwise). Routes register through Server.route, so every non-public route has one,
// and the route table test finds the scope by walking the router.
type scopedHandler struct {
	s     *Server
	scope auth.Scope
	next  http.Handler
}

// Scope is the scope a key needs for this route.
func (h *scopedHandler) Scope() auth.Scope { return h.scope }

func (h *scopedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.authenticate(r)
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			h.s.writeError(w, r, err) // the key store failed: a 500, not a refusal
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="pnonboard"`)
		// Nothing about why: unknown, expired, revoked and malformed keys look the same.
		h.s.writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: "unauthenticated",
			Detail: "a valid API key is required: send Authorization: Bearer <key>"})
		return
	}
	ctx := auth.WithKey(r.Context(), key)
	ctx = logging.With(ctx, slog.String("key_id", key.ID))
	r = r.WithContext(ctx)
	if !key.Has(h.scope) {
		h.s.writeError(w, r, &Error{Status: http.StatusForbidden, Code: "insufficient_scope",
			Detail: "this API key lacks the " + string(h.scope) + " scope",
			Extra:  map[string]any{"requiredScope": string(h.scope)}})
		return
	}
	h.next.ServeHTTP(w, r)
}

// authenticate reads "Authorization: Bearer <key>" and checks the key.
func (s *Server) authenticate(r *http.Request) (*auth.Key, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, auth.ErrUnauthenticated
	}
	return s.auth.Authenticate(r.Context(), strings.TrimSpace(token))
}
