package sandbox

import (
	"errors"
	"fmt"
	"net/http"
)

// AdminPrefix is where the sandbox's own admin routes live, beside the Admin
// API's /v2. They expose the portal methods over HTTP for dev mode and for
// tests that drive a sandbox in another process:
//
//	GET    /_sandbox/state                  the whole state (State, as JSON)
//	POST   /_sandbox/prefill                {"tenants": n (≤ 100,000), "environments"?: [...], "externalIdPrefix"?: "..."}
//	PATCH  /_sandbox/apps/{id}              {"name": "..."}
//	DELETE /_sandbox/apps/{id}              delete an app with its keysets (and their assignments)
//	PATCH  /_sandbox/keysets/{id}           {"name"?: "...", "accessManager"?: true|false, "appId"?: "..."}
//	DELETE /_sandbox/keysets/{id}           delete a keyset (and its assignment)
//	PUT    /_sandbox/keysets/{id}/customer  {"customerId": "..."}: assign a keyset (taking it from its customer)
//	DELETE /_sandbox/keysets/{id}/customer  unassign a keyset from its customer
//	PATCH  /_sandbox/customers/{id}         {"name"?: "...", "externalId"?: "..."}
//	DELETE /_sandbox/customers/{id}         delete a customer (its keysets stay)
//
// They need the same Authorization as the API (401 otherwise) but no
// PubNub-Version; they are not rate limited, never faulted, not permission
// checked and not recorded in Calls, so they never disturb what a test
// counts. Success is 200 with the changed resource as the sandbox holds it
// (App, Keyset or Customer) or {"success": true}; errors use PubNub's error
// body (400, 404). Behind http.StripPrefix("/sandbox", ...) they are at
// /sandbox/_sandbox/....
const AdminPrefix = "/_sandbox"

// maxPrefillTenants bounds one POST /_sandbox/prefill, so that a typo cannot
// exhaust memory (the Go method has no bound).
const maxPrefillTenants = 100_000

// addAdminRoutes mounts the admin routes.
func (s *Sandbox) addAdminRoutes() {
	admin := func(pattern string, h handlerFunc) {
		s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.authorized(r) {
				write(w, errorResult(http.StatusUnauthorized, "Invalid or missing API key in the Authorization header"))
				return
			}
			write(w, h(r))
		}))
	}
	admin("GET "+AdminPrefix+"/state", func(*http.Request) result { return success(http.StatusOK, s.Snapshot()) })
	admin("POST "+AdminPrefix+"/prefill", s.adminPrefill)
	admin("PATCH "+AdminPrefix+"/apps/{id}", s.adminUpdateApp)
	admin("DELETE "+AdminPrefix+"/apps/{id}", func(r *http.Request) result {
		return done(s.DeleteApp(r.PathValue("id")))
	})
	admin("PATCH "+AdminPrefix+"/keysets/{id}", s.adminUpdateKeyset)
	admin("DELETE "+AdminPrefix+"/keysets/{id}", func(r *http.Request) result {
		return done(s.DeleteKeyset(r.PathValue("id")))
	})
	admin("PUT "+AdminPrefix+"/keysets/{id}/customer", s.adminAssignKeyset)
	admin("DELETE "+AdminPrefix+"/keysets/{id}/customer", func(r *http.Request) result {
		return s.keysetResult(r.PathValue("id"), s.UnassignKeyset(r.PathValue("id")))
	})
	admin("PATCH "+AdminPrefix+"/customers/{id}", s.adminUpdateCustomer)
	admin("DELETE "+AdminPrefix+"/customers/{id}", func(r *http.Request) result {
		return done(s.DeleteCustomer(r.PathValue("id")))
	})
	admin(AdminPrefix+"/", notFound)
}

func (s *Sandbox) adminPrefill(r *http.Request) result {
	var in struct {
		Tenants          int      `json:"tenants"`
		Environments     []string `json:"environments"`
		ExternalIDPrefix string   `json:"externalIdPrefix"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	if in.Tenants > maxPrefillTenants {
		return errorResult(http.StatusBadRequest, fmt.Sprintf("tenants must be at most %d per call", maxPrefillTenants))
	}
	opts := &PrefillOpts{Environments: in.Environments}
	if in.ExternalIDPrefix != "" {
		opts.ExternalIDFunc = func(i int) string { return fmt.Sprintf("%s%06d", in.ExternalIDPrefix, i+1) }
	}
	tenants, err := s.Prefill(in.Tenants, opts)
	if err != nil {
		return adminError(err)
	}
	return success(http.StatusOK, map[string]any{"tenants": len(tenants)})
}

func (s *Sandbox) adminUpdateApp(r *http.Request) result {
	var in struct {
		Name string `json:"name"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	id := r.PathValue("id")
	if err := s.RenameApp(id, in.Name); err != nil {
		return adminError(err)
	}
	return s.lookup(func(st *store) (any, bool) {
		a, ok := st.apps[id]
		return derefOr(a), ok
	})
}

func (s *Sandbox) adminUpdateKeyset(r *http.Request) result {
	var in struct {
		Name          *string `json:"name"`
		AccessManager *bool   `json:"accessManager"`
		AppID         *string `json:"appId"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	id := r.PathValue("id")
	if in.Name == nil && in.AccessManager == nil && in.AppID == nil {
		return errorResult(http.StatusBadRequest, "name, accessManager or appId is required")
	}
	if in.Name != nil {
		if err := s.RenameKeyset(id, *in.Name); err != nil {
			return adminError(err)
		}
	}
	if in.AccessManager != nil {
		if err := s.SetAccessManager(id, *in.AccessManager); err != nil {
			return adminError(err)
		}
	}
	if in.AppID != nil {
		if err := s.MoveKeyset(id, *in.AppID); err != nil {
			return adminError(err)
		}
	}
	return s.keysetResult(id, nil)
}

func (s *Sandbox) adminAssignKeyset(r *http.Request) result {
	var in struct {
		CustomerID string `json:"customerId"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	if in.CustomerID == "" {
		return errorResult(http.StatusBadRequest, "customerId is required")
	}
	id := r.PathValue("id")
	return s.keysetResult(id, s.AssignKeyset(id, in.CustomerID))
}

func (s *Sandbox) adminUpdateCustomer(r *http.Request) result {
	var in struct {
		Name       *string `json:"name"`
		ExternalID *string `json:"externalId"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	id := r.PathValue("id")
	if in.Name == nil && in.ExternalID == nil {
		return errorResult(http.StatusBadRequest, "name or externalId is required")
	}
	if in.Name != nil {
		if err := s.RenameCustomer(id, *in.Name); err != nil {
			return adminError(err)
		}
	}
	if in.ExternalID != nil {
		if err := s.SetCustomerExternalID(id, *in.ExternalID); err != nil {
			return adminError(err)
		}
	}
	return s.lookup(func(st *store) (any, bool) {
		c, ok := st.customers[id]
		if !ok {
			return nil, false
		}
		return c.clone(), true
	})
}

// keysetResult answers keyset id as the sandbox holds it, or err.
func (s *Sandbox) keysetResult(id string, err error) result {
	if err != nil {
		return adminError(err)
	}
	return s.lookup(func(st *store) (any, bool) {
		k, ok := st.keysets[id]
		if !ok {
			return nil, false
		}
		return k.clone(), true
	})
}

// lookup answers 200 with what find returns under the store's lock, or 404
// (the resource was deleted meanwhile).
func (s *Sandbox) lookup(find func(st *store) (any, bool)) result {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	v, ok := find(st)
	if !ok {
		return adminError(ErrNotFound)
	}
	return success(http.StatusOK, v)
}

func derefOr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// done answers {success: true}, or err.
func done(err error) result {
	if err != nil {
		return adminError(err)
	}
	return success(http.StatusOK, map[string]bool{"success": true})
}

// adminError maps a portal method's error to PubNub's error body.
func adminError(err error) result {
	switch {
	case errors.Is(err, ErrNotFound):
		return errorResult(http.StatusNotFound, err.Error())
	case errors.Is(err, ErrInvalid):
		return errorResult(http.StatusBadRequest, err.Error())
	}
	return errorResult(http.StatusInternalServerError, err.Error())
}
