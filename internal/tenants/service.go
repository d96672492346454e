package tenants

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

// Enqueuer inserts the reconcile job for a tenant inside the caller's transaction, so the job
// exists if and only if the change that needs it commits. The provisioner implements it.
type Enqueuer interface {
	EnqueueReconcile(ctx context.Context, tx pgx.Tx, tenantID int64) error
	// RunNow makes the tenant's reconcile job, waiting for a backoff or a snooze, run at
	// once (a tenant with no live job gets one). It reports false when the job is running
	// right now, and changes nothing then.
	RunNow(ctx context.Context, tx pgx.Tx, tenantID int64) (bool, error)
}

// Opener decrypts a sealed secret (internal/secrets.Keyring implements it).
type Opener interface {
	Open(ciphertext, aad []byte) ([]byte, error)
}

// Environment is what the domain needs to know of an environment profile.
type Environment struct {
	Name       string
	KeysetType string // testing | production
}

// ServiceOpts configure a Service.
type ServiceOpts struct {
	// DB is where tenants live: the pool (a transaction in tests that roll back).
	DB       postgres.DB
	Enqueuer Enqueuer
	Opener   Opener
	// Environments are the known environments, in their default order.
	Environments []Environment
	// DefaultEnvironments are used when a create names none.
	DefaultEnvironments []string
}

// Service is what the API calls: every method that changes a tenant records who did it on
// the timeline and enqueues the reconcile job in the same transaction.
type Service struct {
	db       postgres.DB
	enqueuer Enqueuer
	opener   Opener
	envs     map[string]Environment
	defaults []string
}

// NewService returns a Service.
func NewService(opts ServiceOpts) *Service {
	envs := make(map[string]Environment, len(opts.Environments))
	for _, e := range opts.Environments {
		envs[e.Name] = e
	}
	return &Service{db: opts.DB, enqueuer: opts.Enqueuer, opener: opts.Opener, envs: envs, defaults: opts.DefaultEnvironments}
}

// KnownEnvironments lists the environments a tenant may ask for.
func (s *Service) KnownEnvironments() []string {
	return slices.Sorted(maps.Keys(s.envs))
}

// CreateParams describe a tenant to create.
type CreateParams struct {
	ExternalID   string
	Name         string
	Environments []string // nil means the defaults
	Metadata     map[string]string
	Actor        string
}

// ValidateCreate checks p against the domain's rules and returns field → message for every
// violation (nil when valid). Environments are checked after defaulting.
func (s *Service) ValidateCreate(p CreateParams) map[string]string {
	errs := map[string]string{}
	if !ValidExternalID(p.ExternalID) {
		errs["externalId"] = "must match ^[A-Za-z0-9_-]{1,255}$"
	}
	if strings.TrimSpace(p.Name) == "" {
		errs["name"] = "is required"
	} else if utf8.RuneCountInString(p.Name) > MaxNameLen {
		errs["name"] = fmt.Sprintf("must be at most %d characters", MaxNameLen)
	}
	envs := p.Environments
	if envs == nil {
		envs = s.defaults
	}
	switch {
	case len(envs) == 0:
		errs["environments"] = "must name at least one environment"
	case len(envs) > MaxEnvironments:
		errs["environments"] = fmt.Sprintf("at most %d environments (the PubNub keysets-per-customer limit)", MaxEnvironments)
	}
	seen := map[string]bool{}
	for i, e := range envs {
		field := fmt.Sprintf("environments[%d]", i)
		switch {
		case seen[e]:
			errs[field] = fmt.Sprintf("duplicate environment %q", e)
		case s.envs[e].Name == "":
			errs[field] = fmt.Sprintf("unknown environment %q (known: %s)", e, strings.Join(s.KnownEnvironments(), ", "))
		}
		seen[e] = true
	}
	if len(p.Metadata) > MaxMetadataKeys {
		errs["metadata"] = fmt.Sprintf("at most %d keys", MaxMetadataKeys)
	}
	for k, v := range p.Metadata {
		switch {
		case k == "" || utf8.RuneCountInString(k) > MaxMetadataKey:
			errs["metadata"] = fmt.Sprintf("keys must be 1 to %d characters", MaxMetadataKey)
		case utf8.RuneCountInString(v) > MaxMetadataValue:
			errs["metadata."+k] = fmt.Sprintf("must be at most %d characters", MaxMetadataValue)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Create makes the tenant and enqueues its provisioning, or, when a tenant with the same
// externalId and the same attributes exists, returns that one with created false (a safe
// replay: no second job). Returns *invalid.Error, or *ConflictError (ErrConflict) when the
// externalId exists with other attributes.
func (s *Service) Create(ctx context.Context, p CreateParams) (*Tenant, bool, error) {
	if p.Environments == nil {
		p.Environments = s.defaults
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	if errs := s.ValidateCreate(p); errs != nil {
		return nil, false, invalid.Fields(errs)
	}
	types, names := make([]string, len(p.Environments)), make([]string, len(p.Environments))
	keysets := make([]Keyset, len(p.Environments))
	for i, e := range p.Environments {
		types[i], names[i] = s.envs[e].KeysetType, KeysetName(p.ExternalID, e)
		keysets[i] = Keyset{Environment: e, Position: i, UpstreamName: names[i], Type: types[i]}
	}
	type result struct {
		t       *Tenant
		created bool
	}
	res, err := postgres.WithTxV(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (result, error) {
		// One statement inserts the tenant, its keysets and the first timeline entry; on an
		// existing externalId it inserts nothing (and waits for a concurrent insert to settle).
		t, err := scanTenant(tx.QueryRow(ctx, `
			WITH t AS (
				INSERT INTO tenants (external_id, name, environments, metadata, state, desired_state)
				VALUES ($1, $2, $3, $4, 'pending', 'active')
				ON CONFLICT (external_id) DO NOTHING
				RETURNING `+tenantColumns+`
			), k AS (
				INSERT INTO tenant_keysets (tenant_id, environment, position, upstream_name, keyset_type)
				SELECT t.id, e.env, e.pos - 1, e.name, e.typ
				FROM t, unnest($3::text[], $5::text[], $8::text[]) WITH ORDINALITY AS e(env, typ, name, pos)
			), ev AS (
				INSERT INTO tenant_events (tenant_id, actor, action, detail)
				SELECT t.id, $6, $9, $7::jsonb FROM t
			)
			SELECT `+tenantColumns+` FROM t`,
			p.ExternalID, p.Name, p.Environments, p.Metadata, types, p.Actor,
			mustJSON(map[string]any{"name": p.Name, "environments": p.Environments}), names, ActionCreated))
		if err == nil {
			t.Keysets = keysets
			if err := s.enqueuer.EnqueueReconcile(ctx, tx, t.ID); err != nil {
				return result{}, err
			}
			return result{t, true}, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return result{}, fmt.Errorf("insert tenant %q: %w", p.ExternalID, err)
		}

		existing, err := getByExternalID(ctx, tx, p.ExternalID, false)
		if err != nil {
			return result{}, err
		}
		if diff := differences(existing, p); len(diff) > 0 {
			return result{}, &ConflictError{Fields: diff}
		}
		if err := AddEvents(ctx, tx, existing.ID, Event{Actor: p.Actor, Action: ActionCreateReplayed}); err != nil {
			return result{}, err
		}
		return result{existing, false}, nil
	})
	if err != nil {
		return nil, false, err
	}
	return res.t, res.created, nil
}

// differences names the attributes of an existing tenant that a create would change.
func differences(t *Tenant, p CreateParams) []string {
	var diff []string
	if t.Name != p.Name {
		diff = append(diff, "name")
	}
	if !slices.Equal(t.Environments, p.Environments) {
		diff = append(diff, "environments")
	}
	if !maps.Equal(t.Metadata, p.Metadata) {
		diff = append(diff, "metadata")
	}
	return diff
}

// GetByExternalID returns the tenant. Returns ErrNotFound.
func (s *Service) GetByExternalID(ctx context.Context, externalID string) (*Tenant, error) {
	if !ValidExternalID(externalID) {
		return nil, ErrNotFound
	}
	return getByExternalID(ctx, s.db, externalID, false)
}

// act applies tr to the tenant under its row lock, records it, and enqueues the reconcile.
// A refused action is recorded too: the timeline is the audit trail of what callers tried.
func (s *Service) act(ctx context.Context, externalID, actor string, detail map[string]any, tr transition) (*Tenant, error) {
	if detail == nil {
		detail = map[string]any{}
	}
	return s.change(ctx, externalID, func(t *Tenant) (Event, bool, error) {
		ev := Event{Actor: actor, Action: tr.verb.requested(), Detail: detail}
		applies, satisfied, refusal := tr.check(t)
		switch {
		case satisfied:
			ev.Detail["noop"] = "already " + string(t.State)
			return ev, false, nil
		case !applies:
			ev.Action, ev.Detail["state"] = tr.verb.refused(), string(t.State)
			return ev, false, refusal
		}
		tr.apply(t)
		return ev, true, nil
	})
}

// change runs fn on the tenant under its row lock and records the event fn returns; when fn
// reports a change, the tenant is saved and its reconcile enqueued in the same transaction. A
// refusal fn returns is recorded (it commits) and returned.
func (s *Service) change(ctx context.Context, externalID string, fn func(t *Tenant) (ev Event, changed bool, refused error)) (*Tenant, error) {
	if !ValidExternalID(externalID) {
		return nil, ErrNotFound
	}
	var refused error
	t, err := postgres.WithTxV(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (*Tenant, error) {
		t, err := getByExternalID(ctx, tx, externalID, true)
		if err != nil {
			return nil, err
		}
		ev, changed, refusal := fn(t)
		refused = refusal
		if !changed {
			return t, AddEvents(ctx, tx, t.ID, ev)
		}
		if err := Save(ctx, tx, t); err != nil {
			return nil, err
		}
		if err := AddEvents(ctx, tx, t.ID, ev); err != nil {
			return nil, err
		}
		return t, s.enqueuer.EnqueueReconcile(ctx, tx, t.ID)
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return t, nil
}

// Disable turns the tenant's keysets off upstream (see the provisioner for what that means
// in PubNub). Already disabled or disabling: nothing changes. Returns ErrNotFound, or a
// *StateError (ErrInvalidState) before the tenant is active.
func (s *Service) Disable(ctx context.Context, externalID, reason, actor string) (*Tenant, error) {
	return s.act(ctx, externalID, actor, reasonDetail(reason), disableTransition())
}

// Enable turns a disabled tenant's keysets back on. Already active or enabling: nothing
// changes. Returns ErrNotFound, or a *StateError (ErrInvalidState).
func (s *Service) Enable(ctx context.Context, externalID, reason, actor string) (*Tenant, error) {
	return s.act(ctx, externalID, actor, reasonDetail(reason), enableTransition())
}

// Retry restarts a failed tenant from its failed step; a tenant in flight whose job waits on
// a backoff (an upstream fault) or a snooze has that job run now. Returns ErrNotFound, or a
// *StateError (ErrInvalidState) when the tenant is active or disabled, or its job is running
// at this moment.
func (s *Service) Retry(ctx context.Context, externalID, actor string) (*Tenant, error) {
	if !ValidExternalID(externalID) {
		return nil, ErrNotFound
	}
	allowed := append([]State{StateFailed}, InFlight()...)
	var refused *StateError
	t, err := postgres.WithTxV(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (*Tenant, error) {
		t, err := getByExternalID(ctx, tx, externalID, true)
		if err != nil {
			return nil, err
		}
		switch {
		case t.State == StateFailed:
			ev := Event{Actor: actor, Action: ActionRetryRequested, Detail: map[string]any{"step": t.FailedStep}}
			t.State = StatePending
			t.LastError, t.FailedStep = "", ""
			if err := Save(ctx, tx, t); err != nil {
				return nil, err
			}
			if err := AddEvents(ctx, tx, t.ID, ev); err != nil {
				return nil, err
			}
			return t, s.enqueuer.EnqueueReconcile(ctx, tx, t.ID)
		case slices.Contains(InFlight(), t.State):
			ran, err := s.enqueuer.RunNow(ctx, tx, t.ID)
			if err != nil {
				return nil, err
			}
			if ran {
				return t, AddEvents(ctx, tx, t.ID, Event{Actor: actor, Action: ActionRetryNowRequested, Detail: map[string]any{"state": string(t.State)}})
			}
			refused = &StateError{Action: VerbRetry, Current: t.State, Allowed: allowed, Reason: "its job is running right now"}
		default:
			refused = &StateError{Action: VerbRetry, Current: t.State, Allowed: allowed}
		}
		return t, AddEvents(ctx, tx, t.ID, Event{Actor: actor, Action: ActionRetryRefused, Detail: map[string]any{"state": string(t.State)}})
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return t, nil
}

func reasonDetail(reason string) map[string]any {
	if reason == "" {
		return nil
	}
	return map[string]any{"reason": reason}
}

// ListParams filter and page a tenant listing.
type ListParams struct {
	State         State     // "" for any
	Query         string    // prefix of externalId or name (case-insensitive for names)
	CreatedAfter  time.Time // zero for no bound
	CreatedBefore time.Time
	Drifted       bool   // only tenants whose last check found drift
	Limit         int    // 1 to 100
	Cursor        string // from a previous page's next cursor
}

// List returns tenants newest first (created_at, then id, descending: a stable order), and
// the cursor of the next page ("" on the last). Tenants created while a client pages appear
// on no later page, so pages neither repeat nor skip.
func (s *Service) List(ctx context.Context, p ListParams) ([]*Tenant, string, error) {
	var after struct {
		at time.Time
		id int64
	}
	if p.Cursor != "" {
		at, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		after.at, after.id = at, id
	}
	var createdAfter, createdBefore *time.Time
	if !p.CreatedAfter.IsZero() {
		createdAfter = &p.CreatedAfter
	}
	if !p.CreatedBefore.IsZero() {
		createdBefore = &p.CreatedBefore
	}
	var cursorAt *time.Time
	if p.Cursor != "" {
		cursorAt = &after.at
	}
	prefix := escapeLike(p.Query) + "%"
	rows, err := s.db.Query(ctx, `
		SELECT `+tenantColumns+` FROM tenants
		WHERE ($1::text = '' OR state = $1)
		  AND ($2::text = '%' OR external_id LIKE $2 OR lower(name) LIKE lower($2))
		  AND ($3::timestamptz IS NULL OR created_at >= $3)
		  AND ($4::timestamptz IS NULL OR created_at < $4)
		  AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
		  AND (NOT $8 OR drift <> '[]')
		ORDER BY created_at DESC, id DESC
		LIMIT $7`,
		string(p.State), prefix, createdAfter, createdBefore, cursorAt, after.id, p.Limit+1, p.Drifted)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Tenant, error) { return scanTenant(row) })
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	next := ""
	if len(list) > p.Limit {
		list = list[:p.Limit]
		last := list[len(list)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	if err := loadKeysets(ctx, s.db, list...); err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// Events returns a tenant's timeline, oldest first, after the cursor, and the next cursor ("" on
// the last page). Returns ErrNotFound, or invalid.ErrCursor.
//
// The order is the order the events' transactions were numbered (then id), and a cursor is
// only ever handed out at an event older than every transaction still running, so no event can
// commit behind it later: paging neither skips nor repeats. The last page shows every
// committed event; a page that would end at a younger one is cut short at the last safe event
// (and may, while an old transaction runs, be empty with a cursor to try again).
func (s *Service) Events(ctx context.Context, externalID string, limit int, cursor string) ([]Event, string, error) {
	t, err := s.GetByExternalID(ctx, externalID)
	if err != nil {
		return nil, "", err
	}
	afterXID, afterID := "0", int64(0)
	if cursor != "" {
		if afterXID, afterID, err = decodeTimelineCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, at, actor, action, detail, xid::text AS xid_text, xid < pg_snapshot_xmin(pg_current_snapshot())
		FROM tenant_events
		WHERE tenant_id = $1 AND (xid, id) > ($2::xid8, $3)
		ORDER BY tenant_events.xid, tenant_events.id LIMIT $4`, t.ID, afterXID, afterID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list events of %q: %w", externalID, err)
	}
	type position struct {
		xid  string
		id   int64
		safe bool // older than every running transaction: nothing can commit before it
	}
	var positions []position
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		var p position
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Detail, &p.xid, &p.safe)
		p.id = e.ID
		positions = append(positions, p)
		return e, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list events of %q: %w", externalID, err)
	}
	if len(events) <= limit {
		return events, "", nil
	}
	events, positions = events[:limit], positions[:limit]
	safe := 0
	for safe < len(positions) && positions[safe].safe {
		safe++
	}
	if safe == 0 { // nothing is safe to pass yet: come back with the same cursor
		return []Event{}, encodeTimelineCursor(afterXID, afterID), nil
	}
	last := positions[safe-1]
	return events[:safe], encodeTimelineCursor(last.xid, last.id), nil
}

func encodeTimelineCursor(xid string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("te:" + xid + ":" + strconv.FormatInt(id, 10)))
}

func decodeTimelineCursor(c string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", 0, invalid.ErrCursor
	}
	rest, ok := strings.CutPrefix(string(b), "te:")
	xid, idText, found := strings.Cut(rest, ":")
	if !ok || !found {
		return "", 0, invalid.ErrCursor
	}
	if _, err := strconv.ParseUint(xid, 10, 64); err != nil {
		return "", 0, invalid.ErrCursor
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 0 {
		return "", 0, invalid.ErrCursor
	}
	return xid, id, nil
}

// Credential is one environment's keys, the secret key included.
type Credential struct {
	Environment  string
	KeysetID     string
	PublishKey   string
	SubscribeKey string
	SecretKey    string
}

// Credentials returns the keys of every provisioned keyset, secret keys decrypted. Returns
// ErrNotFound.
func (s *Service) Credentials(ctx context.Context, externalID string) ([]Credential, error) {
	t, err := s.GetByExternalID(ctx, externalID)
	if err != nil {
		return nil, err
	}
	out := []Credential{}
	for _, k := range t.Keysets {
		if k.KeysetID == "" {
			continue
		}
		c := Credential{Environment: k.Environment, KeysetID: k.KeysetID, PublishKey: k.PublishKey, SubscribeKey: k.SubscribeKey}
		if len(k.SecretKeySealed) > 0 {
			secret, err := s.opener.Open(k.SecretKeySealed, SecretAAD(t.ID, k.Environment))
			if err != nil {
				return nil, fmt.Errorf("open secret key of %q/%s: %w", externalID, k.Environment, err)
			}
			c.SecretKey = string(secret)
		}
		out = append(out, c)
	}
	return out, nil
}

// SecretAAD binds a sealed keyset secret to its tenant and environment.
func SecretAAD(tenantID int64, environment string) []byte {
	return []byte("keyset-secret:" + strconv.FormatInt(tenantID, 10) + ":" + environment)
}

func encodeCursor(at time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (time.Time, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, invalid.ErrCursor
	}
	atStr, idStr, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, 0, invalid.ErrCursor
	}
	at, err := time.Parse(time.RFC3339Nano, atStr)
	if err != nil {
		return time.Time{}, 0, invalid.ErrCursor
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id < 0 {
		return time.Time{}, 0, invalid.ErrCursor
	}
	return at, id, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of strings
	}
	return string(b)
}
