package sandbox

import (
	"fmt"
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

// UsageDelay is how far usage data lags: a day's values appear once the day
// is over and UsageDelay has passed ("delayed ~3-4 h" in the docs; the
// sandbox takes the longer end).
const UsageDelay = 4 * time.Hour

// UsageShape selects which of the two documented answer shapes
// GET /v2/usage-metrics uses.
type UsageShape int

const (
	// UsageShapeObject answers {"metrics": {"<metric>": {"YYYY-MM-DD": n}}},
	// the docs' schema (and PubNub's MCP client's type). The default.
	UsageShapeObject UsageShape = iota
	// UsageShapeArray answers {"metrics": [{"<metric>": {...}}, ...]}, one
	// single-metric object per requested metric, the docs' example.
	UsageShapeArray
)

// String names the shape as ParseUsageShape reads it: "object" or "array".
func (u UsageShape) String() string {
	if u == UsageShapeArray {
		return "array"
	}
	return "object"
}

// ParseUsageShape reads "object" (or "", the default) or "array", the form
// of PNONBOARD_SANDBOX_USAGE_SHAPE.
func ParseUsageShape(s string) (UsageShape, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "object":
		return UsageShapeObject, nil
	case "array":
		return UsageShapeArray, nil
	}
	return 0, fmt.Errorf("usage shape %q: want object or array", s)
}

// Synthetic usage.
//
// The sandbox makes up usage for every keyset it holds, deterministically, so
// that tests know every value exactly:
//
//   - A keyset's daily value of a metric is KeysetDailyUsage(id, metric,
//     day): 1 + FNV-1a-64("<id>/<metric>/<YYYY-MM-DD>") mod 1000, an
//     integer from 1 to 1000.
//   - A metric named mtd_* is cumulative month to date: on a day, the sum of
//     the daily values from the 1st of that month (or the keyset's creation
//     day, if later) to that day. It restarts on the 1st.
//   - An app's value is the sum of its keysets' values on that day (keysets
//     that did not exist yet count nothing), so syncing per keyset and per
//     app agree exactly; an account's is the sum over all keysets.
//   - A day has data only from the entity's creation day (UTC) on, and only
//     once it is over and UsageDelay has passed: the last day with data is
//     the day before the UTC date of now - UsageDelay. Other days are absent
//     from the answer, not zero. [I] An account has data on every day up to
//     that one (its creation day is unknown; its value is 0 before any
//     keyset existed).
//   - [U] A deleted keyset is forgotten, and with it its share of its app's
//     and the account's past usage; a real account would keep billing it.
//
// UsageValue computes exactly what the endpoint answers.

// KeysetDailyUsage is the synthetic daily value of metric for keysetID on
// day's calendar date (in day's location), before the creation-day and
// delay rules and before mtd_* accumulation: 1 + FNV-1a-64 of
// "<keysetID>/<metric>/<YYYY-MM-DD>" mod 1000.
func KeysetDailyUsage(keysetID, metric string, day time.Time) float64 {
	return dailyUsage(keysetID, metric, day.Format(time.DateOnly))
}

func dailyUsage(keysetID, metric, day string) float64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, part := range [...]string{keysetID, "/", metric, "/", day} {
		for i := 0; i < len(part); i++ {
			h ^= uint64(part[i])
			h *= prime
		}
	}
	return float64(1 + h%1000)
}

// UsageValue returns what GET /v2/usage-metrics answers for one entity
// ("account", "app" or "keyset"), metric and day (its calendar date in its
// location), given the sandbox's current state and clock; ok is false when
// the answer would not contain that day (unknown entity or metric, a day
// before the entity's creation or not yet available).
func (s *Sandbox) UsageValue(entityType, entityID, metric string, day time.Time) (value float64, ok bool) {
	d, err := time.Parse(time.DateOnly, day.Format(time.DateOnly))
	if err != nil || !slices.Contains(strings.Fields(usageMetricNames), metric) {
		return 0, false
	}
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	series, found := st.usageLocked(entityType, entityID, []string{metric}, d, d.AddDate(0, 0, 1))
	if !found {
		return 0, false
	}
	value, ok = series[metric][d.Format(time.DateOnly)]
	return value, ok
}

// lastUsageDay is the last day with usage data at now.
func lastUsageDay(now time.Time) time.Time {
	d := now.UTC().Add(-UsageDelay)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
}

// utcDay is t's UTC calendar date at midnight.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// usageLocked computes the series of metrics for days in [from, to) (UTC
// midnights) of an entity; found is false for an unknown app or keyset.
// st.mu must be held.
func (st *store) usageLocked(entityType, entityID string, metrics []string, from, to time.Time) (map[string]map[string]float64, bool) {
	id, _ := parseNumericID(entityID)
	var keysets []*Keyset
	first := time.Time{} // the entity's creation day; zero for an account
	switch entityType {
	case "app":
		a, ok := st.apps[id]
		if !ok {
			return nil, false
		}
		first = utcDay(a.CreatedAt)
		for _, kid := range st.appKeysets[id] {
			keysets = append(keysets, st.keysets[kid])
		}
	case "keyset":
		k, ok := st.keysets[id]
		if !ok {
			return nil, false
		}
		first = utcDay(k.CreatedAt)
		keysets = []*Keyset{k}
	default: // account
		for _, kid := range st.ksOrder {
			keysets = append(keysets, st.keysets[kid])
		}
	}
	last := lastUsageDay(st.now())
	out := make(map[string]map[string]float64, len(metrics))
	for _, m := range metrics {
		days := map[string]float64{}
		out[m] = days
		cumulative := strings.HasPrefix(m, "mtd_")
		// Walk from the first of from's month so that mtd_* sums are whole.
		start := from
		if cumulative {
			start = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
		}
		running := make([]float64, len(keysets))
		for d := start; d.Before(to) && !d.After(last); d = d.AddDate(0, 0, 1) {
			if d.Day() == 1 {
				clear(running)
			}
			day := d.Format(time.DateOnly)
			total := 0.0
			for i, k := range keysets {
				if d.Before(utcDay(k.CreatedAt)) {
					continue
				}
				v := dailyUsage(k.ID, m, day)
				if cumulative {
					running[i] += v
					v = running[i]
				}
				total += v
			}
			if !d.Before(from) && !d.Before(first) {
				days[day] = total
			}
		}
	}
	return out, true
}

// getUsageMetrics serves GET /v2/usage-metrics?entityType=&entityId=&from=
// &to=&metrics=: the synthetic usage above for each requested metric and
// each day in [from, to) that has data, in the shape Opts.UsageShape
// selects. Errors use the documented NestJS variant of the error body
// ({"statusCode":400,"message":["Invalid metrics: x"],"error":"Bad
// Request"}).
//
// [U] An app or keyset that does not exist is a 404; entityId of an account
// is not checked (the sandbox has no account ID); a metric named twice is
// answered once.
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
		if !slices.Contains(metrics, m) {
			metrics = append(metrics, m)
		}
	}
	if unknown != nil {
		errs = append(errs, "Invalid metrics: "+strings.Join(unknown, ", "))
	}
	if errs != nil {
		return nestErrorResult(http.StatusBadRequest, errs...)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	series, found := st.usageLocked(entityType, entityID, metrics, from, to)
	if !found {
		return nestErrorResult(http.StatusNotFound, fmt.Sprintf("%s %s not found", entityType, entityID))
	}
	if st.usageShape == UsageShapeArray {
		out := make([]map[string]map[string]float64, 0, len(metrics))
		for _, m := range metrics {
			out = append(out, map[string]map[string]float64{m: series[m]})
		}
		return success(http.StatusOK, map[string]any{"metrics": out})
	}
	return success(http.StatusOK, map[string]any{"metrics": series})
}
