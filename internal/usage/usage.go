// Package usage is per-tenant usage for cost allocation: a background sync of PubNub's daily
// usage metrics into Postgres (Syncer, run by SyncWorker), and the reads the API serves
// (Service): a tenant's daily series with totals, and every tenant's figures for a month.
//
// The sync asks PubNub for one tenant's app (or, per environment, each of its keysets) once per
// day, one call covering a date range: the days since the last sync, plus the last two days it
// already has, which PubNub may have revised. Its calls are background calls on the shared rate
// budget: they take at most the budget's background share and nothing while signups or
// operator work wait. Days are UTC calendar days; a day is asked for once it is over and
// PubNub's delay (Delay) has passed.
package usage

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// Delay is how long after a day ends PubNub's figures for it are available ("delayed about 3–4
// hours"; the sync takes the longer end, as the sandbox does).
const Delay = 4 * time.Hour

// RetentionMonths is how many calendar months of usage are kept: the current one and the twelve
// before it.
const RetentionMonths = 13

// maxRangeDays is the longest range one call asks for. PubNub keeps daily figures 12 months;
// the sandbox refuses ranges over 366 days.
const maxRangeDays = 366

// DefaultMetrics is PNONBOARD_USAGE_METRICS's default: what a bill is made of.
const DefaultMetrics = "txn_total,mtd_uuid,publish,subscribe_msgs,bytes_stored"

// KnownMetrics lists every metric name PubNub's usage endpoint accepts.
func KnownMetrics() []string { return pubnub.UsageMetricNames() }

// ParseMetrics reads a comma-separated metric list (PNONBOARD_USAGE_METRICS): names trimmed,
// duplicates dropped, order kept. It names every unknown metric, and refuses an empty list.
func ParseMetrics(s string) ([]string, error) {
	known := KnownMetrics()
	var out, unknown []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "" || slices.Contains(out, name):
		case !slices.Contains(known, name):
			unknown = append(unknown, fmt.Sprintf("%q", name))
		default:
			out = append(out, name)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown metric %s (the names of PubNub's usage metrics, e.g. %s)", strings.Join(unknown, ", "), DefaultMetrics)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no metrics (e.g. %s)", DefaultMetrics)
	}
	return out, nil
}

// TotalKind says how a metric's days make a total over a range.
type TotalKind string

// The kinds of totals.
const (
	// TotalSum adds the days up: transactions, messages, bytes.
	TotalSum TotalKind = "sum"
	// TotalLast takes the value on the last day: mtd_* metrics are cumulative month to date,
	// so the last day of a month is the month's figure (mtd_uuid: its monthly active users).
	TotalLast TotalKind = "last"
	// TotalMean averages the days: averages and ratios, which do not add up.
	TotalMean TotalKind = "mean"
)

// TotalKindOf is how metric's total is made.
func TotalKindOf(metric string) TotalKind {
	switch {
	case strings.HasPrefix(metric, "mtd_"):
		return TotalLast
	case slices.Contains(meanMetrics(), metric):
		return TotalMean
	}
	return TotalSum
}

// meanMetrics are the known metrics that are averages or ratios (mtd_txn_mtd_uuid_ratio is
// month to date, so TotalLast).
func meanMetrics() []string { return []string{"publish_msg_average_size", "message_ratio"} }

// Day is t's UTC calendar date, at midnight UTC.
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Month is the first day of t's UTC month.
func Month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// LastDay is the last day whose figures PubNub has at now: the day before the UTC date of
// now − Delay.
func LastDay(now time.Time) time.Time { return Day(now.Add(-Delay)).AddDate(0, 0, -1) }

// RetentionStart is the first day kept at now: the 1st of the month RetentionMonths−1 months
// before now's.
func RetentionStart(now time.Time) time.Time {
	return Month(now).AddDate(0, -(RetentionMonths - 1), 0)
}

// SyncEnd is the last day a tenant disabled at disabledAt is synced through: a full month after
// the disable (its last bill, and the late revisions to it). nil (not disabled) has no end.
func SyncEnd(disabledAt *time.Time) (time.Time, bool) {
	if disabledAt == nil {
		return time.Time{}, false
	}
	return Day(disabledAt.AddDate(0, 1, 0)), true
}

func days(from, to time.Time) int { return int(to.Sub(from).Hours()/24 + 0.5) }
