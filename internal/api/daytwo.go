package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// patchTenantRequest is a JSON merge patch (RFC 7396) of a tenant. A member left out is nil
// (unchanged); the strict decoder refuses null for name, environments and metadata (none can
// be removed), and metadata's values are checked here, where null removes a key.
type patchTenantRequest struct {
	externalIDParam
	preferWait
	Body struct {
		Name         *string        `json:"name"`
		Metadata     map[string]any `json:"metadata"`
		Environments *[]string      `json:"environments"`
	}
}

func (r *patchTenantRequest) extract(p *params) {
	r.externalIDParam.extract(p)
	r.preferWait.extract(p)
}

func (r *patchTenantRequest) body() (any, bool) { return &r.Body, false }

// validate checks the members' shapes: metadata values are strings, or null to remove a key.
func (r *patchTenantRequest) validate() map[string]string {
	errs := map[string]string{}
	for k, v := range r.Body.Metadata {
		if _, ok := v.(string); !ok && v != nil {
			errs["metadata."+k] = "must be a string, or null to remove the key"
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// patch is the request as the domain's Patch.
func (r *patchTenantRequest) patch(actor string) tenants.Patch {
	p := tenants.Patch{Name: r.Body.Name, Actor: actor}
	if r.Body.Environments != nil {
		p.Environments = *r.Body.Environments
		if p.Environments == nil {
			p.Environments = []string{}
		}
	}
	if r.Body.Metadata != nil {
		p.Metadata = make(map[string]*string, len(r.Body.Metadata))
		for k, v := range r.Body.Metadata {
			if v, ok := v.(string); ok {
				p.Metadata[k] = &v
			} else {
				p.Metadata[k] = nil
			}
		}
	}
	return p
}

// patchTenant changes a tenant: 200 when done (metadata only, or nothing to change), 202
// while the reconcile job carries a new name or environments upstream (tenant.updated
// follows). Prefer: wait=N waits for that.
func (s *Server) patchTenant(ctx context.Context, req *patchTenantRequest) (tenantResponse, error) {
	t, err := s.tenants.Update(ctx, req.externalID, req.patch(auth.ActorFrom(ctx).String()))
	return s.settled(ctx, t, err, req.wait)
}

// tenantActionRequest is a POST on a tenant with an empty (or absent) body.
type tenantActionRequest struct {
	externalIDParam
	preferWait
	Body struct{}
}

func (r *tenantActionRequest) extract(p *params) {
	r.externalIDParam.extract(p)
	r.preferWait.extract(p)
}

func (r *tenantActionRequest) body() (any, bool) { return &r.Body, true }

// checkTenant reads the tenant's resources back now and records its drift: 202 while the
// check runs (Prefer: wait=N waits for it), then the tenant shows drift and lastCheckedAt.
func (s *Server) checkTenant(ctx context.Context, req *tenantActionRequest) (tenantResponse, error) {
	t, err := s.tenants.RequestCheck(ctx, req.externalID, auth.ActorFrom(ctx).String())
	return s.settled(ctx, t, err, req.wait)
}

// repairTenant undoes the drift the last check reported: 202 while the work runs, 200 when
// there is nothing it can repair.
func (s *Server) repairTenant(ctx context.Context, req *tenantActionRequest) (tenantResponse, error) {
	t, err := s.tenants.Repair(ctx, req.externalID, auth.ActorFrom(ctx).String())
	return s.settled(ctx, t, err, req.wait)
}

// settled answers a change: 202 while work runs, 200 once none is left; with a wait, once
// the work is done or the wait is over.
func (s *Server) settled(ctx context.Context, t *tenants.Tenant, err error, wait time.Duration) (tenantResponse, error) {
	if err != nil {
		return tenantResponse{}, err
	}
	resp := tenantResponse{status: http.StatusOK, headers: map[string]string{"Location": tenantLocation(t.ExternalID)}}
	if wait > 0 && busy(t) {
		resp.headers["Preference-Applied"] = fmt.Sprintf("wait=%d", int(wait.Seconds()))
		if t, err = s.waitSettled(ctx, t, wait); err != nil {
			return tenantResponse{}, err
		}
	}
	if busy(t) {
		resp.status = http.StatusAccepted
	}
	resp.View = t.View()
	return resp, nil
}

// busy reports whether work is under way on t: a state in flight, or a check pending.
func busy(t *tenants.Tenant) bool {
	return slices.Contains(tenants.InFlight(), t.State) || t.CheckRequested != ""
}
