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

// Usage (issue 15): the tenant page's Usage section, the totals of every synced metric for
// the tenant's whole app in each of the last usageMonths calendar months (UTC), newest first:
// for each month what GET /v1/tenants/{externalId}/usage?from=<1st>&to=<1st of the next>
// answers (usage:read). The totals are the usage service's (Series), so an mtd_* metric's is
// its last day's value there as in the API.

// usageMonths is how many months the section shows: this month and the two before it.
const usageMonths = 3

type usageView struct {
	SyncedThrough string // the last day synced, "" when nothing is yet
	Months        []usageMonth
}

type usageMonth struct {
	Month   string // "November 2026"
	ID      string // "2026-11", for the table's id
	Current bool   // this month, still running
	Metrics []usageMetric
	Any     bool // some metric has a day stored
}

type usageMetric struct {
	Name  string
	Total string
	How   string // how the total is made from the days
	Days  int    // days with a value
}

// tenantUsage is the tenant's usage in this month and the usageMonths-1 before it (UTC, by
// the usage service's clock), newest first: one Series per month, as the API reads a month.
func (c *Console) tenantUsage(ctx context.Context, t *tenants.Tenant) (*usageView, error) {
	v := &usageView{}
	this := usage.Month(c.usage.Now())
	for i := range usageMonths {
		from := this.AddDate(0, -i, 0)
		series, err := c.usage.Series(ctx, usage.SeriesParams{TenantID: t.ID, From: from, To: from.AddDate(0, 1, 0), Metrics: c.usage.Metrics()})
		if err != nil {
			return nil, err
		}
		if i == 0 && series.SyncedThrough != nil {
			v.SyncedThrough = series.SyncedThrough.Format(time.DateOnly)
		}
		m := usageMonth{Month: from.Format("January 2006"), ID: from.Format("2006-01"), Current: i == 0}
		for _, ms := range series.Metrics {
			m.Metrics = append(m.Metrics, usageMetric{Name: ms.Name, Total: formatNumber(ms.Total), How: totalHow(ms.TotalKind, i == 0), Days: len(ms.Days)})
			m.Any = m.Any || len(ms.Days) > 0
		}
		v.Months = append(v.Months, m)
	}
	return v, nil
}

// totalHow says how a total of kind k is made, for a person; current says the month is
// still running.
func totalHow(k usage.TotalKind, current bool) string {
	switch k {
	case usage.TotalLast:
		if !current {
			return "the month's last synced day's value"
		}
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
