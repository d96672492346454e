package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/secrets"
)

// DeliveryTimeout is how long a receiver has to answer 2xx.
const DeliveryTimeout = 15 * time.Second

// DefaultSchedule is the wait before each retry: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
// 10 h, eight attempts over about a day and a half; then the delivery fails.
func DefaultSchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

// DeliverArgs is the job that delivers one event to one endpoint.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind is the job's stable name.
func (DeliverArgs) Kind() string { return "webhook_deliver" }

// InsertOpts: one live job per delivery; a manual retry after the last one finished starts
// another, so completed jobs do not count.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: QueueWebhooks,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// QueueWebhooks keeps slow receivers from holding up provisioning workers.
const QueueWebhooks = "webhooks"

// Outcome names how an attempt ended, for metrics.
type Outcome string

// Outcomes.
const (
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeRetrying  Outcome = "retrying"
	OutcomeFailed    Outcome = "failed"
)

// DeliveryWorkerOpts wire a DeliveryWorker.
type DeliveryWorkerOpts struct {
	Pool    *pgxpool.Pool
	Keyring *secrets.Keyring
	Policy  Policy
	// Client sends the webhooks; nil means Policy.HTTPClient().
	Client *http.Client
	// Schedule is the wait before each retry; nil means DefaultSchedule.
	Schedule []time.Duration
	Logger   *slog.Logger
	// OnAttemptFunc, when set, hears of every attempt's outcome (for metrics).
	OnAttemptFunc func(outcome Outcome)
}

// DeliveryWorker sends one delivery per job attempt.
type DeliveryWorker struct {
	river.WorkerDefaults[DeliverArgs]
	opts DeliveryWorkerOpts
}

// NewDeliveryWorker returns the worker.
func NewDeliveryWorker(opts DeliveryWorkerOpts) *DeliveryWorker {
	if opts.Client == nil {
		opts.Client = opts.Policy.HTTPClient()
	}
	if opts.Schedule == nil {
		opts.Schedule = DefaultSchedule()
	}
	return &DeliveryWorker{opts: opts}
}

// maxAttempts is one attempt plus a retry per schedule step.
func (w *DeliveryWorker) maxAttempts() int { return len(w.opts.Schedule) + 1 }

// Timeout bounds an attempt: the receiver's 15 s and our bookkeeping.
func (w *DeliveryWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return DeliveryTimeout + 15*time.Second
}

// NextRetry follows the schedule, with ±10% jitter so retries do not arrive in lockstep. The
// jitter is drawn from the job and attempt, so the time Work records as nextAttemptAt is the
// one River schedules.
func (w *DeliveryWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	d := w.opts.Schedule[min(max(job.Attempt-1, 0), len(w.opts.Schedule)-1)]
	r := rand.New(rand.NewPCG(uint64(job.ID), uint64(job.Attempt)))
	jitter := time.Duration(r.Int64N(int64(d)/5+1)) - d/10
	return time.Now().Add(d + jitter)
}

type delivery struct {
	id        string
	status    DeliveryStatus
	endpoint  *Endpoint
	eventID   string
	eventType string
	payload   string
}

// Work makes one attempt and records it. If River's last attempt at the job fails on our own
// side (the database), the delivery is still marked failed, so it never stays pending with no
// job behind it.
func (w *DeliveryWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	ctx = logging.With(ctx, slog.Int64("job_id", job.ID), slog.String("delivery_id", job.Args.DeliveryID))
	err := w.attempt(ctx, job)
	if err == nil || job.Attempt < job.MaxAttempts {
		return err
	}
	failCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, failErr := w.opts.Pool.Exec(failCtx, `
		UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $2, updated_at = now()
		WHERE id = $1 AND status = 'pending'`, job.Args.DeliveryID, "gave up: "+err.Error())
	return errors.Join(err, failErr)
}

func (w *DeliveryWorker) attempt(ctx context.Context, job *river.Job[DeliverArgs]) error {
	d, err := w.load(ctx, job.Args.DeliveryID)
	if errors.Is(err, ErrDeliveryNotFound) {
		return nil // the endpoint was deleted or the event pruned
	}
	if err != nil {
		return err
	}
	if d.status == DeliverySucceeded {
		return nil
	}
	if !d.endpoint.Enabled {
		return w.record(ctx, job, d, attempt{at: time.Now(), err: "endpoint disabled"}, DeliveryFailed, nil)
	}
	a := w.send(ctx, d)
	switch {
	case a.ok():
		w.opts.Logger.InfoContext(ctx, "webhook delivered", "event_id", d.eventID, "type", d.eventType, "status", a.statusCode, "duration_ms", a.duration.Milliseconds())
		w.observe(OutcomeSucceeded)
		return w.record(ctx, job, d, a, DeliverySucceeded, nil)
	case job.Attempt >= w.maxAttempts():
		w.opts.Logger.WarnContext(ctx, "webhook delivery failed for good", "event_id", d.eventID, "attempts", job.Attempt, "err", a.summary())
		w.observe(OutcomeFailed)
		return w.record(ctx, job, d, a, DeliveryFailed, nil)
	}
	next := w.NextRetry(job)
	w.opts.Logger.InfoContext(ctx, "webhook attempt failed; will retry", "event_id", d.eventID, "attempt", job.Attempt, "err", a.summary(), "next", next)
	w.observe(OutcomeRetrying)
	if err := w.record(ctx, job, d, a, DeliveryPending, &next); err != nil {
		return err
	}
	return errors.New(a.summary())
}

func (w *DeliveryWorker) observe(o Outcome) {
	if w.opts.OnAttemptFunc != nil {
		w.opts.OnAttemptFunc(o)
	}
}

func (w *DeliveryWorker) load(ctx context.Context, id string) (*delivery, error) {
	d := &delivery{endpoint: &Endpoint{}}
	e := d.endpoint
	err := w.opts.Pool.QueryRow(ctx, `
		SELECT d.id::text, d.status, ev.id, ev.type, ev.payload::text,
			e.id::text, e.url, e.description, e.event_types, e.enabled, e.created_at, e.updated_at,
			e.previous_secret_expires_at, e.secret_sealed, e.previous_secret_sealed
		FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		JOIN events ev ON ev.id = d.event_id
		WHERE d.id = $1`, id).Scan(&d.id, &d.status, &d.eventID, &d.eventType, &d.payload,
		&e.ID, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &e.CreatedAt, &e.UpdatedAt,
		&e.PreviousSecretExpiresAt, &e.secretSealed, &e.previousSecretSealed)
	if errors.Is(err, pgx.ErrNoRows) || postgres.IsInvalidText(err) {
		return nil, ErrDeliveryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load delivery %s: %w", id, err)
	}
	return d, nil
}

// attempt is what one POST came to.
type attempt struct {
	at         time.Time
	duration   time.Duration
	statusCode int
	err        string
	excerpt    string
}

func (a attempt) ok() bool { return a.err == "" && a.statusCode >= 200 && a.statusCode < 300 }

func (a attempt) summary() string {
	if a.err != "" {
		return a.err
	}
	return "receiver answered " + strconv.Itoa(a.statusCode)
}

// send signs and POSTs the event. The signature covers "{webhook-id}.{timestamp}.{body}" with
// every current secret (two during a rotation), through the Standard Webhooks library.
func (w *DeliveryWorker) send(ctx context.Context, d *delivery) attempt {
	a := attempt{at: time.Now()}
	body := []byte(d.payload)
	keys, err := signingSecrets(w.opts.Keyring, d.endpoint, a.at)
	if err != nil {
		a.err = "cannot sign: " + err.Error()
		return a
	}
	sigs := make([]string, 0, len(keys))
	for _, secret := range keys {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			var sig string
			if sig, err = wh.Sign(d.eventID, a.at, body); err == nil {
				sigs = append(sigs, sig)
				continue
			}
		}
		a.err = "cannot sign: " + err.Error()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint.URL, bytes.NewReader(body))
	if err != nil {
		a.err = "bad endpoint URL"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pnonboard-webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, d.eventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(a.at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))

	resp, err := w.opts.Client.Do(req)
	a.duration = time.Since(a.at)
	if err != nil {
		a.err = describeSendError(err)
		return a
	}
	defer resp.Body.Close()
	a.statusCode = resp.StatusCode
	a.excerpt = excerpt(readCapped(resp.Body))
	return a
}

// describeSendError says why a POST got no answer, without internals, and without the
// address a refused name resolved to (that would map internal DNS for whoever reads it).
func describeSendError(err error) string {
	if errors.Is(err, ErrForbiddenAddress) {
		return "refused: the receiver's address is not a public one"
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within %s", DeliveryTimeout)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:] // the cause, without the URL
	}
	return "connection failed: " + msg
}

// excerpt keeps the first KiB of a response, as valid UTF-8.
func excerpt(b []byte) string {
	const maxExcerpt = 1024
	if len(b) > maxExcerpt {
		b = b[:maxExcerpt]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "�")
}

// record stores the attempt and the delivery's new status in one transaction. A final status
// completes the job in that same transaction, so a manual retry that sees "failed" never
// finds the old job still running (and deduplicates against it).
func (w *DeliveryWorker) record(ctx context.Context, job *river.Job[DeliverArgs], d *delivery, a attempt, status DeliveryStatus, next *time.Time) error {
	var code *int
	if a.statusCode != 0 {
		code = &a.statusCode
	}
	var errText *string
	if a.err != "" {
		errText = &a.err
	} else if !a.ok() {
		s := a.summary()
		errText = &s
	}
	return postgres.WithTx(ctx, w.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, error, response_excerpt)
			VALUES ($1, $2, $3, $4, $5, $6)`, d.id, a.at, code, a.duration.Milliseconds(), errText, a.excerpt); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		_, err := tx.Exec(ctx, `
			UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3,
				last_status_code = $4, last_error = $5, updated_at = now(),
				delivered_at = CASE WHEN $2 = 'succeeded' THEN $6 ELSE delivered_at END
			WHERE id = $1`, d.id, status, next, code, errText, a.at)
		if err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
		if status != DeliveryPending {
			if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
				return fmt.Errorf("complete delivery job: %w", err)
			}
		}
		return nil
	})
}
