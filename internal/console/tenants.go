package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

const (
	tenantsPerPage  = 25
	timelinePerPage = 25
	// timelineMax bounds how much of a timeline the console reads (see timeline).
	timelineMax   = 100_000
	maxReasonLen  = 500
	maxQueryLen   = 255
	webhooksShown = 20
)

// builtinActions are the tenant actions every build has, each calling the tenants service
// with the person's actor, as the API's routes do, and needing the same scope.
func (c *Console) builtinActions() []Action {
	return []Action{
		{
			Name: "retry", Label: "Retry", Scope: auth.ScopeTenantsWrite,
			Explain: "A failed tenant starts again from the step that failed; nothing already made is made twice. " +
				"A tenant in flight whose job is waiting (a backoff after an upstream fault, or a rate-limit snooze) has that job run now. " +
				"An active or disabled tenant has nothing to retry, and the service says so.",
			Done: "Retry requested: the tenant's job runs now. The state below follows it.",
			// Offered where the service accepts it; a forged POST on another state gets its 409.
			OfferedFunc: func(t *tenants.Tenant) bool {
				return t.State == tenants.StateFailed || slices.Contains(tenants.InFlight(), t.State)
			},
			DoFunc: func(ctx context.Context, id, _ string, actor auth.Actor) error {
				_, err := c.tenants.Retry(ctx, id, actor.String())
				return err
			},
		},
		{
			Name: "disable", Label: "Disable", Scope: auth.ScopeTenantsDisable, Reason: true, Danger: true,
			Explain: "Turns Access Manager on for every keyset of the tenant and rotates each secret key: the customer's clients and servers stop working until it is enabled again. " +
				"The PubNub customer and keysets are kept.",
			Done:        "Disable requested: the tenant's keysets are being locked. The state below follows it.",
			OfferedFunc: func(t *tenants.Tenant) bool { return t.Desired == tenants.DesiredActive },
			DoFunc: func(ctx context.Context, id, reason string, actor auth.Actor) error {
				_, err := c.tenants.Disable(ctx, id, reason, actor.String())
				return err
			},
		},
		{
			Name: "enable", Label: "Enable", Scope: auth.ScopeTenantsDisable, Reason: true,
			Explain: "Restores each keyset's Access Manager setting from its environment profile. The secret keys rotated by the disable stay rotated.",
			Done:    "Enable requested: the tenant's keysets are being unlocked. The state below follows it.",
			OfferedFunc: func(t *tenants.Tenant) bool {
				return t.Desired == tenants.DesiredDisabled
			},
			DoFunc: func(ctx context.Context, id, reason string, actor auth.Actor) error {
				_, err := c.tenants.Enable(ctx, id, reason, actor.String())
				return err
			},
		},
	}
}

// --- The tenant list

type tenantListRequest struct {
	params tenants.ListParams
	form   listForm
}

// listForm is the list's filters as typed, to show them back.
type listForm struct {
	Q, State, From, To string
	Flags              map[string]bool
}

func (r *tenantListRequest) extract(p *params) {
	r.form = listForm{
		Q: p.query("q", maxQueryLen), State: p.enum("state", stateNames()),
		From: p.query("from", 10), To: p.query("to", 10), Flags: map[string]bool{},
	}
	r.params = tenants.ListParams{
		Query: r.form.Q, State: tenants.State(r.form.State), Limit: tenantsPerPage,
		Cursor: p.query("cursor", 512),
	}
	if from, ok := parseDate(p, "from", r.form.From); ok {
		r.params.CreatedAfter = from
	}
	if to, ok := parseDate(p, "to", r.form.To); ok {
		r.params.CreatedBefore = to.AddDate(0, 0, 1) // "to" is inclusive: up to the end of that day
	}
	for k := range p.r.URL.Query() {
		if p.flag(k) {
			r.form.Flags[k] = true
		}
	}
}

// parseDate reads a yyyy-mm-dd date (what <input type=date> sends) as the start of that day, UTC.
func parseDate(p *params, name, v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		p.fail(name, "must be a date, yyyy-mm-dd")
		return time.Time{}, false
	}
	return t, true
}

func stateNames() []string {
	var out []string
	for _, s := range tenants.AllStates() {
		out = append(out, string(s))
	}
	return out
}

type tenantListView struct {
	Form    listForm
	States  []string
	Filters []ListFilter
	Rows    []tenants.View
	pager
}

func (c *Console) listTenants(ctx context.Context, _ *user, req *tenantListRequest) (*page, error) {
	for _, f := range c.filters {
		if req.form.Flags[f.Param] {
			f.ApplyFunc(&req.params)
		}
	}
	list, next, err := c.tenants.List(ctx, req.params)
	if err != nil {
		return nil, err
	}
	v := tenantListView{Form: req.form, States: stateNames(), Filters: c.filters, Rows: make([]tenants.View, len(list))}
	for i, t := range list {
		v.Rows[i] = t.View()
	}
	kv := []string{"q", req.form.Q, "state", req.form.State, "from", req.form.From, "to", req.form.To}
	for _, f := range c.filters {
		if req.form.Flags[f.Param] {
			kv = append(kv, f.Param, "on")
		}
	}
	v.pager = pageLinks(Prefix+"/tenants", req.params.Cursor, next, kv...)
	return &page{name: "tenants", title: "Tenants", nav: "tenants", data: v}, nil
}

// --- The tenant page

type tenantRequest struct {
	externalID  string
	before      int64 // the timeline event to show older ones than; 0 for the newest
	done        string
	tokenUser   string // the Tokens section's authorized-user filter
	tokenCursor string // the Tokens section's page
}

func (r *tenantRequest) extract(p *params) {
	r.externalID = p.path("externalId")
	if b := p.r.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			p.fail("before", "must be an event ID")
		}
		r.before = n
	}
	r.done = p.query("done", 50)
	r.tokenUser = p.query("token_user", 92) // PubNub's longest user ID
	r.tokenCursor = p.query("tokens", 512)
}

type tenantView struct {
	T        tenants.View // the outside view: public keys only, never a secret key
	Advice   string
	Notice   string
	Actions  []actionLink // the state card's
	Drift    *driftView
	Tokens   *tokensView // nil without the token service
	Usage    *usageView  // nil without the usage service or usage:read
	Sections []sectionView
	Timeline timelineView
	Webhooks *tenantWebhooks // nil when the key cannot read webhooks
}

type actionLink struct {
	Label, URL string
	Danger     bool
}

type sectionView struct {
	Title string
	HTML  template.HTML // the section's own html/template output, escaped by it
}

func (c *Console) tenantPage(ctx context.Context, u *user, req *tenantRequest) (*page, error) {
	t, err := c.tenants.GetByExternalID(ctx, req.externalID)
	if err != nil {
		return nil, err
	}
	v := tenantView{T: t.View(), Advice: advice(t)}
	var driftActions []actionLink
	for _, a := range c.actions {
		if req.done == a.Name {
			v.Notice = a.Done
		}
		if !a.allowed(u) || a.OfferedFunc != nil && !a.OfferedFunc(t) {
			continue
		}
		link := actionLink{Label: a.Label, URL: consolePath("tenants", t.ExternalID, a.Name), Danger: a.Danger}
		if a.section == sectionDrift {
			driftActions = append(driftActions, link)
		} else {
			v.Actions = append(v.Actions, link)
		}
	}
	if req.done == doneTokenRevoked {
		v.Notice = "Token revoked: PubNub Access Manager no longer accepts it. The revocation is on the timeline."
	}
	events, truncated, err := c.readTimeline(ctx, t.ExternalID)
	if err != nil {
		return nil, err
	}
	v.Drift = driftSection(t, events, driftActions)
	if c.tokens != nil {
		if v.Tokens, err = c.tenantTokens(ctx, u, req); err != nil {
			return nil, err
		}
	}
	if c.usage != nil && u.Can(auth.ScopeUsageRead) {
		if v.Usage, err = c.tenantUsage(ctx, t); err != nil {
			return nil, err
		}
	}
	for _, s := range c.sections {
		if s.Scope != "" && !u.Can(s.Scope) {
			continue
		}
		data, err := s.DataFunc(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("tenant page section %q: %w", s.Title, err)
		}
		var buf bytes.Buffer
		if err := s.tmpl.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("tenant page section %q: %w", s.Title, err)
		}
		v.Sections = append(v.Sections, sectionView{Title: s.Title, HTML: template.HTML(buf.String())}) // #nosec: html/template output
	}
	if v.Timeline, err = pageTimeline(events, truncated, t.ExternalID, req.before); err != nil {
		return nil, err
	}
	if u.Can(auth.ScopeWebhooksRead) {
		if v.Webhooks, err = c.tenantWebhooks(ctx, t.ExternalID); err != nil {
			return nil, err
		}
	}
	return &page{name: "tenant", title: t.Name + " (" + t.ExternalID + ")", nav: "tenants", data: v}, nil
}

// advice says what to do about a tenant's lastError, by the step that failed and the drift
// that blocks it. It is help text keyed by the provisioner's step names and the drift kinds;
// what may happen next is the service's to decide.
func advice(t *tenants.Tenant) string {
	if t.State != tenants.StateFailed {
		if t.LastError != "" {
			return "The tenant's job met this error and is retrying it by itself, with backoff. Retry runs the waiting job now."
		}
		return ""
	}
	if a := blockedAdvice(t); a != "" {
		return a
	}
	a := stepAdvice(t)
	if needsRepair(t) {
		a += " The last check also found drift that Repair undoes (Drift section): Repair undoes it and resumes the tenant too."
	}
	return a
}

// blockedAdvice is the advice for a tenant whose job stopped because the last check found a
// held resource gone or someone else's ("" when none is): retrying alone meets the same drift
// and fails again, so the advice is what clears it.
func blockedAdvice(t *tenants.Tenant) string {
	var gone, foreign []string
	for _, d := range t.Blocking() {
		if d.Kind.Foreign() {
			foreign = append(foreign, d.Resource)
		} else {
			gone = append(gone, d.Resource)
		}
	}
	doing := stepDoing(t.FailedStep)
	switch {
	case len(foreign) > 0:
		a := "pnonboard stopped before " + doing + ": the last check found " + strings.Join(foreign, ", ") +
			" to be someone else's now (Drift section), and it touches nothing of the tenant's until that is resolved, so a retry fails again. " +
			"Resolve it in the PubNub Admin Portal (or with PubNub support), then Check now (Drift section); once the check no longer reports it, retry."
		if len(gone) > 0 {
			a += " Repair (Drift section) makes " + strings.Join(gone, ", ") + " again, which no longer exists upstream."
		}
		return a
	case len(gone) > 0:
		return "Nothing was changed upstream: " + strings.Join(gone, ", ") + " no longer exists in PubNub (deleted in the Admin Portal; see the Drift section), " +
			"so a retry fails again. Repair (Drift section) makes it again (a keyset with new keys, which the tenant.updated webhook carries), " +
			"and the tenant then carries on with " + doing + "."
	}
	return ""
}

// stepAdvice is what to do about a failure at the tenant's failed step.
func stepAdvice(t *tenants.Tenant) string {
	step, env, _ := strings.Cut(t.FailedStep, ":")
	// A tenant that was provisioned once is being changed (or repaired): a keyset made now is
	// an added environment's, or one Repair makes again.
	dayTwo := t.ProvisionedAt != nil
	switch {
	case step == "verify":
		return "pnonboard found something upstream that is not this tenant's, and stopped rather than touch it; the error names both sides. " +
			"Resolve it in the PubNub Admin Portal (or with PubNub support), then retry."
	case step == "create_keyset" && dayTwo:
		return "Making the keyset of the " + env + " environment (an environment added to the tenant, or a keyset Repair makes again) stopped: PubNub refused it for good. " +
			"Fix what the error names (the account's keyset limit, the service-integration key's permissions, a name already taken), then retry: " +
			"the keyset is made once, then assigned to the customer; the tenant's other environments keep working meanwhile."
	case step == "assign_keysets" && dayTwo:
		return "Assigning the tenant's new keyset to its customer (an added environment, or a keyset made again) stopped: PubNub refused it for good. " +
			"Fix what the error names (at most 5 keysets per customer, the service-integration key's permissions), then retry: the assignment is sent again; the keyset is not made twice."
	case strings.HasPrefix(step, "create_"), step == "assign_keysets":
		return "PubNub refused to create or assign a resource for good. Fix what the error names (account limits, the service-integration key's permissions, a name already taken), " +
			"then retry: provisioning resumes at this step, and nothing already made is made twice."
	case step == "rename_customer":
		return "Renaming the PubNub customer to the tenant's name (after a name change, or Repair renaming it back) stopped. " +
			"Fix what the error names (the service-integration key's permissions, the customer's state in the Admin Portal), then retry: the rename is sent again; nothing else is redone."
	case step == "rename_app":
		return "Renaming the app back to the name pnonboard gave it (a Repair of a rename made in the Admin Portal) stopped. " +
			"Fix what the error names, then retry: the rename is sent again."
	case step == "rename_keyset":
		return "Renaming the " + env + " keyset back to the name pnonboard gave it (a Repair of a rename made in the Admin Portal) stopped. " +
			"Fix what the error names, then retry: the rename is sent again."
	case step == "retire_keyset":
		return "Retiring the " + env + " environment stopped while locking its keyset (Access Manager on, secret rotated, tokens revoked): it may still accept clients. " +
			"Fix what the error names, then retry to finish locking it; the tenant's other environments are untouched."
	case step == "disable_keyset", step == "settle_rotation":
		return "Disabling stopped at this keyset; the others may already be locked. Fix what the error names, then retry to finish the disable."
	case step == "enable_keyset":
		return "Unlocking this keyset (an enable, or a removed environment added again) stopped. Fix what the error names, then retry to finish it."
	}
	return "Fix what the error names, then retry: the tenant resumes where it stopped."
}

// stepDoing names what a failed step was doing, for a person ("step x" for one it does not
// know).
func stepDoing(failedStep string) string {
	step, env, _ := strings.Cut(failedStep, ":")
	switch step {
	case "create_app":
		return "making the app"
	case "create_keyset":
		return "making the " + env + " environment's keyset"
	case "create_customer":
		return "making the customer"
	case "assign_keysets":
		return "assigning the keysets to the customer"
	case "rename_customer":
		return "renaming the customer"
	case "rename_app":
		return "renaming the app back"
	case "rename_keyset":
		return "renaming the " + env + " keyset back"
	case "retire_keyset":
		return "locking the keyset of the removed " + env + " environment"
	case "disable_keyset", "settle_rotation":
		return "locking the " + env + " keyset (the disable)"
	case "enable_keyset":
		return "unlocking the " + env + " keyset"
	case "", "verify", "check":
		return "its next change"
	}
	return "step " + failedStep
}

// --- The timeline, newest first

type timelineView struct {
	Events    []tenants.Event
	Older     string // URL of the next (older) page, "" at the oldest
	Newest    string // URL of the newest page, "" on it
	Truncated bool
}

var errBadTimelineCursor = errors.New("console: timeline cursor names no event")

// readTimeline is the tenant's whole timeline, newest first. tenants.Service.Events pages
// oldest first, and only forwards, so this reads the timeline through to its end (at most
// timelineMax events; truncated then). A newest-first Events in the tenants service would
// replace this function.
func (c *Console) readTimeline(ctx context.Context, externalID string) (all []tenants.Event, truncated bool, err error) {
	cursor := ""
	for {
		events, next, err := c.tenants.Events(ctx, externalID, 500, cursor)
		if err != nil {
			return nil, false, err
		}
		all = append(all, events...)
		// An empty page with a cursor means "come back": an older transaction is still
		// running. What is shown is everything committed before it.
		if next == "" || len(events) == 0 {
			break
		}
		if len(all) >= timelineMax {
			truncated = true
			break
		}
		cursor = next
	}
	slices.Reverse(all)
	return all, truncated, nil
}

// pageTimeline is a page of the timeline all (newest first): the timelinePerPage events older
// than before (the newest if 0).
func pageTimeline(all []tenants.Event, truncated bool, externalID string, before int64) (timelineView, error) {
	v := timelineView{Truncated: truncated}
	start := 0
	if before != 0 {
		i := slices.IndexFunc(all, func(e tenants.Event) bool { return e.ID == before })
		if i < 0 {
			return timelineView{}, errBadTimelineCursor
		}
		start = i + 1
		v.Newest = consolePath("tenants", externalID)
	}
	end := min(start+timelinePerPage, len(all))
	v.Events = all[start:end]
	if end < len(all) {
		v.Older = withQuery(consolePath("tenants", externalID), "before", strconv.FormatInt(all[end-1].ID, 10)) + "#timeline"
	}
	return v, nil
}

// --- Webhooks sent about the tenant

type tenantWebhooks struct {
	Events    []tenantWebhookEvent
	More      bool   // older events exist beyond those shown
	EventsURL string // the event log, filtered to this tenant
}

type tenantWebhookEvent struct {
	webhooks.Event
	Deliveries []*webhooks.EventDelivery
}

// tenantWebhooks lists the newest events announced about the tenant, each with where it was
// delivered and how that went.
func (c *Console) tenantWebhooks(ctx context.Context, externalID string) (*tenantWebhooks, error) {
	var events []webhooks.Event
	cursor := ""
	for range 20 { // the listing is oldest first: read to its end (a tenant has few events)
		list, next, err := c.webhooks.ListEvents(ctx, webhooks.EventFilter{TenantExternalID: externalID, Limit: 100, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		events = append(events, list...)
		if len(events) > webhooksShown {
			events = events[len(events)-webhooksShown-1:] // one extra, to know there are more
		}
		if next == "" {
			break
		}
		cursor = next
	}
	out := &tenantWebhooks{EventsURL: withQuery(Prefix+"/events", "tenant", externalID)}
	if len(events) > webhooksShown {
		out.More, events = true, events[1:]
	}
	slices.Reverse(events)
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	deliveries, err := c.webhooks.DeliveriesOfEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		out.Events = append(out.Events, tenantWebhookEvent{Event: e, Deliveries: deliveries[e.ID]})
	}
	return out, nil
}

// --- Actions: a confirm page, then the POST

type actionRequest struct {
	externalID string
	reason     string
}

func (r *actionRequest) extract(p *params) {
	r.externalID = p.path("externalId")
	if p.r.Method == http.MethodPost {
		r.reason = p.form("reason", 10*maxReasonLen) // the limit proper is checked below, with a clear message
	}
}

// confirmView is the confirm page's data, for every action (tenant actions and redelivery).
type confirmView struct {
	Heading string
	Subject string // what is acted on, as a person reads it
	State   string // the tenant's state, when the subject is a tenant
	Explain string
	Reason  bool
	Value   string // the reason as typed
	Error   string
	Button  string
	Danger  bool
	Action  string // the form's URL
	Cancel  string
}

func (c *Console) confirmAction(a Action) pageFunc[actionRequest] {
	return func(ctx context.Context, u *user, req *actionRequest) (*page, error) {
		t, err := c.subject(ctx, u, req.externalID)
		if err != nil {
			return nil, err
		}
		return c.confirmPage(a, t, req.reason, "", 0), nil
	}
}

// subject is the tenant a confirm page names: read from the service for a key that may read
// tenants, and only its externalId for one that may act but not read (as the API allows).
func (c *Console) subject(ctx context.Context, u *user, externalID string) (*tenants.Tenant, error) {
	if !u.Can(auth.ScopeTenantsRead) {
		return &tenants.Tenant{ExternalID: externalID}, nil
	}
	return c.tenants.GetByExternalID(ctx, externalID)
}

func (c *Console) confirmPage(a Action, t *tenants.Tenant, reason, problem string, status int) *page {
	subject, cancel := t.ExternalID, Prefix+"/" // a key that cannot read the tenant: no tenant page to go back to
	if t.Name != "" {
		subject, cancel = t.Name+" ("+t.ExternalID+")", consolePath("tenants", t.ExternalID)
	}
	heading := a.question
	if heading == "" {
		heading = a.Label + " this tenant?"
	}
	return &page{name: "confirm", title: a.Label + " " + t.ExternalID, nav: "tenants", status: status, data: confirmView{
		Heading: heading, Subject: subject, State: string(t.State),
		Explain: a.Explain, Reason: a.Reason, Value: reason, Error: problem, Button: a.Label, Danger: a.Danger,
		Action: consolePath("tenants", t.ExternalID, a.Name), Cancel: cancel,
	}}
}

func (c *Console) doAction(a Action) pageFunc[actionRequest] {
	return func(ctx context.Context, u *user, req *actionRequest) (*page, error) {
		if a.Reason {
			if msg := checkReason(req.reason); msg != "" {
				t, err := c.subject(ctx, u, req.externalID)
				if err != nil {
					return nil, err
				}
				return c.confirmPage(a, t, req.reason, msg, http.StatusUnprocessableEntity), nil
			}
		}
		actor := auth.ActorFrom(ctx)
		err := a.DoFunc(ctx, req.externalID, req.reason, actor)
		var refused *tenants.StateError
		if errors.As(err, &refused) {
			// Refused for the tenant's state: say so on the confirm page, with the service's words.
			t, getErr := c.subject(ctx, u, req.externalID)
			if getErr != nil {
				return nil, getErr
			}
			status, msg, _ := describe(err)
			return c.confirmPage(a, t, req.reason, msg, status), nil
		}
		if err != nil {
			return nil, err
		}
		c.logAction(ctx, a.Name, "external_id", req.externalID, "actor", actor.String())
		return &page{redirect: withQuery(consolePath("tenants", req.externalID), "done", a.Name)}, nil
	}
}

// checkReason is what is wrong with a required reason, or "".
func checkReason(reason string) string {
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		return "A reason is required: it goes on the tenant's timeline."
	case n > maxReasonLen:
		return fmt.Sprintf("The reason is %d characters; at most %d fit.", n, maxReasonLen)
	}
	return ""
}
