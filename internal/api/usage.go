package api

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/usage"
)

// The usage routes (issue 15): a tenant's daily series, and every tenant's figures for a month
// as JSON pages or one streamed CSV.

// maxUsageRangeDays bounds a series: 13 months of days and a little.
const maxUsageRangeDays = 400

// queryDate reads a YYYY-MM-DD query parameter; ok is false when it is absent or bad (bad is
// recorded on p).
func queryDate(p *params, name string) (time.Time, bool) {
	v, given := p.query1(name)
	if !given {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil || d.Format(time.DateOnly) != v {
		p.fail(name, "must be a date such as 2026-11-01")
		return time.Time{}, false
	}
	return d, true
}

type tenantUsageRequest struct {
	externalIDParam
	from, to       time.Time
	fromSet, toSet bool
	metrics        string
	environment    string
}

func (r *tenantUsageRequest) extract(p *params) {
	r.externalIDParam.extract(p)
	r.from, r.fromSet = queryDate(p, "from")
	r.to, r.toSet = queryDate(p, "to")
	r.metrics = p.text("metrics", 2000)
	r.environment = p.text("environment", 255)
}

type usageDayJSON struct {
	Date  string  `json:"date"`
	Value float64 `json:"value"`
}

type usageSeriesJSON struct {
	Name      string          `json:"name"`
	TotalKind usage.TotalKind `json:"totalKind"`
	Total     float64         `json:"total"`
	Days      []usageDayJSON  `json:"days"`
}

type tenantUsageResponse struct {
	ExternalID    string            `json:"externalId"`
	Environment   *string           `json:"environment"`
	From          string            `json:"from"`
	To            string            `json:"to"`
	SyncedThrough *string           `json:"syncedThrough"`
	Metrics       []usageSeriesJSON `json:"metrics"`
}

// tenantUsage is a tenant's daily usage, app level or one environment's, with totals: by
// default the current month (UTC) and every synced metric.
func (s *Server) tenantUsage(ctx context.Context, req *tenantUsageRequest) (tenantUsageResponse, error) {
	fields := map[string]string{}
	from, to := req.from, req.to
	switch {
	case !req.fromSet && !req.toSet:
		from = usage.Month(s.usage.Now())
		to = from.AddDate(0, 1, 0)
	case !req.fromSet:
		from = usage.Month(to.AddDate(0, 0, -1))
	case !req.toSet:
		to = usage.Month(from).AddDate(0, 1, 0)
	}
	if !to.After(from) {
		fields["to"] = "must be after from (from is inclusive, to exclusive)"
	} else if to.Sub(from) > maxUsageRangeDays*24*time.Hour {
		fields["to"] = fmt.Sprintf("at most %d days after from", maxUsageRangeDays)
	}
	synced := s.usage.Metrics()
	metrics := synced
	if req.metrics != "" {
		metrics = nil
		for m := range strings.SplitSeq(req.metrics, ",") {
			if !slices.Contains(synced, m) {
				fields["metrics"] = fmt.Sprintf("%q is not a synced metric (synced: %s)", m, strings.Join(synced, ", "))
				break
			}
			if !slices.Contains(metrics, m) {
				metrics = append(metrics, m)
			}
		}
	}
	if req.environment != "" && !s.usage.ByEnvironment() {
		fields["environment"] = "per-environment usage is not synced here (PNONBOARD_USAGE_BY_ENVIRONMENT=false); leave it out for the tenant's whole usage"
	}
	if len(fields) > 0 {
		return tenantUsageResponse{}, validationError(fields)
	}
	t, err := s.tenants.GetByExternalID(ctx, req.externalID)
	if err != nil {
		return tenantUsageResponse{}, err
	}
	if req.environment != "" && !slices.Contains(t.Environments, req.environment) {
		return tenantUsageResponse{}, validationError(map[string]string{"environment": "the tenant has no such environment (it has " + strings.Join(t.Environments, ", ") + ")"})
	}
	series, err := s.usage.Series(ctx, usage.SeriesParams{TenantID: t.ID, Environment: req.environment, From: from, To: to, Metrics: metrics})
	if err != nil {
		return tenantUsageResponse{}, err
	}
	out := tenantUsageResponse{ExternalID: t.ExternalID, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly),
		SyncedThrough: dateOrNil(series.SyncedThrough), Metrics: make([]usageSeriesJSON, len(series.Metrics))}
	if req.environment != "" {
		out.Environment = &req.environment
	}
	for i, ms := range series.Metrics {
		days := make([]usageDayJSON, len(ms.Days))
		for j, d := range ms.Days {
			days[j] = usageDayJSON{Date: d.Day.Format(time.DateOnly), Value: d.Value}
		}
		out.Metrics[i] = usageSeriesJSON{Name: ms.Name, TotalKind: ms.TotalKind, Total: ms.Total, Days: days}
	}
	return out, nil
}

func dateOrNil(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

type usageReportRequest struct {
	month    time.Time
	monthSet bool
	limit    int
	cursor   string
}

func (r *usageReportRequest) extract(p *params) {
	if v, given := p.query1("month"); given {
		m, err := time.Parse("2006-01", v)
		if err != nil || m.Format("2006-01") != v {
			p.fail("month", "must be a month such as 2026-11")
		}
		r.month, r.monthSet = m, true
	}
	r.limit = p.limit(100, 1000)
	r.cursor = p.text("cursor", maxCursorLen)
}

// reportMonth is the month asked (by default the previous one, UTC), refused when it is older
// than what is kept.
func (s *Server) reportMonth(req *usageReportRequest) (time.Time, error) {
	now := s.usage.Now()
	month := usage.Month(now).AddDate(0, -1, 0)
	if req.monthSet {
		month = req.month
	}
	if oldest := usage.RetentionStart(now); month.Before(oldest) {
		return time.Time{}, validationError(map[string]string{"month": fmt.Sprintf("usage is kept %d months: the oldest month is %s",
			usage.RetentionMonths, oldest.Format("2006-01"))})
	}
	return month, nil
}

type usageMetricJSON struct {
	Name      string          `json:"name"`
	TotalKind usage.TotalKind `json:"totalKind"`
}

type usageReportRowJSON struct {
	ExternalID    string             `json:"externalId"`
	Name          string             `json:"name"`
	State         tenants.State      `json:"state"`
	Complete      bool               `json:"complete"`
	SyncedThrough *string            `json:"syncedThrough"`
	Usage         map[string]float64 `json:"usage"`
}

type usageReportResponse struct {
	Month      string               `json:"month"`
	Metrics    []usageMetricJSON    `json:"metrics"`
	Data       []usageReportRowJSON `json:"data"`
	NextCursor *string              `json:"nextCursor"`
}

// usageReport is a page of the month's report (JSON).
func (s *Server) usageReport(ctx context.Context, req *usageReportRequest) (usageReportResponse, error) {
	month, err := s.reportMonth(req)
	if err != nil {
		return usageReportResponse{}, err
	}
	var after int64
	if req.cursor != "" {
		if after, err = decodeUsageCursor(req.cursor); err != nil {
			return usageReportResponse{}, err
		}
	}
	rows, next, err := s.usage.Report(ctx, month, after, req.limit)
	if err != nil {
		return usageReportResponse{}, err
	}
	metrics := s.usage.Metrics()
	out := usageReportResponse{Month: month.Format("2006-01"), Metrics: make([]usageMetricJSON, len(metrics)),
		Data: make([]usageReportRowJSON, len(rows))}
	for i, m := range metrics {
		out.Metrics[i] = usageMetricJSON{Name: m, TotalKind: usage.TotalKindOf(m)}
	}
	for i, r := range rows {
		values := make(map[string]float64, len(metrics))
		for j, m := range metrics {
			values[m] = r.Values[j]
		}
		out.Data[i] = usageReportRowJSON{ExternalID: r.ExternalID, Name: r.Name, State: r.State, Complete: r.Complete,
			SyncedThrough: dateOrNil(r.SyncedThrough), Usage: values}
	}
	if next != 0 {
		c := encodeUsageCursor(next)
		out.NextCursor = &c
	}
	return out, nil
}

func encodeUsageCursor(after int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ur:" + strconv.FormatInt(after, 10)))
}

// decodeUsageCursor reads encodeUsageCursor's cursor; invalid.ErrCursor for anything else,
// which the error table answers as for every listing.
func decodeUsageCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, invalid.ErrCursor
	}
	rest, ok := strings.CutPrefix(string(b), "ur:")
	if !ok {
		return 0, invalid.ErrCursor
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != rest {
		return 0, invalid.ErrCursor
	}
	return id, nil
}

// usageReportHandler serves GET /v1/usage: JSON pages through the adapter, or, when the caller
// prefers text/csv (Accept), the whole month as one CSV streamed from Postgres. It is a plain
// handler because the adapter only writes JSON.
func (s *Server) usageReportHandler() http.Handler {
	asJSON := handleJSON(s, s.usageReport)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !prefersCSV(r.Header.Values("Accept")) {
			asJSON.ServeHTTP(w, r)
			return
		}
		s.usageReportCSV(w, r)
	})
}

// prefersCSV reads Accept (RFC 9110 §12.5.1): text/csv wins when its quality is higher than
// JSON's, or equal and named outright while JSON is not. Anything else, no Accept included,
// gets JSON.
func prefersCSV(accept []string) bool {
	csvQ, jsonQ := -1.0, -1.0
	csvExact, jsonExact := false, false
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					continue
				}
			}
			switch mt {
			case "text/csv":
				csvQ, csvExact = max(csvQ, q), true
			case "application/json":
				jsonQ, jsonExact = max(jsonQ, q), true
			case "text/*":
				if !csvExact {
					csvQ = max(csvQ, q)
				}
			case "application/*", "*/*":
				if !jsonExact {
					jsonQ = max(jsonQ, q)
				}
			}
		}
	}
	return csvQ > 0 && (csvQ > jsonQ || csvQ == jsonQ && csvExact && !jsonExact)
}

// countingWriter notes whether anything reached the client, so a failure before that can
// still be answered with a problem.
type countingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wrote = true
	return c.ResponseWriter.Write(b)
}

// usageReportCSV writes every row of the month, one page of tenants at a time, flushing after
// each: nothing is built in memory. limit and cursor are checked as for JSON, but the CSV is
// always the whole month. A failure once rows have gone out cannot become a problem
// document; the connection is cut instead, so a client never mistakes half a report for all.
func (s *Server) usageReportCSV(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
	defer cancel()
	var req usageReportRequest
	p := newParams(r)
	req.extract(p)
	if err := p.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	month, err := s.reportMonth(&req)
	if err == nil && req.cursor != "" {
		_, err = decodeUsageCursor(req.cursor)
	}
	if err != nil {
		s.writeError(w, r, s.mapError(err))
		return
	}
	metrics := s.usage.Metrics()
	cw := &countingWriter{ResponseWriter: w}
	out := csv.NewWriter(cw)
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="usage-%s.csv"`, month.Format("2006-01")))
	_ = out.Write(append([]string{"externalId", "name", "state", "complete", "syncedThrough"}, metrics...))
	record := make([]string, 5+len(metrics))
	flush := http.NewResponseController(w)
	err = s.usage.ReportRows(ctx, month, func(row usage.ReportRow) error {
		record[0], record[1], record[2] = row.ExternalID, csvText(row.Name), string(row.State)
		record[3], record[4] = strconv.FormatBool(row.Complete), ""
		if row.SyncedThrough != nil {
			record[4] = row.SyncedThrough.Format(time.DateOnly)
		}
		for i, v := range row.Values {
			record[5+i] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		return out.Write(record)
	}, func() error {
		out.Flush()
		if err := out.Error(); err != nil {
			return err
		}
		return flush.Flush()
	})
	if err == nil {
		out.Flush()
		err = out.Error()
	}
	if err == nil {
		return
	}
	if !cw.wrote {
		h.Del("Content-Disposition")
		s.writeError(w, r, s.mapError(err))
		return
	}
	if r.Context().Err() == nil { // not merely the client going away
		s.logger.ErrorContext(r.Context(), "usage report cut short", "err", err)
	}
	panic(http.ErrAbortHandler)
}

// csvText keeps a spreadsheet from reading a cell as a formula (a tenant name is the partner's
// customer's words): one starting with =, +, -, @, a tab or a carriage return gets a leading '.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
