package usage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

// ServiceOpts configure a Service.
type ServiceOpts struct {
	Pool *pgxpool.Pool
	// Metrics are the synced metrics (PNONBOARD_USAGE_METRICS), in report column order; nil
	// means DefaultMetrics.
	Metrics []string
	// ByEnvironment says per-environment figures are synced (PNONBOARD_USAGE_BY_ENVIRONMENT).
	ByEnvironment bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PageSize is how many tenants a report reads at a time; zero means 1000.
	PageSize int
}

// Service reads the synced usage for the API.
type Service struct {
	opts ServiceOpts
}

// NewService returns a Service.
func NewService(opts ServiceOpts) *Service {
	if len(opts.Metrics) == 0 {
		opts.Metrics, _ = ParseMetrics(DefaultMetrics)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PageSize == 0 {
		opts.PageSize = 1000
	}
	return &Service{opts: opts}
}

// Metrics are the synced metrics, in report column order.
func (s *Service) Metrics() []string { return slices.Clone(s.opts.Metrics) }

// ByEnvironment says whether per-environment figures are synced.
func (s *Service) ByEnvironment() bool { return s.opts.ByEnvironment }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.opts.Now() }

// SeriesParams select a tenant's daily usage.
type SeriesParams struct {
	TenantID int64
	// Environment is "" for the app (the tenant's whole usage), or one environment's keyset.
	Environment string
	// From (inclusive) and To (exclusive) are UTC days.
	From, To time.Time
	// Metrics are among Service.Metrics.
	Metrics []string
}

// Series is a tenant's daily usage over a range.
type Series struct {
	// SyncedThrough is the last day stored for every metric asked (nil: none synced yet).
	SyncedThrough *time.Time
	// Metrics are in the order asked.
	Metrics []MetricSeries
}

// MetricSeries is one metric's days and total.
type MetricSeries struct {
	Name      string
	TotalKind TotalKind
	// Total is the days' sum, the last day's value (TotalLast), or their mean; 0 with no days.
	Total float64
	// Days are the days that have a value, in order.
	Days []DayValue
}

// DayValue is one day's figure.
type DayValue struct {
	Day   time.Time
	Value float64
}

// Series returns the tenant's stored days of each metric in [From, To).
func (s *Service) Series(ctx context.Context, p SeriesParams) (*Series, error) {
	out := &Series{Metrics: make([]MetricSeries, len(p.Metrics))}
	index := map[string]int{}
	for i, m := range p.Metrics {
		out.Metrics[i] = MetricSeries{Name: m, TotalKind: TotalKindOf(m), Days: []DayValue{}}
		index[m] = i
	}
	rows, err := s.opts.Pool.Query(ctx, `
		SELECT metric, day, value FROM usage_daily
		WHERE tenant_id = $1 AND environment = $2 AND day >= $3 AND day < $4 AND metric = ANY($5)
		ORDER BY metric, day`, p.TenantID, p.Environment, Day(p.From), Day(p.To), p.Metrics)
	if err != nil {
		return nil, fmt.Errorf("read usage of tenant %d: %w", p.TenantID, err)
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var m string
		var d DayValue
		if err := row.Scan(&m, &d.Day, &d.Value); err != nil {
			return struct{}{}, err
		}
		ms := &out.Metrics[index[m]]
		ms.Days = append(ms.Days, d)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read usage of tenant %d: %w", p.TenantID, err)
	}
	for i := range out.Metrics {
		out.Metrics[i].Total = total(out.Metrics[i].TotalKind, out.Metrics[i].Days)
	}
	var st syncState
	err = s.opts.Pool.QueryRow(ctx, `SELECT metrics, synced_through FROM usage_sync_state WHERE tenant_id = $1 AND environment = $2`,
		p.TenantID, p.Environment).Scan(&st.metrics, &st.through)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read usage sync state of tenant %d: %w", p.TenantID, err)
	}
	if st.covers(p.Metrics) {
		out.SyncedThrough = st.through
	}
	return out, nil
}

func total(kind TotalKind, days []DayValue) float64 {
	if len(days) == 0 {
		return 0
	}
	switch kind {
	case TotalLast:
		return days[len(days)-1].Value
	case TotalMean:
		sum := 0.0
		for _, d := range days {
			sum += d.Value
		}
		return sum / float64(len(days))
	}
	sum := 0.0
	for _, d := range days {
		sum += d.Value
	}
	return sum
}

// ReportRow is one tenant's figures for a month.
type ReportRow struct {
	TenantID   int64
	ExternalID string
	Name       string
	State      tenants.State
	// Complete says the month is synced through its last day (or through the end of a
	// disabled tenant's sync, a month after its disable, when that falls inside the month).
	Complete bool
	// SyncedThrough is the last day synced for every metric (nil: none yet).
	SyncedThrough *time.Time
	// Values are the month's figures, in Service.Metrics order (0 where nothing is stored).
	Values []float64
}

// Report returns up to limit rows of month's report for the tenants after tenant ID after, in
// tenant ID order, and the after of the next page (0 on the last page).
func (s *Service) Report(ctx context.Context, month time.Time, after int64, limit int) ([]ReportRow, int64, error) {
	var out []ReportRow
	errFull := errors.New("page full")
	err := s.report(ctx, month, after, func(r ReportRow) error {
		out = append(out, r)
		if len(out) > limit {
			return errFull
		}
		return nil
	}, nil)
	if err != nil && !errors.Is(err, errFull) {
		return nil, 0, err
	}
	if len(out) > limit {
		return out[:limit], out[limit-1].TenantID, nil
	}
	return out, 0, nil
}

// ReportRows calls fn with every row of month's report, in tenant ID order, as it reads them:
// tenants and their figures a page at a time, never the whole report in memory. After each
// page it calls pageDone when set (a writer flushes there). It stops at fn's first error.
func (s *Service) ReportRows(ctx context.Context, month time.Time, fn func(ReportRow) error, pageDone func() error) error {
	return s.report(ctx, month, 0, fn, pageDone)
}

// report is which tenants a month's report lists: every tenant with an app (or keysets)
// created by the month's end and still synced at its start (not disabled more than a month
// before it).
func (s *Service) report(ctx context.Context, month time.Time, after int64, fn func(ReportRow) error, pageDone func() error) error {
	first := Month(month)
	last := first.AddDate(0, 1, -1)
	for {
		page, err := tenants.ListForUsage(ctx, s.opts.Pool, after, s.opts.PageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
		var listed []tenants.UsageTenant
		for _, t := range page {
			if t.AppID == "" && len(t.Keysets) == 0 || Day(t.CreatedAt).After(last) {
				continue
			}
			if stop, disabled := SyncEnd(t.DisabledAt); disabled && stop.Before(first) {
				continue
			}
			listed = append(listed, t)
		}
		if len(listed) > 0 {
			if err := s.reportPage(ctx, first, last, listed, fn); err != nil {
				return err
			}
		}
		if pageDone != nil {
			if err := pageDone(); err != nil {
				return err
			}
		}
	}
}

// reportPage reads the figures and sync state of listed tenants and hands their rows to fn.
func (s *Service) reportPage(ctx context.Context, first, last time.Time, listed []tenants.UsageTenant, fn func(ReportRow) error) error {
	ids := make([]int64, len(listed))
	for i, t := range listed {
		ids[i] = t.ID
	}
	column := map[string]int{}
	for i, m := range s.opts.Metrics {
		column[m] = i
	}
	values := make(map[int64][]float64, len(listed))
	rows, err := s.opts.Pool.Query(ctx, `
		SELECT tenant_id, metric, value FROM usage_monthly
		WHERE tenant_id = ANY($1) AND environment = '' AND month = $2 AND metric = ANY($3)`, ids, first, s.opts.Metrics)
	if err != nil {
		return fmt.Errorf("read monthly usage: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var id int64
		var m string
		var v float64
		if err := row.Scan(&id, &m, &v); err != nil {
			return struct{}{}, err
		}
		if values[id] == nil {
			values[id] = make([]float64, len(s.opts.Metrics))
		}
		values[id][column[m]] = v
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("read monthly usage: %w", err)
	}
	states, err := loadStates(ctx, s.opts.Pool, ids)
	if err != nil {
		return err
	}
	for _, t := range listed {
		r := ReportRow{TenantID: t.ID, ExternalID: t.ExternalID, Name: t.Name, State: t.State, Values: values[t.ID]}
		if r.Values == nil {
			r.Values = make([]float64, len(s.opts.Metrics))
		}
		if st := states[stateKey{tenantID: t.ID}]; st.through != nil && st.covers(s.opts.Metrics) {
			r.SyncedThrough = st.through
			due := last
			if stop, disabled := SyncEnd(t.DisabledAt); disabled && stop.Before(due) {
				due = stop
			}
			r.Complete = !st.through.Before(due)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
