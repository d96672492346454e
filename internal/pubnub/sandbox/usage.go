package sandbox

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"
)

// usageMetricNames are the metric names PubNub's MCP server accepts (note
// the source's spelling "steam_controller_*").
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

// maxUsageRange bounds from..to. [U] Undocumented; daily data is kept 12
// months, so the sandbox refuses ranges longer than 366 days.
const maxUsageRange = 366 * 24 * time.Hour

// getUsageMetrics serves GET /v2/usage-metrics?entityType=&entityId=&from=
// &to=&metrics=. Errors use the documented NestJS variant of the error body
// ("error": "Bad Request").
//
// The values are synthetic but deterministic: a hash of entity, metric and
// day, one value per day in [from, to). [U] The response uses the
// array-of-objects shape of the docs' example (one object per metric), the
// harder of the two documented shapes for a client; an app or keyset that
// does not exist is a 404.
func (st *store) getUsageMetrics(r *http.Request) result {
	q := r.URL.Query()
	var errs []string
	entityType, entityID := q.Get("entityType"), q.Get("entityId")
	if !slices.Contains([]string{"account", "app", "keyset"}, entityType) {
		errs = append(errs, "entityType must be one of the following values: account, app, keyset")
	}
	if _, ok := parseNumericID(entityID); !ok {
		errs = append(errs, "entityId must be a numeric string")
	}
	from, errFrom := time.Parse(time.DateOnly, q.Get("from"))
	to, errTo := time.Parse(time.DateOnly, q.Get("to"))
	if errFrom != nil {
		errs = append(errs, "from must be a date in YYYY-MM-DD format")
	}
	if errTo != nil {
		errs = append(errs, "to must be a date in YYYY-MM-DD format")
	}
	if errFrom == nil && errTo == nil && (!to.After(from) || to.Sub(from) > maxUsageRange) {
		errs = append(errs, "to must be after from, at most 366 days later")
	}
	var metrics, unknown []string
	known := strings.Fields(usageMetricNames)
	for m := range strings.SplitSeq(q.Get("metrics"), ",") {
		if !slices.Contains(known, m) {
			unknown = append(unknown, m)
		}
		metrics = append(metrics, m)
	}
	if unknown != nil {
		errs = append(errs, "Invalid metrics: "+strings.Join(unknown, ", "))
	}
	if errs != nil {
		return nestErrorResult(http.StatusBadRequest, errs...)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	id, _ := parseNumericID(entityID)
	_, isApp := st.apps[id]
	_, isKeyset := st.keysets[id]
	if entityType == "app" && !isApp || entityType == "keyset" && !isKeyset {
		return nestErrorResult(http.StatusNotFound, fmt.Sprintf("%s %s not found", entityType, entityID))
	}
	out := make([]map[string]map[string]float64, 0, len(metrics))
	for _, m := range metrics {
		days := map[string]float64{}
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			day := d.Format(time.DateOnly)
			h := fnv.New32a()
			fmt.Fprintf(h, "%s/%s/%s/%s", entityType, id, m, day)
			days[day] = float64(h.Sum32() % 10_000)
		}
		out = append(out, map[string]map[string]float64{m: days})
	}
	return success(http.StatusOK, map[string]any{"metrics": out})
}
