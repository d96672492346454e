package api

import (
	"net/http"
	"time"

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

	// Public: the contract as a page (Redoc, vendored; internal/api/docs).
	r.Get("/docs", s.handleDocs)                           // GET /docs                      getDocs
	r.Get("/docs/redoc.standalone.js", s.handleDocsScript) // GET /docs/redoc.standalone.js  getDocsScript

	// Operators: metrics (public or admin, per config) and the River job UI (admin).
	if s.metrics != nil {
		if s.metricsPublic {
			r.Method(http.MethodGet, "/metrics", s.metrics) // GET /metrics  getMetrics (public by config)
		} else {
			s.route(r, http.MethodGet, "/metrics", auth.ScopeAdmin, s.metrics) // GET /metrics  getMetrics
		}
	}
	if s.jobUI != nil {
		ui := &uiHandler{s: s, next: http.NewCrossOriginProtection().Handler(s.jobUI)}
		r.Handle(s.jobUIPrefix, ui)      // the River UI (outside the API contract), admin only
		r.Handle(s.jobUIPrefix+"/*", ui) //
	}
	if s.workerOnly {
		return
	}

	// The support console (internal/console): a browser app with its own sessions, outside the
	// API contract. It answers /console and everything under /console/.
	if s.console != nil {
		r.Mount("/console", s.console)
	}

	// Tenants.
	wait := endpointOpts{timeout: maxWait + 15*time.Second}
	s.route(r, http.MethodPost, "/v1/tenants", auth.ScopeTenantsWrite, handleJSON(s, s.createTenant, wait))                               // POST   /v1/tenants                            createTenant
	s.route(r, http.MethodGet, "/v1/tenants", auth.ScopeTenantsRead, handleJSON(s, s.listTenants))                                        // GET    /v1/tenants                            listTenants
	s.route(r, http.MethodGet, "/v1/tenants/{externalId}", auth.ScopeTenantsRead, handleJSON(s, s.getTenant))                             // GET    /v1/tenants/{externalId}               getTenant
	s.route(r, http.MethodDelete, "/v1/tenants/{externalId}", auth.ScopeTenantsDisable, refusedHandler{http.HandlerFunc(s.deleteTenant)}) // DELETE /v1/tenants/{externalId}               deleteTenant (always 405)
	s.route(r, http.MethodPost, "/v1/tenants/{externalId}/disable", auth.ScopeTenantsDisable, handleJSON(s, s.disableTenant))             // POST   /v1/tenants/{externalId}/disable       disableTenant
	s.route(r, http.MethodPost, "/v1/tenants/{externalId}/enable", auth.ScopeTenantsDisable, handleJSON(s, s.enableTenant))               // POST   /v1/tenants/{externalId}/enable        enableTenant
	s.route(r, http.MethodPatch, "/v1/tenants/{externalId}", auth.ScopeTenantsWrite, handleJSON(s, s.patchTenant, wait))                  // PATCH  /v1/tenants/{externalId}               patchTenant
	s.route(r, http.MethodPost, "/v1/tenants/{externalId}/retry", auth.ScopeTenantsWrite, handleJSON(s, s.retryTenant))                   // POST   /v1/tenants/{externalId}/retry         retryTenant
	s.route(r, http.MethodPost, "/v1/tenants/{externalId}/check", auth.ScopeTenantsRead, handleJSON(s, s.checkTenant, wait))              // POST   /v1/tenants/{externalId}/check         checkTenant
	s.route(r, http.MethodPost, "/v1/tenants/{externalId}/repair", auth.ScopeTenantsWrite, handleJSON(s, s.repairTenant, wait))           // POST   /v1/tenants/{externalId}/repair        repairTenant
	s.route(r, http.MethodGet, "/v1/tenants/{externalId}/events", auth.ScopeTenantsRead, handleJSON(s, s.tenantEvents))                   // GET    /v1/tenants/{externalId}/events        listTenantEvents
	s.route(r, http.MethodGet, "/v1/tenants/{externalId}/credentials", auth.ScopeCredentialsRead, handleJSON(s, s.tenantCredentials))     // GET    /v1/tenants/{externalId}/credentials   getTenantCredentials

	// Access Manager tokens (when the server has the token service).
	if s.tokens != nil {
		s.route(r, http.MethodPost, "/v1/tenants/{externalId}/tokens", auth.ScopeTokensWrite, handleJSON(s, s.grantToken))            // POST   /v1/tenants/{externalId}/tokens          createTenantToken
		s.route(r, http.MethodGet, "/v1/tenants/{externalId}/tokens", auth.ScopeTenantsRead, handleJSON(s, s.listTokens))             // GET    /v1/tenants/{externalId}/tokens          listTenantTokens
		s.route(r, http.MethodDelete, "/v1/tenants/{externalId}/tokens/{token}", auth.ScopeTokensWrite, handleJSON(s, s.revokeToken)) // DELETE /v1/tenants/{externalId}/tokens/{token}  revokeTenantToken
		s.route(r, http.MethodPost, "/v1/tokens/parse", auth.ScopeTenantsRead, handleJSON(s, s.parseToken))                           // POST   /v1/tokens/parse                         parseToken
	}

	// Webhooks and the event listing.
	s.route(r, http.MethodPost, "/v1/webhook-endpoints", auth.ScopeWebhooksWrite, handleJSON(s, s.createEndpoint))                                   // POST   /v1/webhook-endpoints                                   createWebhookEndpoint
	s.route(r, http.MethodGet, "/v1/webhook-endpoints", auth.ScopeWebhooksRead, handleJSON(s, s.listEndpoints))                                      // GET    /v1/webhook-endpoints                                   listWebhookEndpoints
	s.route(r, http.MethodGet, "/v1/webhook-endpoints/{id}", auth.ScopeWebhooksRead, handleJSON(s, s.getEndpoint))                                   // GET    /v1/webhook-endpoints/{id}                              getWebhookEndpoint
	s.route(r, http.MethodPatch, "/v1/webhook-endpoints/{id}", auth.ScopeWebhooksWrite, handleJSON(s, s.updateEndpoint))                             // PATCH  /v1/webhook-endpoints/{id}                              updateWebhookEndpoint
	s.route(r, http.MethodDelete, "/v1/webhook-endpoints/{id}", auth.ScopeWebhooksWrite, handleJSON(s, s.deleteEndpoint))                            // DELETE /v1/webhook-endpoints/{id}                              deleteWebhookEndpoint
	s.route(r, http.MethodPost, "/v1/webhook-endpoints/{id}/rotate-secret", auth.ScopeWebhooksWrite, handleJSON(s, s.rotateEndpointSecret))          // POST   /v1/webhook-endpoints/{id}/rotate-secret                rotateWebhookSecret
	s.route(r, http.MethodGet, "/v1/webhook-endpoints/{id}/deliveries", auth.ScopeWebhooksRead, handleJSON(s, s.listDeliveries))                     // GET    /v1/webhook-endpoints/{id}/deliveries                   listWebhookDeliveries
	s.route(r, http.MethodPost, "/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry", auth.ScopeWebhooksWrite, handleJSON(s, s.retryDelivery)) // POST   /v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry retryWebhookDelivery
	s.route(r, http.MethodGet, "/v1/events", auth.ScopeWebhooksRead, handleJSON(s, s.listEvents))                                                    // GET    /v1/events                                              listEvents

	// Usage for cost allocation.
	if s.usage != nil {
		s.route(r, http.MethodGet, "/v1/tenants/{externalId}/usage", auth.ScopeUsageRead, handleJSON(s, s.tenantUsage)) // GET /v1/tenants/{externalId}/usage  getTenantUsage
		s.route(r, http.MethodGet, "/v1/usage", auth.ScopeUsageRead, s.usageReportHandler())                            // GET /v1/usage                       getUsageReport (JSON, or CSV by Accept)
	}

	// API keys: admin only.
	s.route(r, http.MethodPost, "/v1/api-keys", auth.ScopeAdmin, handleJSON(s, s.createAPIKey))        // POST   /v1/api-keys       createApiKey
	s.route(r, http.MethodGet, "/v1/api-keys", auth.ScopeAdmin, handleJSON(s, s.listAPIKeys))          // GET    /v1/api-keys       listApiKeys
	s.route(r, http.MethodDelete, "/v1/api-keys/{id}", auth.ScopeAdmin, handleJSON(s, s.revokeAPIKey)) // DELETE /v1/api-keys/{id}  revokeApiKey
}
