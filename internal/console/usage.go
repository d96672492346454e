package console

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/usage"
)

// Usage (issue 15): the tenant page's Usage section, this month's totals of every synced
// metric for the tenant's whole app, as GET /v1/tenants/{externalId}/usage answers by default
// (usage:read).

type usageView struct {
	Month         string // "November 2026"
	SyncedThrough string // the last day synced, "" when nothing is yet
	Metrics       []usageMetric
	Any           bool // some metric has a day stored
}

type usageMetric struct {
	Name  string
	Total string
	How   string // how the total is made from the days
	Days  int    // days with a value
}

// tenantUsage is the tenant's usage this month (UTC), by the usage service's clock.
func (c *Console) tenantUsage(ctx context.Context, t *tenants.Tenant) (*usageView, error) {
	from := usage.Month(c.usage.Now())
	series, err := c.usage.Series(ctx, usage.SeriesParams{TenantID: t.ID, From: from, To: from.AddDate(0, 1, 0), Metrics: c.usage.Metrics()})
	if err != nil {
		return nil, err
	}
	v := &usageView{Month: from.Format("January 2006")}
	if series.SyncedThrough != nil {
		v.SyncedThrough = series.SyncedThrough.Format(time.DateOnly)
	}
	for _, m := range series.Metrics {
		v.Metrics = append(v.Metrics, usageMetric{Name: m.Name, Total: formatNumber(m.Total), How: totalHow(m.TotalKind), Days: len(m.Days)})
		v.Any = v.Any || len(m.Days) > 0
	}
	return v, nil
}

// totalHow says how a total of kind k is made, for a person.
func totalHow(k usage.TotalKind) string {
	switch k {
	case usage.TotalLast:
		return "month to date (the last day's value)"
	case usage.TotalMean:
		return "mean of the days"
	}
	return "sum of the days"
}

// formatNumber shows n with thousands separators, and two decimals unless it is whole.
func formatNumber(n float64) string {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	s := strconv.FormatFloat(n, 'f', 2, 64)
	if n == math.Trunc(n) && math.Abs(n) < 1e15 {
		s = strconv.FormatFloat(n, 'f', 0, 64)
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}
