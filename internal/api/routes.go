package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pnonboard/pnonboard/internal/auth"
)

// addRoutes is the whole HTTP surface. Each route names the scope a key needs (or is public)
// and its operationId in openapi.yaml; a test requires this table and the spec to match.
func (s *Server) addRoutes(r chi.Router) {
	// Public: probes and the contract.
	r.Get("/healthz", s.handleHealthz)      // GET /healthz       getHealthz
	r.Get("/readyz", s.handleReadyz)        // GET /readyz        getReadyz
	r.Get("/openapi.yaml", s.handleOpenAPI) // GET /openapi.yaml  getOpenAPI

	// API keys: admin only.
	s.route(r, http.MethodPost, "/v1/api-keys", auth.ScopeAdmin, handleJSON(s, s.createAPIKey))        // POST   /v1/api-keys       createApiKey
	s.route(r, http.MethodGet, "/v1/api-keys", auth.ScopeAdmin, handleJSON(s, s.listAPIKeys))          // GET    /v1/api-keys       listApiKeys
	s.route(r, http.MethodDelete, "/v1/api-keys/{id}", auth.ScopeAdmin, handleJSON(s, s.revokeAPIKey)) // DELETE /v1/api-keys/{id}  revokeApiKey
}
