package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pnonboard/pnonboard/internal/webhooks"
)

type endpointJSON struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	EventTypes              []string   `json:"eventTypes"`
	Enabled                 bool       `json:"enabled"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
}

func endpointFrom(e *webhooks.Endpoint) endpointJSON {
	return endpointJSON{ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, Enabled: e.Enabled,
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), PreviousSecretExpiresAt: utcPtr(e.PreviousSecretExpiresAt)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// endpointSecretResponse is an endpoint with its signing secret: on create and rotation only.
type endpointSecretResponse struct {
	endpointJSON
	Secret string `json:"secret"`
	status int
}

func (r endpointSecretResponse) statusCode() int { return r.status }

func (endpointSecretResponse) setHeaders(h http.Header) { h.Set("Cache-Control", "no-store") }

type endpointBody struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"eventTypes"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (b *endpointBody) params() webhooks.EndpointParams {
	return webhooks.EndpointParams{URL: b.URL, EventTypes: b.EventTypes, Description: b.Description, Enabled: b.Enabled}
}

type createEndpointRequest struct{ Body endpointBody }

func (r *createEndpointRequest) body() (any, bool) { return &r.Body, false }

func (r *createEndpointRequest) validate() map[string]string {
	errs := r.Body.validate()
	if r.Body.URL == nil || *r.Body.URL == "" {
		errs["url"] = "is required"
	}
	if r.Body.Enabled != nil {
		errs["enabled"] = "endpoints start enabled; PATCH to disable"
	}
	return errs
}

// validate checks the shape the contract gives these fields, for create and update alike.
func (b *endpointBody) validate() map[string]string {
	errs := map[string]string{}
	if b.Description != nil && textLen(*b.Description) > 500 {
		errs["description"] = "must be at most 500 characters"
	}
	if b.EventTypes != nil {
		seen := map[string]bool{}
		for i, t := range *b.EventTypes {
			if seen[t] {
				errs[fmt.Sprintf("eventTypes[%d]", i)] = fmt.Sprintf("duplicate event type %q", t)
			}
			seen[t] = true
		}
	}
	return errs
}

func (s *Server) createEndpoint(ctx context.Context, req *createEndpointRequest) (endpointSecretResponse, error) {
	e, secret, err := s.webhooks.CreateEndpoint(ctx, req.Body.params())
	if err != nil {
		return endpointSecretResponse{}, err
	}
	return endpointSecretResponse{endpointJSON: endpointFrom(e), Secret: secret, status: http.StatusCreated}, nil
}

type listEndpointsRequest struct{}

type listEndpointsResponse struct {
	Data []endpointJSON `json:"data"`
}

func (s *Server) listEndpoints(ctx context.Context, _ *listEndpointsRequest) (listEndpointsResponse, error) {
	list, err := s.webhooks.ListEndpoints(ctx)
	if err != nil {
		return listEndpointsResponse{}, err
	}
	out := listEndpointsResponse{Data: make([]endpointJSON, len(list))}
	for i, e := range list {
		out.Data[i] = endpointFrom(e)
	}
	return out, nil
}

type endpointIDParam struct{ id string }

func (e *endpointIDParam) extract(p *params) { e.id = p.path("id") }

type getEndpointRequest struct{ endpointIDParam }

func (s *Server) getEndpoint(ctx context.Context, req *getEndpointRequest) (endpointJSON, error) {
	e, err := s.webhooks.GetEndpoint(ctx, req.id)
	if err != nil {
		return endpointJSON{}, err
	}
	return endpointFrom(e), nil
}

type updateEndpointRequest struct {
	endpointIDParam
	Body endpointBody
}

func (r *updateEndpointRequest) body() (any, bool) { return &r.Body, false }

func (r *updateEndpointRequest) validate() map[string]string {
	if r.Body == (endpointBody{}) {
		return map[string]string{"body": "set at least one of url, eventTypes, description, enabled"}
	}
	return r.Body.validate()
}

func (s *Server) updateEndpoint(ctx context.Context, req *updateEndpointRequest) (endpointJSON, error) {
	e, err := s.webhooks.UpdateEndpoint(ctx, req.id, req.Body.params())
	if err != nil {
		return endpointJSON{}, err
	}
	return endpointFrom(e), nil
}

type deleteEndpointRequest struct{ endpointIDParam }

func (s *Server) deleteEndpoint(ctx context.Context, req *deleteEndpointRequest) (noContent, error) {
	return noContent{}, s.webhooks.DeleteEndpoint(ctx, req.id)
}

type rotateSecretRequest struct{ endpointIDParam }

func (s *Server) rotateEndpointSecret(ctx context.Context, req *rotateSecretRequest) (endpointSecretResponse, error) {
	e, secret, err := s.webhooks.RotateSecret(ctx, req.id)
	if err != nil {
		return endpointSecretResponse{}, err
	}
	return endpointSecretResponse{endpointJSON: endpointFrom(e), Secret: secret, status: http.StatusOK}, nil
}

type attemptJSON struct {
	At              time.Time `json:"at"`
	StatusCode      *int      `json:"statusCode"`
	DurationMs      int64     `json:"durationMs"`
	Error           *string   `json:"error"`
	ResponseExcerpt string    `json:"responseExcerpt"`
}

type deliveryJSON struct {
	ID            string                  `json:"id"`
	EventID       string                  `json:"eventId"`
	EventType     string                  `json:"eventType"`
	Status        webhooks.DeliveryStatus `json:"status"`
	Attempts      []attemptJSON           `json:"attempts"`
	NextAttemptAt *time.Time              `json:"nextAttemptAt"`
	CreatedAt     time.Time               `json:"createdAt"`
	DeliveredAt   *time.Time              `json:"deliveredAt"`
}

func deliveryFrom(d *webhooks.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		NextAttemptAt: utcPtr(d.NextAttemptAt), CreatedAt: d.CreatedAt.UTC(), DeliveredAt: utcPtr(d.DeliveredAt),
		Attempts: make([]attemptJSON, len(d.Attempts))}
	for i, a := range d.Attempts {
		out.Attempts[i] = attemptJSON{At: a.At.UTC(), StatusCode: a.StatusCode, DurationMs: a.Duration.Milliseconds(), Error: a.Error, ResponseExcerpt: a.ResponseExcerpt}
	}
	return out
}

type listDeliveriesRequest struct {
	endpointIDParam
	status, cursor string
	limit          int
}

func (r *listDeliveriesRequest) extract(p *params) {
	r.endpointIDParam.extract(p)
	r.status = p.enum("status", webhooks.DeliveryStatuses())
	r.limit = p.limit(20, 100)
	r.cursor = p.text("cursor", maxCursorLen)
}

type listDeliveriesResponse struct {
	Data       []deliveryJSON `json:"data"`
	NextCursor *string        `json:"nextCursor"`
}

func (s *Server) listDeliveries(ctx context.Context, req *listDeliveriesRequest) (listDeliveriesResponse, error) {
	list, next, err := s.webhooks.ListDeliveries(ctx, req.id, req.status, req.limit, req.cursor)
	if err != nil {
		return listDeliveriesResponse{}, err
	}
	out := listDeliveriesResponse{Data: make([]deliveryJSON, len(list))}
	for i, d := range list {
		out.Data[i] = deliveryFrom(d)
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

type retryDeliveryRequest struct {
	endpointIDParam
	deliveryID string
}

func (r *retryDeliveryRequest) extract(p *params) {
	r.endpointIDParam.extract(p)
	r.deliveryID = p.path("deliveryId")
}

type deliveryResponse struct{ deliveryJSON }

func (deliveryResponse) statusCode() int { return http.StatusAccepted }

func (s *Server) retryDelivery(ctx context.Context, req *retryDeliveryRequest) (deliveryResponse, error) {
	d, err := s.webhooks.RetryDelivery(ctx, req.id, req.deliveryID)
	if err != nil {
		return deliveryResponse{}, err
	}
	return deliveryResponse{deliveryFrom(d)}, nil
}

type listEventsRequest struct{ filter webhooks.EventFilter }

func (r *listEventsRequest) extract(p *params) {
	r.filter = webhooks.EventFilter{
		Type:             p.enum("type", webhooks.EventTypes()),
		TenantExternalID: p.text("tenant", maxIDLen),
		CreatedAfter:     p.time("createdAfter"),
		Limit:            p.limit(50, 100),
		Cursor:           p.text("cursor", maxCursorLen),
	}
}

type eventRecordJSON struct {
	ID               string          `json:"id"`
	Type             string          `json:"type"`
	TenantExternalID string          `json:"tenantExternalId"`
	CreatedAt        time.Time       `json:"createdAt"`
	Payload          json.RawMessage `json:"payload"`
}

type listEventsResponse struct {
	Data       []eventRecordJSON `json:"data"`
	NextCursor *string           `json:"nextCursor"`
}

func (s *Server) listEvents(ctx context.Context, req *listEventsRequest) (listEventsResponse, error) {
	events, next, err := s.webhooks.ListEvents(ctx, req.filter)
	if err != nil {
		return listEventsResponse{}, err
	}
	out := listEventsResponse{Data: make([]eventRecordJSON, len(events))}
	for i, e := range events {
		out.Data[i] = eventRecordJSON{ID: e.ID, Type: e.Type, TenantExternalID: e.TenantExternalID, CreatedAt: e.CreatedAt.UTC(), Payload: e.Payload}
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}
