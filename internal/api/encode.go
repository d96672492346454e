package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// writeJSON encodes v first and only then writes headers, so an encoding failure can still
// become a clean 500.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		s.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError sends err as problem+json. Unexpected errors are logged at error level with
// their cause; expected ones at debug, since the caller already got the detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, known := problemFor(err)
	p.RequestID = requestIDFrom(r.Context())
	if !known {
		s.logger.ErrorContext(r.Context(), "request failed", "err", err)
	} else if p.Status >= 500 {
		s.logger.ErrorContext(r.Context(), "request failed", "status", p.Status, "code", p.Code, "err", err)
	} else {
		s.logger.DebugContext(r.Context(), "request refused", "status", p.Status, "code", p.Code, "err", err)
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	body, err := p.MarshalJSON()
	if err != nil { // only a broken Extra value can do this
		p.Extra = nil
		body, _ = p.MarshalJSON()
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// MarshalJSON flattens Extra into the problem object, as RFC 9457 extension members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	base, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return base, err
	}
	extra, err := json.Marshal(p.Extra)
	if err != nil {
		return nil, err
	}
	// {"type":...} + {"currentState":...} → {"type":...,"currentState":...}
	return append(append(base[:len(base)-1], ','), extra[1:]...), nil
}
