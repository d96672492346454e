package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// endpointFunc is how every JSON endpoint is written: a typed request in, a typed response or
// an error out. Endpoints never touch the ResponseWriter, so tests call them directly.
type endpointFunc[Req, Resp any] func(ctx context.Context, req *Req) (Resp, error)

// Request types opt into the adapter's steps by implementing these interfaces.
type (
	// extractor reads path, query and header parameters through params, which records
	// what is wrong with them for the adapter to answer.
	extractor interface {
		extract(p *params)
	}
	// bodyDecoder says where the JSON body goes, and whether it may be absent.
	bodyDecoder interface {
		body() (dst any, optional bool)
	}
	// validator checks the request's shape: field name → message for every bad field.
	validator interface {
		validate() map[string]string
	}
)

// Response types opt into status codes other than 200 and extra headers.
type (
	statusCoder interface {
		statusCode() int
	}
	headerSetter interface {
		setHeaders(h http.Header)
	}
)

// noContent is the response of an endpoint that answers 204 with no body.
type noContent struct{}

func (noContent) statusCode() int { return http.StatusNoContent }

// endpointOpts tunes one route's adapter.
type endpointOpts struct {
	timeout time.Duration // zero means the server's RequestTimeout
}

// handleJSON adapts ep to HTTP: bounded context, parameter extraction (params.go), body
// decoding (decode.go: size limit, strict JSON), validation, then the endpoint, then status
// selection and encoding.
func handleJSON[Req, Resp any](s *Server, ep endpointFunc[Req, Resp], opts ...endpointOpts) http.Handler {
	timeout := s.requestTimeout
	for _, o := range opts {
		if o.timeout > 0 {
			timeout = o.timeout
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)

		req := new(Req)
		if ex, ok := any(req).(extractor); ok {
			p := newParams(r)
			ex.extract(p)
			if err := p.err(); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if bd, ok := any(req).(bodyDecoder); ok {
			dst, optional := bd.body()
			err := decodeJSON(w, r, dst, s.maxBody)
			if errors.Is(err, io.EOF) && !optional {
				err = errorf(http.StatusBadRequest, "malformed_json", "a JSON body is required")
			} else if errors.Is(err, io.EOF) {
				err = nil
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if v, ok := any(req).(validator); ok {
			if fields := v.validate(); len(fields) > 0 {
				s.writeError(w, r, validationError(fields))
				return
			}
		}

		resp, err := ep(ctx, req)
		if err != nil {
			s.writeError(w, r, s.mapError(err))
			return
		}
		if hs, ok := any(resp).(headerSetter); ok {
			hs.setHeaders(w.Header())
		}
		status := http.StatusOK
		if sc, ok := any(resp).(statusCoder); ok {
			status = sc.statusCode()
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		s.writeJSON(w, r, status, resp)
	})
}
