package pubnub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// UsageQuery selects usage metrics. EntityType is "account", "app" or
// "keyset"; From and To are calendar dates (only their date in their own
// location is used), From inclusive and To exclusive; Metrics are names such
// as "txn_total" or "mtd_uuid".
type UsageQuery struct {
	EntityType string
	EntityID   string
	From       time.Time
	To         time.Time
	Metrics    []string
}

// UsageMetrics maps a metric name to its values by day ("YYYY-MM-DD").
type UsageMetrics map[string]map[string]float64

// UnmarshalJSON accepts both documented shapes: an object keyed by metric,
// or an array of such objects, merged (null gives an empty map).
func (m *UsageMetrics) UnmarshalJSON(b []byte) error {
	merged := UsageMetrics{}
	b = bytes.TrimSpace(b)
	var parts []map[string]map[string]float64
	switch {
	case string(b) == "null":
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
	default:
		var one map[string]map[string]float64
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		parts = append(parts, one)
	}
	for _, part := range parts {
		for metric, days := range part {
			if merged[metric] == nil {
				merged[metric] = map[string]float64{}
			}
			maps.Copy(merged[metric], days)
		}
	}
	*m = merged
	return nil
}

// GetUsageMetrics returns daily usage for an account, app or keyset (GET
// /usage-metrics) as metric → day ("YYYY-MM-DD") → value, for the days in
// [From, To) that have data: none before the entity existed, and none for
// today or for yesterday until PubNub's few hours of delay have passed.
// mtd_* metrics are cumulative month to date (the value on a month's last
// day is its total; do not sum them). Both documented answer shapes (an
// object keyed by metric, or an array of such objects) are accepted. An
// unknown metric is a 400 ("Invalid metrics: ..."), an unknown app or
// keyset a 404 ([U] upstream).
func (c *Client) GetUsageMetrics(ctx context.Context, q UsageQuery) (UsageMetrics, error) {
	const op = "get usage metrics"
	from, to := q.From.Format(time.DateOnly), q.To.Format(time.DateOnly)
	switch {
	case q.EntityType == "" || q.EntityID == "":
		return nil, fmt.Errorf("pubnub: %s: entity type and id are required: %w", op, ErrInvalidArgument)
	case len(q.Metrics) == 0:
		return nil, fmt.Errorf("pubnub: %s: no metrics: %w", op, ErrInvalidArgument)
	case to <= from:
		return nil, fmt.Errorf("pubnub: %s: to %s must be after from %s: %w", op, to, from, ErrInvalidArgument)
	}
	query := url.Values{
		"entityType": {q.EntityType},
		"entityId":   {q.EntityID},
		"from":       {from},
		"to":         {to},
		"metrics":    {strings.Join(q.Metrics, ",")},
	}
	var out struct {
		Metrics UsageMetrics `json:"metrics"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/usage-metrics", query: query}, &out); err != nil {
		return nil, err
	}
	if out.Metrics == nil {
		out.Metrics = UsageMetrics{}
	}
	return out.Metrics, nil
}
