package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// endpoint describes one route for the request pipeline.
type endpoint struct {
	op         Operation
	minVersion string   // oldest PubNub-Version served
	query      []string // accepted query parameters
}

// handlerFunc is an endpoint's logic: it reads the request and returns the
// answer, never touching the ResponseWriter.
type handlerFunc func(r *http.Request) result

// pipeline wraps h with what the real API does around every endpoint, in
// this order: latency, authentication (401), rate limiting (429; every
// authenticated request counts), PubNub-Version and query checks (400),
// permissions (403), faults, and finally the endpoint. A request that matches no endpoint
// stops after rate limiting with a 404. Every request is recorded as a Call.
func (s *Sandbox) pipeline(ep endpoint, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := s.now()
		status := s.serve(w, r, ep, h)
		s.calls.add(Call{Op: ep.op, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, At: at})
	})
}

// serve runs the pipeline and returns the status written (0: none).
func (s *Sandbox) serve(w http.ResponseWriter, r *http.Request, ep endpoint, h handlerFunc) int {
	ctx := r.Context()
	if !sleep(ctx, s.latency) {
		return 0
	}
	if !s.authorized(r) {
		return write(w, errorResult(http.StatusUnauthorized, "Invalid or missing API key in the Authorization header"))
	}
	q, allowed := s.limiter.take(s.apiKey, s.now())
	if s.limiter.enabled() {
		q.setHeaders(w.Header(), !allowed)
	}
	if !allowed {
		return write(w, tooManyRequests(""))
	}
	if ep.op == OpUnknown {
		return write(w, h(r))
	}
	if res, ok := checkVersion(r, ep.minVersion); !ok {
		return write(w, res)
	}
	if res, ok := checkQuery(r, ep.query); !ok {
		return write(w, res)
	}
	if res, ok := s.checkPermissions(r, ep.op); !ok {
		return write(w, res)
	}
	if fault, faulty := s.faults.next(ep.op); faulty {
		return s.fail(w, r, h, fault)
	}
	res := h(r)
	if err := s.store.save(res.save); err != nil {
		return write(w, errorResult(http.StatusInternalServerError, "sandbox could not save its state: "+err.Error()))
	}
	return write(w, res)
}

// fail answers a request hit by fault, applying the change first for the
// kinds that model a lost answer.
func (s *Sandbox) fail(w http.ResponseWriter, r *http.Request, h handlerFunc, f Fault) int {
	message := func(def string) string {
		if f.Message != "" {
			return f.Message
		}
		return def
	}
	switch f.Kind {
	case FaultStatus:
		if f.Status == http.StatusTooManyRequests {
			s.limiter.exhausted(s.apiKey, s.now()).setHeaders(w.Header(), true)
			return write(w, tooManyRequests(f.Message))
		}
		return write(w, errorResult(f.Status, message(fmt.Sprintf("Injected %d fault", f.Status))))
	case FaultLost:
		_ = s.store.save(h(r).save) // durable before the (lost) answer; it is a 500 either way
		return write(w, errorResult(http.StatusInternalServerError, message("Internal server error")))
	case FaultTimeout:
		_ = s.store.save(h(r).save)
		if !sleep(r.Context(), s.timeoutHang) {
			return 0
		}
		return write(w, errorResult(http.StatusGatewayTimeout, message("Gateway timeout")))
	default: // FaultServerError
		return write(w, errorResult(http.StatusInternalServerError, message("Internal server error")))
	}
}

func tooManyRequests(msg string) result {
	if msg == "" {
		msg = "Too many requests: rate limit exceeded, retry after the time in X-RateLimit-Reset"
	}
	return errorResult(http.StatusTooManyRequests, msg)
}

// checkVersion enforces the PubNub-Version header: present, a real
// YYYY-MM-DD date, and not older than minVersion (see MinCoreVersion and
// MinOEMVersion for the [U] choice).
func checkVersion(r *http.Request, minVersion string) (result, bool) {
	v := r.Header.Get("PubNub-Version")
	if v == "" {
		return errorResult(http.StatusBadRequest, "PubNub-Version header is required"), false
	}
	if t, err := time.Parse(time.DateOnly, v); err != nil || t.Format(time.DateOnly) != v {
		return errorResult(http.StatusBadRequest, fmt.Sprintf("PubNub-Version %q is not a date in YYYY-MM-DD format", v)), false
	}
	if v < minVersion { // ISO dates order as strings
		return errorResult(http.StatusBadRequest, fmt.Sprintf("PubNub-Version %s does not support this endpoint; the minimum version is %s", v, minVersion)), false
	}
	return result{}, true
}

// checkQuery refuses query parameters the endpoint does not document.
// [U] NestJS's forbidNonWhitelisted would do this; it is the strictest
// plausible reading and catches clients relying on undocumented filters.
func checkQuery(r *http.Request, allowed []string) (result, bool) {
	for name := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			return errorResult(http.StatusBadRequest, fmt.Sprintf("property %s should not exist", name)), false
		}
	}
	return result{}, true
}

// sleep waits d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
