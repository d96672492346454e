package api

import "github.com/go-chi/chi/v5"

// addRoutes is the whole HTTP surface. Each route names the scope a key needs (or public) and
// its operationId in openapi.yaml.
func (s *Server) addRoutes(r chi.Router) {
	r.Get("/healthz", s.handleHealthz)      // GET /healthz          getHealthz   (public)
	r.Get("/readyz", s.handleReadyz)        // GET /readyz           getReadyz    (public)
	r.Get("/openapi.yaml", s.handleOpenAPI) // GET /openapi.yaml     getOpenAPI   (public)
}
