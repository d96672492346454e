package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

type healthResponse struct {
	Status string `json:"status"`
}

// handleHealthz answers while the process can serve HTTP at all; it touches nothing else, so
// an orchestrator never restarts us for a database outage.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, healthResponse{Status: "ok"})
}

// handleReadyz answers 200 only when the database answers and its migrations match this
// binary, so a load balancer sends traffic only to replicas that can serve it.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.logger.WarnContext(r.Context(), "not ready", "err", err)
		s.writeError(w, r, &Error{Status: http.StatusServiceUnavailable, Code: "not_ready",
			Detail: "the service cannot serve yet: " + readinessDetail(err), Cause: err})
		return
	}
	s.writeJSON(w, r, http.StatusOK, healthResponse{Status: "ready"})
}

// NotReadyError explains why the service is not ready, in words safe for any caller.
type NotReadyError struct{ Reason string }

func (e *NotReadyError) Error() string { return e.Reason }

func readinessDetail(err error) string {
	var nr *NotReadyError
	if errors.As(err, &nr) {
		return nr.Reason
	}
	return "dependency check failed"
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.openAPI)
}
