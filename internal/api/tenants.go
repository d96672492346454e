package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// maxWait is the longest Prefer: wait a create honours.
const maxWait = 60 * time.Second

// tenantResponse is a tenant body with the status and headers of the call that produced it.
type tenantResponse struct {
	tenants.View
	status  int
	headers map[string]string
}

func (r tenantResponse) statusCode() int { return r.status }

func (r tenantResponse) setHeaders(h http.Header) {
	for k, v := range r.headers {
		h.Set(k, v)
	}
}

func tenantLocation(externalID string) string { return "/v1/tenants/" + url.PathEscape(externalID) }

type createTenantRequest struct {
	Body struct {
		ExternalID   string            `json:"externalId"`
		Name         string            `json:"name"`
		Environments []string          `json:"environments"`
		Metadata     map[string]string `json:"metadata"`
	}
	preferWait
}

func (r *createTenantRequest) body() (any, bool) { return &r.Body, false }

// preferWait is a request's Prefer: wait=N (RFC 7240).
type preferWait struct{ wait time.Duration }

// extract reads Prefer: wait=N. Waits above the maximum are cut to it; a malformed
// preference is ignored, as the RFC asks.
func (r *preferWait) extract(p *params) {
	for _, pref := range strings.Split(p.header("Prefer"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(pref), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`)); err == nil && n > 0 {
			r.wait = min(time.Duration(n)*time.Second, maxWait)
		}
	}
}

// createTenant creates a tenant and starts its provisioning: 202 for a new tenant, 200 for a
// replay of an existing one with the same attributes (no second job), 409 otherwise.
func (s *Server) createTenant(ctx context.Context, req *createTenantRequest) (tenantResponse, error) {
	t, created, err := s.tenants.Create(ctx, tenants.CreateParams{
		ExternalID: req.Body.ExternalID, Name: req.Body.Name, Environments: req.Body.Environments,
		Metadata: req.Body.Metadata, Actor: auth.ActorFrom(ctx).String(),
	})
	if err != nil {
		return tenantResponse{}, err
	}
	resp := tenantResponse{status: http.StatusOK, headers: map[string]string{"Location": tenantLocation(t.ExternalID)}}
	if created {
		resp.status = http.StatusAccepted
	}
	if req.wait > 0 {
		resp.headers["Preference-Applied"] = fmt.Sprintf("wait=%d", int(req.wait.Seconds()))
		if t, err = s.waitSettled(ctx, t, req.wait); err != nil {
			return tenantResponse{}, err
		}
	}
	resp.View = t.View()
	return resp, nil
}

// waitSettled returns the tenant once no work is under way on it (its state is not in flight
// and no check is pending), or when wait passes (its latest state either way). It re-reads
// the tenant when the Watcher says it changed, and on a slow poll besides.
func (s *Server) waitSettled(ctx context.Context, t *tenants.Tenant, wait time.Duration) (*tenants.Tenant, error) {
	if !busy(t) { // a replayed create of a settled tenant: nothing to watch, nothing to re-read
		return t, nil
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(s.waitPoll)
	defer tick.Stop()
	var changed <-chan struct{}
	if s.watcher != nil {
		ch, stop := s.watcher.Watch(t.ID)
		defer stop()
		changed = ch
		// Settled between the create's commit and the Watch: read once more.
		if latest, err := s.tenants.GetByExternalID(ctx, t.ExternalID); err == nil {
			t = latest
		}
	}
	for busy(t) {
		select {
		case <-deadline.C:
			return t, nil
		case <-ctx.Done():
			return t, nil
		case <-changed:
		case <-tick.C:
		}
		latest, err := s.tenants.GetByExternalID(ctx, t.ExternalID)
		if err != nil {
			if ctx.Err() != nil {
				return t, nil
			}
			return nil, err
		}
		t = latest
	}
	return t, nil
}

// externalIDParam is the {externalId} of a tenant route.
type externalIDParam struct{ externalID string }

func (e *externalIDParam) extract(p *params) { e.externalID = p.path("externalId") }

type getTenantRequest struct{ externalIDParam }

func (s *Server) getTenant(ctx context.Context, req *getTenantRequest) (tenantResponse, error) {
	t, err := s.tenants.GetByExternalID(ctx, req.externalID)
	if err != nil {
		return tenantResponse{}, err
	}
	return tenantResponse{View: t.View(), status: http.StatusOK}, nil
}

type listTenantsRequest struct {
	params tenants.ListParams
}

func (r *listTenantsRequest) extract(p *params) {
	r.params = tenants.ListParams{
		Limit:         p.limit(20, 100),
		State:         tenants.State(p.enum("state", stateNames())),
		Query:         p.text("q", 255),
		CreatedAfter:  p.time("createdAfter"),
		CreatedBefore: p.time("createdBefore"),
		Cursor:        p.text("cursor", maxCursorLen),
		Drifted:       p.boolean("drifted"),
	}
}

// maxCursorLen bounds a cursor parameter; the cursors this API makes are far shorter.
const maxCursorLen = 512

func stateNames() []string {
	names := make([]string, 0, len(tenants.AllStates()))
	for _, st := range tenants.AllStates() {
		names = append(names, string(st))
	}
	return names
}

type listTenantsResponse struct {
	Data       []tenants.View `json:"data"`
	NextCursor *string        `json:"nextCursor"`
}

func (s *Server) listTenants(ctx context.Context, req *listTenantsRequest) (listTenantsResponse, error) {
	list, next, err := s.tenants.List(ctx, req.params)
	if err != nil {
		return listTenantsResponse{}, err
	}
	out := listTenantsResponse{Data: make([]tenants.View, len(list))}
	for i, t := range list {
		out.Data[i] = t.View()
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// reasonRequest is a state change with an optional {reason} for the timeline.
type reasonRequest struct {
	externalIDParam
	Body struct {
		Reason string `json:"reason"`
	}
}

func (r *reasonRequest) body() (any, bool) { return &r.Body, true }

func (r *reasonRequest) validate() map[string]string {
	if textLen(r.Body.Reason) > 500 {
		return map[string]string{"reason": "must be at most 500 characters"}
	}
	return nil
}

func (s *Server) disableTenant(ctx context.Context, req *reasonRequest) (tenantResponse, error) {
	return s.changed(s.tenants.Disable(ctx, req.externalID, req.Body.Reason, auth.ActorFrom(ctx).String()))
}

func (s *Server) enableTenant(ctx context.Context, req *reasonRequest) (tenantResponse, error) {
	return s.changed(s.tenants.Enable(ctx, req.externalID, req.Body.Reason, auth.ActorFrom(ctx).String()))
}

type retryRequest struct {
	externalIDParam
	Body struct{}
}

func (r *retryRequest) body() (any, bool) { return &r.Body, true }

func (s *Server) retryTenant(ctx context.Context, req *retryRequest) (tenantResponse, error) {
	return s.changed(s.tenants.Retry(ctx, req.externalID, auth.ActorFrom(ctx).String()))
}

// changed answers a state change: 202 while the work it started runs, 200 when there was none.
func (s *Server) changed(t *tenants.Tenant, err error) (tenantResponse, error) {
	if err != nil {
		return tenantResponse{}, err
	}
	status := http.StatusAccepted
	if t.State == tenants.StateActive || t.State == tenants.StateDisabled {
		status = http.StatusOK
	}
	return tenantResponse{View: t.View(), status: status, headers: map[string]string{"Location": tenantLocation(t.ExternalID)}}, nil
}

// deleteTenant explains why there is no delete: PubNub customers are never deleted here.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", s.allowHeader(r))
	s.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: "delete_not_supported",
		Detail: "tenants are never deleted, because their PubNub customers are kept; to stop a tenant, POST " +
			tenantLocation(chi.URLParam(r, "externalId")) + "/disable",
		Extra: map[string]any{"disable": tenantLocation(chi.URLParam(r, "externalId")) + "/disable"}})
}

type eventsRequest struct {
	externalIDParam
	limit  int
	cursor string
}

func (r *eventsRequest) extract(p *params) {
	r.externalIDParam.extract(p)
	r.limit, r.cursor = p.limit(50, 200), p.text("cursor", maxCursorLen)
}

type eventJSON struct {
	ID     int64          `json:"id"`
	Time   time.Time      `json:"time"`
	Actor  string         `json:"actor"`
	Action tenants.Action `json:"action"`
	Detail map[string]any `json:"detail"`
}

type eventsResponse struct {
	Data       []eventJSON `json:"data"`
	NextCursor *string     `json:"nextCursor"`
}

func (s *Server) tenantEvents(ctx context.Context, req *eventsRequest) (eventsResponse, error) {
	events, next, err := s.tenants.Events(ctx, req.externalID, req.limit, req.cursor)
	if err != nil {
		return eventsResponse{}, err
	}
	out := eventsResponse{Data: make([]eventJSON, len(events))}
	for i, e := range events {
		out.Data[i] = eventJSON{ID: e.ID, Time: e.At.UTC(), Actor: e.Actor, Action: e.Action, Detail: e.Detail}
		if out.Data[i].Detail == nil {
			out.Data[i].Detail = map[string]any{}
		}
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

type credentialsRequest struct{ externalIDParam }

type credentialJSON struct {
	Environment  string `json:"environment"`
	KeysetID     string `json:"keysetId"`
	PublishKey   string `json:"publishKey"`
	SubscribeKey string `json:"subscribeKey"`
	SecretKey    string `json:"secretKey"`
}

type credentialsResponse struct {
	Data []credentialJSON `json:"data"`
}

func (credentialsResponse) setHeaders(h http.Header) { h.Set("Cache-Control", "no-store") }

// tenantCredentials returns the keysets' keys, secret keys included: the one place the API
// shows them, behind credentials:read.
func (s *Server) tenantCredentials(ctx context.Context, req *credentialsRequest) (credentialsResponse, error) {
	creds, err := s.tenants.Credentials(ctx, req.externalID)
	if err != nil {
		return credentialsResponse{}, err
	}
	out := credentialsResponse{Data: make([]credentialJSON, len(creds))}
	for i, c := range creds {
		out.Data[i] = credentialJSON(c)
	}
	return out, nil
}
