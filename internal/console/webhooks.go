package console

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/pnonboard/pnonboard/internal/webhooks"
)

const (
	deliveriesPerPage = 20
	eventsPerPage     = 50
)

// --- Endpoints

type endpointsRequest struct{}

type endpointsView struct {
	Endpoints []*webhooks.Endpoint
}

func (c *Console) listEndpoints(ctx context.Context, _ *user, _ *endpointsRequest) (*page, error) {
	list, err := c.webhooks.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	return &page{name: "webhooks", title: "Webhook endpoints", nav: "webhooks", data: endpointsView{Endpoints: list}}, nil
}

// --- One endpoint's deliveries

type endpointRequest struct {
	id, status, cursor, done string
}

func (r *endpointRequest) extract(p *params) {
	r.id = p.path("id")
	r.status = p.enum("status", webhooks.DeliveryStatuses())
	r.cursor = p.query("cursor", 512)
	r.done = p.query("done", 50)
}

type endpointView struct {
	Endpoint   *webhooks.Endpoint
	Status     string
	Statuses   []string
	Deliveries []*webhooks.Delivery
	pager
	Notice string
}

func (c *Console) endpointPage(ctx context.Context, _ *user, req *endpointRequest) (*page, error) {
	e, err := c.webhooks.GetEndpoint(ctx, req.id)
	if err != nil {
		return nil, err
	}
	list, next, err := c.webhooks.ListDeliveries(ctx, req.id, req.status, deliveriesPerPage, req.cursor)
	if err != nil {
		return nil, err
	}
	v := endpointView{Endpoint: e, Status: req.status, Statuses: webhooks.DeliveryStatuses(), Deliveries: list}
	v.pager = pageLinks(consolePath("webhooks", e.ID), req.cursor, next, "status", req.status)
	if req.done == "redeliver" {
		v.Notice = "Redelivery requested: a new attempt is made now, with the same webhook-id."
	}
	return &page{name: "endpoint", title: "Webhook endpoint " + e.URL, nav: "webhooks", data: v}, nil
}

// --- Redeliver: a confirm page, then the POST

type redeliverRequest struct {
	endpointID, deliveryID string
}

func (r *redeliverRequest) extract(p *params) {
	r.endpointID, r.deliveryID = p.path("id"), p.path("deliveryId")
}

func (c *Console) confirmRedeliver(ctx context.Context, _ *user, req *redeliverRequest) (*page, error) {
	e, err := c.webhooks.GetEndpoint(ctx, req.endpointID)
	if err != nil {
		return nil, err
	}
	return &page{name: "confirm", title: "Redeliver", nav: "webhooks", data: confirmView{
		Heading: "Redeliver this webhook?", Subject: "Delivery " + req.deliveryID + " to " + e.URL,
		Explain: "The event is sent to the endpoint again now, with the same webhook-id (receivers deduplicate on it). " +
			"A finished delivery gets a new series of attempts; one waiting for its next retry is moved up to now.",
		Button: "Redeliver",
		Action: consolePath("webhooks", req.endpointID, "deliveries", req.deliveryID, "redeliver"),
		Cancel: consolePath("webhooks", req.endpointID),
	}}, nil
}

func (c *Console) redeliver(ctx context.Context, _ *user, req *redeliverRequest) (*page, error) {
	if _, err := c.webhooks.RetryDelivery(ctx, req.endpointID, req.deliveryID); err != nil {
		return nil, err
	}
	c.logAction(ctx, "redeliver", "endpoint_id", req.endpointID, "delivery_id", req.deliveryID)
	return &page{redirect: withQuery(consolePath("webhooks", req.endpointID), "done", "redeliver")}, nil
}

// --- The event log

type eventsRequest struct {
	filter webhooks.EventFilter
	form   eventsForm
}

type eventsForm struct {
	Type, Tenant, From string
}

func (r *eventsRequest) extract(p *params) {
	r.form = eventsForm{Type: p.enum("type", webhooks.EventTypes()), Tenant: p.query("tenant", maxQueryLen), From: p.query("from", 10)}
	r.filter = webhooks.EventFilter{Type: r.form.Type, TenantExternalID: r.form.Tenant, Limit: eventsPerPage, Cursor: p.query("cursor", 512)}
	if from, ok := parseDate(p, "from", r.form.From); ok {
		r.filter.CreatedAfter = from
	}
}

type eventsView struct {
	Form   eventsForm
	Types  []string
	Events []eventRow
	pager
}

type eventRow struct {
	ID, Type, Tenant string
	CreatedAt        time.Time
	Payload          string // indented JSON
}

func (c *Console) listEvents(ctx context.Context, _ *user, req *eventsRequest) (*page, error) {
	list, next, err := c.webhooks.ListEvents(ctx, req.filter)
	if err != nil {
		return nil, err
	}
	v := eventsView{Form: req.form, Types: webhooks.EventTypes()}
	for _, e := range list {
		var buf bytes.Buffer
		if json.Indent(&buf, e.Payload, "", "  ") != nil {
			buf.Reset()
			buf.Write(e.Payload)
		}
		v.Events = append(v.Events, eventRow{ID: e.ID, Type: e.Type, Tenant: e.TenantExternalID, CreatedAt: e.CreatedAt, Payload: buf.String()})
	}
	kv := []string{"type", req.form.Type, "tenant", req.form.Tenant, "from", req.form.From}
	v.pager = pageLinks(Prefix+"/events", req.filter.Cursor, next, kv...)
	return &page{name: "events", title: "Events", nav: "events", data: v}, nil
}
