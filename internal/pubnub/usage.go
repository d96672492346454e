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

// usageMetricNames are the metric names the usage endpoint accepts, as PubNub's MCP server
// lists them (docs/pubnub.md; note the source's spelling "steam_controller_*").
const usageMetricNames = `txn_total mtd_txn_total replicated signals edge message_actions free mtd_uuid uuid pn_uuid msgs_total publish
subscribe_msgs history_msgs files_msgs push_msgs bytes_stored bytes_stored_blocks bytes_stored_channel_groups
bytes_stored_files bytes_stored_messages bytes_stored_push bytes_stored_size_auth bytes_stored_users
bytes_stored_memberships accessmanager_audits_transactions accessmanager_grants_v3_transactions
accessmanager_grants_transactions accessmanager_replicated accessmanager_edge accessmanager_clienterrors_transactions
executions kv_read_transactions kv_write_transactions xhr_transactions functions_replicated functions_edge
misfire_client_transactions misfire_eh_transactions fire_transactions fire_eh_transactions fire_client_transactions
history_messages_count_transactions history_transactions history_edge history_with_actions_transactions
history_clienterrors_transactions history_with_actions_clienterrors_transactions
history_with_actions_unauthorized_transactions message_actions_add_transactions message_actions_get_transactions
message_actions_remove_transactions subscribe_message_actions_transactions message_actions_clienterrors_transactions
message_actions_unauthorized_transactions objects_create_space_transactions objects_create_user_transactions
objects_delete_space_transactions objects_delete_user_transactions objects_get_all_spaces_transactions
objects_get_all_users_transactions objects_get_space_transactions objects_get_user_space_memberships_transactions
objects_get_space_user_memberships_transactions objects_get_user_transactions objects_update_space_transactions
objects_update_space_user_memberships_transactions objects_update_user_space_memberships_transactions
objects_update_user_transactions internal_publish_objects_transactions objects_replicated objects_edge objects_users
objects_spaces objects_memberships objects_errors objects_clienterrors_transactions objects_unauthorized_transactions
presence_getuserstate_transactions presence_herenow_global_transactions presence_herenow_transactions
presence_leave_transactions presence_setuserstate_transactions presence_heartbeats_transactions
presence_wherenow_transactions presence_replicated presence_edge presence_clienterrors_transactions
apns_sent_transactions apns_removed_transactions mpns_sent_transactions mpns_removed_transactions
gcm_removed_transactions gcm_sent_transactions push_device_writes_transactions push_device_reads_transactions
push_notifications_replicated push_notifications_edge push_notifications_apple push_notifications_android
push_notifications_microsoft push_device_clienterrors_transactions steam_controller_edge steam_controller_replicated
streamcontroller_reads_transactions streamcontroller_writes_transactions streamcontroller_clienterrors_transactions
subscribe_transactions subscribe_timeouts_transactions subscribe_objects_transactions subscribe_heartbeats_transactions
subscribe_streaming_transactions subscribe_clientclosedconnection_transactions subscribe_edge
subscribe_signal_transactions subscribe_files_transactions subscribe_clienterrors_transactions
subscribe_unauthorized_transactions publish_transactions publish_edge publish_replicated publish_bytes
publish_msg_average_size publish_clienterrors_transactions publish_unauthorized_transactions signal_transactions
signal_clienterrors_transactions signal_unauthorized_transactions files_publish_transactions
files_delete_file_transactions files_generate_url_transactions files_get_file_transactions
files_get_all_files_transactions files_replicated files_edge files_clienterrors_transactions
files_unauthorized_transactions events_ingested subscribe_bytes message_ratio mtd_txn_mtd_uuid_ratio channel ip
key_ip_ch key_ip_ua pres_pub`

// UsageMetricNames lists every metric name the usage endpoint accepts.
func UsageMetricNames() []string { return strings.Fields(usageMetricNames) }
