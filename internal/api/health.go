package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
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
// binary, so a load balancer sends traffic only to replicas that can serve it. With
// ?verbose=1 (an admin key needed) it answers the operator's report instead; see
// handleReadyzVerbose.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		p := newParams(r)
		verbose := false
		if v, given := p.query1("verbose"); given {
			switch v {
			case "1", "true":
				verbose = true
			case "0", "false":
			default:
				p.fail("verbose", "must be 1, true, 0 or false")
			}
		}
		if err := p.err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		if verbose {
			(&scopedHandler{s: s, scope: auth.ScopeAdmin, next: http.HandlerFunc(s.handleReadyzVerbose)}).ServeHTTP(w, r)
			return
		}
	}
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

// ReadyCheck is one line of GET /readyz?verbose=1: what was checked, and either that it is
// fine or what to fix. Status is ReadyOK, ReadyWarn or ReadyFail.
type ReadyCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// The statuses of a ReadyCheck. A warning does not make the service unready.
const (
	ReadyOK   = "ok"
	ReadyWarn = "warn"
	ReadyFail = "fail"
)

// verboseReadyTimeout bounds the operator's checks, which call upstream.
const verboseReadyTimeout = 30 * time.Second

type verboseReadyResponse struct {
	Status string       `json:"status"`
	Checks []ReadyCheck `json:"checks"`
}

// handleReadyzVerbose is GET /readyz?verbose=1, for operators: the database check of the
// plain /readyz, then ServerOpts.ReadyChecks (server doctor's: the PubNub key, version and
// permission rows, OEM access, the profiles, the key's expiry), one line each. It answers
// 200 when none fails (warnings allowed), else 503 with the lines in the problem's checks
// member. It needs an admin key: it tells how the upstream account is set up, and its
// upstream reads spend the shared rate budget.
func (s *Server) handleReadyzVerbose(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), verboseReadyTimeout)
	defer cancel()
	checks := []ReadyCheck{s.databaseCheck(ctx)}
	if s.readyChecks != nil {
		checks = append(checks, s.readyChecks(ctx)...)
	}
	var failed []string
	for _, c := range checks {
		if c.Status == ReadyFail {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		s.writeError(w, r, &Error{Status: http.StatusServiceUnavailable, Code: "not_ready",
			Detail: fmt.Sprintf("%d of %d checks failed: %s; see checks", len(failed), len(checks), strings.Join(failed, ", ")),
			Extra:  map[string]any{"checks": checks}})
		return
	}
	s.writeJSON(w, r, http.StatusOK, verboseReadyResponse{Status: "ready", Checks: checks})
}

// databaseCheck is the plain /readyz's check as a report line.
func (s *Server) databaseCheck(ctx context.Context) ReadyCheck {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.logger.WarnContext(ctx, "not ready", "err", err)
		return ReadyCheck{Name: "database", Status: ReadyFail, Detail: readinessDetail(err)}
	}
	return ReadyCheck{Name: "database", Status: ReadyOK, Detail: "reachable, at the migrations this binary expects"}
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
