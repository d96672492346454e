package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
)

const doctorUsage = `usage: server doctor

Checks that this configuration can provision tenants, one line per check: ok, warn (works,
act soon) or FAIL with what to fix. Exits 1 when any check fails. Nothing is created upstream:
it makes five read-only Admin API calls, through the rate budget every replica shares
(operator class), and checks:

  database          reachable, at the migrations this binary expects (the budget lives there)
  admin api         PNONBOARD_PUBNUB_URL answers with PNONBOARD_PUBNUB_API_KEY and PNONBOARD_PUBNUB_VERSION
  permission ...    each Service Integration row pnonboard needs: account:app:rw, account:keyset:rw,
                    account:secret-key:rw (read on an existing keyset; none yet: not checked),
                    account:usage:r (one day of txn_total for an existing app, as the usage
                    sync reads it; none yet: not checked), account:oem-customer:rw; a 403 on
                    the read names the row to add. Reads cannot prove write access: grant
                    each rw row read & write (usage is read only).
  oem customers     the account is enabled for OEM customers (GET /oem/customers answers)
  profiles          the environment profiles (PNONBOARD_PROFILES_FILE or the built-in ones) meet
                    PubNub's documented keyset config rules, checked locally (there is no dry run)
  api key expiry    PNONBOARD_PUBNUB_API_KEY_EXPIRES (optional, YYYY-MM-DD): warns within 30 days
                    (Service Integration keys live at most a year), fails once past

GET /readyz?verbose=1 (with an admin key) answers the same report from a running server.

environment: DATABASE_URL, PNONBOARD_PUBNUB_API_KEY (required), and the other PNONBOARD_PUBNUB_*
and PNONBOARD_PROFILES_FILE variables, as for serve.
`

// runDoctor is `server doctor`: the checks of doctor.checks, with the database first, printed
// one line each; an error (exit status 1) when any fails.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), doctorUsage) }
	if help, err := parseFlags(fs, args, stderr); help || err != nil {
		return err
	}
	cfg, err := parseConfig(getenv, modeDoctor)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	d := newDoctor(cfg, nil)
	database := api.ReadyCheck{Name: "database", Status: api.ReadyOK, Detail: "reachable, at the migrations this binary expects"}
	if pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, &postgres.PoolOpts{MaxConns: 2}); err != nil {
		database = api.ReadyCheck{Name: "database", Status: api.ReadyFail, Detail: oneLine(err.Error()) + ": check DATABASE_URL"}
	} else {
		defer pool.Close()
		migrator, err := postgres.NewMigrator(pool, pnonboard.Migrations(), nil)
		if err != nil {
			return err
		}
		defer migrator.Close()
		var notReady *api.NotReadyError
		if err := readiness(pool, migrator)(ctx); errors.As(err, &notReady) {
			database = api.ReadyCheck{Name: "database", Status: api.ReadyFail, Detail: notReady.Reason + ": run server migrate up"}
		} else if err != nil {
			return err
		} else {
			budget, err := newBudget(pool, cfg)
			if err != nil {
				return err
			}
			d.upstream = newUpstream(budget, cfg, nil, logger)
		}
	}
	if database.Status != api.ReadyOK {
		d.noUpstream = "not checked: the rate budget every call goes through lives in the database (see database)"
	}
	checks := append([]api.ReadyCheck{database}, d.checks(ctx)...)

	failed, warned := 0, 0
	for _, c := range checks {
		label := c.Status
		switch c.Status {
		case api.ReadyFail:
			failed++
			label = "FAIL"
		case api.ReadyWarn:
			warned++
		}
		fmt.Fprintf(stdout, "%-5s %s: %s\n", label, c.Name, oneLine(c.Detail))
	}
	fmt.Fprintf(stdout, "%d checks: %d ok, %d warn, %d failed\n", len(checks), len(checks)-failed-warned, warned, failed)
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

// doctor holds what the checks of server doctor and GET /readyz?verbose=1 look at.
type doctor struct {
	// upstream is the Admin API client, every call through the shared budget; nil when it
	// cannot be called, for the reason noUpstream gives.
	upstream   *pubnub.Client
	noUpstream string
	baseURL    string
	version    string
	keyExpires time.Time
	// profiles are the environment profiles, from profilesFrom; profilesErr when the file
	// would not load.
	profiles     provisioner.Profiles
	profilesFrom string
	profilesErr  error
	now          func() time.Time
}

// newDoctor describes cfg's setup. It loads the profiles itself, so that server doctor can
// report a bad profiles file as one of its lines; loaded (non-nil) are used as they are.
func newDoctor(cfg config, loaded provisioner.Profiles) *doctor {
	d := &doctor{baseURL: cfg.PubNubURL, version: cfg.PubNubVersion, keyExpires: cfg.PubNubAPIKeyExpires, now: time.Now,
		profiles: loaded, profilesFrom: "built-in", noUpstream: "not checked on this replica: PNONBOARD_PUBNUB_API_KEY is not " +
			"set (an API-only replica needs none); run server doctor where the workers run"}
	if cfg.ProfilesFile != "" {
		d.profilesFrom = cfg.ProfilesFile
	}
	switch {
	case loaded != nil:
	case cfg.ProfilesFile != "":
		d.profiles, d.profilesErr = provisioner.LoadProfiles(cfg.ProfilesFile)
	default:
		d.profiles = provisioner.DefaultProfiles()
	}
	return d
}

// checks are every check but the database's (the caller's: the CLI's own, or /readyz's).
func (d *doctor) checks(ctx context.Context) []api.ReadyCheck {
	return append(d.upstreamChecks(ctx), d.localChecks()...)
}

// localChecks need no upstream call.
func (d *doctor) localChecks() []api.ReadyCheck {
	return []api.ReadyCheck{d.profilesCheck(), d.expiryCheck()}
}

// neededRow is the Service Integration permission row pnonboard needs for resource: it
// creates, reads and changes every resource it checks, but only reads usage (the usage sync;
// PubNub's usage row has no write).
func neededRow(resource string) string {
	if resource == pubnub.ResourceUsage {
		return "account:" + resource + ":r"
	}
	return "account:" + resource + ":rw"
}

// usageMetric and usageDays are what the usage check reads: one metric the usage sync always
// asks for, over a small range of past days.
const (
	usageMetric = "txn_total"
	usageDays   = 2
)

// upstreamChecks makes five read-only Admin API calls, of the operator class: one page of
// apps and of keysets, the first keyset's secret keys, the first app's usage, and the OEM
// customers.
func (d *doctor) upstreamChecks(ctx context.Context) []api.ReadyCheck {
	if d.upstream == nil {
		return []api.ReadyCheck{{Name: "admin api", Status: api.ReadyWarn, Detail: d.noUpstream}}
	}
	ctx = provisioner.WithClass(ctx, provisioner.ClassOperator)
	base := ""
	if u, err := url.Parse(d.baseURL); err == nil {
		base = u.Path
	}

	apps, _, appsErr := d.upstream.ListAppsPage(ctx, 1, 1)
	answers := d.answersCheck(appsErr)
	if answers.Status != api.ReadyOK {
		return []api.ReadyCheck{answers, {Name: "permissions", Status: api.ReadyWarn,
			Detail: "not checked: the Admin API must answer first (see admin api)"}}
	}
	out := []api.ReadyCheck{answers, permissionCheck(pubnub.ResourceApp, "GET "+base+"/apps", appsErr)}

	keysets, _, keysetsErr := d.upstream.ListKeysetsPage(ctx, 1, 1)
	out = append(out, permissionCheck(pubnub.ResourceKeyset, "GET "+base+"/keysets", keysetsErr))
	switch {
	case keysetsErr != nil:
		out = append(out, api.ReadyCheck{Name: "permission " + neededRow(pubnub.ResourceSecretKey), Status: api.ReadyWarn,
			Detail: "not checked: it is read on an existing keyset, and listing keysets failed (see above)"})
	case len(keysets) == 0:
		out = append(out, api.ReadyCheck{Name: "permission " + neededRow(pubnub.ResourceSecretKey), Status: api.ReadyWarn,
			Detail: "not checked: it is read on an existing keyset and the account has none yet; the first signup " +
				"will tell (a missing row fails it, naming the row)"})
	default:
		_, err := d.upstream.ListSecretKeys(ctx, keysets[0].ID, true)
		out = append(out, permissionCheck(pubnub.ResourceSecretKey, "GET "+base+"/keysets/"+keysets[0].ID+"/secret-keys", err))
	}

	usageRow := neededRow(pubnub.ResourceUsage)
	switch {
	case appsErr != nil:
		out = append(out, api.ReadyCheck{Name: "permission " + usageRow, Status: api.ReadyWarn,
			Detail: "not checked: it is read for an existing app, and listing apps failed (see above)"})
	case len(apps) == 0:
		out = append(out, api.ReadyCheck{Name: "permission " + usageRow, Status: api.ReadyWarn,
			Detail: "not checked: it is read for an existing app and the account has none yet; run server " +
				"doctor again after the first signup (the usage sync logs a 403 and retries)"})
	default:
		today := d.now().UTC()
		q := pubnub.UsageQuery{EntityType: "app", EntityID: apps[0].ID, From: today.AddDate(0, 0, -usageDays),
			To: today, Metrics: []string{usageMetric}}
		_, err := d.upstream.GetUsageMetrics(ctx, q)
		out = append(out, permissionCheck(pubnub.ResourceUsage, fmt.Sprintf("GET %s/usage-metrics?entityType=app&entityId=%s&from=%s&to=%s&metrics=%s",
			base, apps[0].ID, q.From.Format(time.DateOnly), q.To.Format(time.DateOnly), usageMetric), err))
	}

	what := "GET " + base + "/oem/customers"
	_, oemErr := d.upstream.ListCustomers(ctx, "")
	out = append(out, permissionCheck(pubnub.ResourceOEMCustomer, what, oemErr))
	oem := api.ReadyCheck{Name: "oem customers", Status: api.ReadyOK, Detail: what + " answers: the account is enabled for OEM customers"}
	switch status := pubnub.StatusCode(oemErr); {
	case oemErr == nil:
	case status == http.StatusForbidden:
		oem.Status, oem.Detail = api.ReadyWarn, "not known: "+what+" was refused (see the permission line above); if it still "+
			"answers 403 once the row is granted, the account is not enabled for OEM customers: ask PubNub"
	case status == http.StatusBadRequest:
		oem.Status, oem.Detail = api.ReadyFail, fmt.Sprintf("%s refused the request (400%s): check PNONBOARD_PUBNUB_VERSION "+
			"(%s): the OEM endpoints are served from 2026-02-09", what, pubnubWords(oemErr), d.version)
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		oem.Status, oem.Detail = api.ReadyFail, fmt.Sprintf("%s answered %d%s: the account is not enabled for OEM customers: "+
			"ask PubNub to enable OEM (partner) access", what, status, pubnubWords(oemErr))
	default:
		oem.Status, oem.Detail = api.ReadyFail, "not checked: "+callFailure(oemErr)
	}
	return append(out, oem)
}

// answersCheck judges the first call: whether the Admin API answers with the key and version.
// A 403 is an answer: the key and version were accepted, and a permission is missing.
func (d *doctor) answersCheck(err error) api.ReadyCheck {
	c := api.ReadyCheck{Name: "admin api", Status: api.ReadyFail}
	var tErr *pubnub.TransportError
	switch status := pubnub.StatusCode(err); {
	case err == nil, status == http.StatusForbidden:
		c.Status, c.Detail = api.ReadyOK, fmt.Sprintf("%s answers with the configured key and PubNub-Version %s", d.baseURL, d.version)
	case status == http.StatusUnauthorized:
		c.Detail = fmt.Sprintf("%s refused the key (401%s): set PNONBOARD_PUBNUB_API_KEY to a valid Service Integration "+
			"key (sent as it is, without Bearer)", d.baseURL, pubnubWords(err))
	case status == http.StatusBadRequest:
		c.Detail = fmt.Sprintf("%s refused the request (400%s): check PNONBOARD_PUBNUB_VERSION (%s): a doc-set date "+
			"PubNub serves, 2026-02-09 or later for the OEM endpoints", d.baseURL, pubnubWords(err), d.version)
	case status != 0:
		c.Detail = fmt.Sprintf("%s answered %d%s: check PNONBOARD_PUBNUB_URL (the Admin API root, /v2 included)",
			d.baseURL, status, pubnubWords(err))
		if status >= 500 || status == http.StatusTooManyRequests {
			c.Detail = fmt.Sprintf("%s answered %d%s: try again later", d.baseURL, status, pubnubWords(err))
		}
	case errors.As(err, &tErr):
		c.Detail = fmt.Sprintf("no answer from %s (%v): check PNONBOARD_PUBNUB_URL and the network", d.baseURL, tErr.Err)
	default:
		c.Detail = "not checked: " + callFailure(err)
	}
	return c
}

// permissionCheck judges a read that needs resource's row.
func permissionCheck(resource, what string, err error) api.ReadyCheck {
	row := neededRow(resource)
	c := api.ReadyCheck{Name: "permission " + row, Status: api.ReadyOK,
		Detail: "reads granted (" + what + "); writes are not tried: grant the row read & write"}
	if resource == pubnub.ResourceUsage {
		c.Detail = "reads granted (" + what + "); pnonboard only reads usage"
	}
	switch {
	case err == nil:
	case pubnub.IsForbidden(err):
		c.Status, c.Detail = api.ReadyFail, fmt.Sprintf("missing: %s answered 403%s: add the row %s to the key's Service "+
			"Integration (PubNub Admin Portal, Service Integrations), or set PNONBOARD_PUBNUB_API_KEY to a key that has it",
			what, pubnubWords(err), row)
	default:
		c.Status, c.Detail = api.ReadyFail, "not checked: "+callFailure(err)
	}
	return c
}

// pubnubWords is PubNub's own message of an error answer, as ": message", or "".
func pubnubWords(err error) string {
	var apiErr *pubnub.Error
	if errors.As(err, &apiErr) && len(apiErr.Body.Message) > 0 {
		return ": " + strings.Join(apiErr.Body.Message, "; ")
	}
	return ""
}

// oneLine folds s (a driver's multi-line error) onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// callFailure says why a call got no judgeable answer.
func callFailure(err error) string {
	if wait, ok := provisioner.IsNoBudget(err); ok {
		return fmt.Sprintf("the shared rate budget has no room now (next slot in %s): run it again shortly", wait.Round(time.Second))
	}
	return oneLine(err.Error())
}

// profilesCheck holds each profile's config to PubNub's documented rules, locally: the Admin
// API has no dry run, and creating a keyset to try a config is not read-only.
func (d *doctor) profilesCheck() api.ReadyCheck {
	c := api.ReadyCheck{Name: "profiles", Status: api.ReadyFail}
	if d.profilesErr != nil {
		c.Detail = d.profilesErr.Error() + ": fix PNONBOARD_PROFILES_FILE"
		return c
	}
	var problems []string
	for _, p := range d.profiles {
		if ps := p.Config.Problems(); len(ps) > 0 {
			problems = append(problems, fmt.Sprintf("profile %q: %s", p.Name, strings.Join(ps, "; ")))
		}
	}
	if len(problems) > 0 {
		c.Detail = strings.Join(problems, ". ") + ": PubNub would refuse these keysets (400); fix " + d.profilesFrom
		return c
	}
	c.Status = api.ReadyOK
	c.Detail = fmt.Sprintf("%d profiles (%s: %s) meet PubNub's documented keyset config rules (checked locally; nothing is created)",
		len(d.profiles), d.profilesFrom, strings.Join(d.profiles.Names(), ", "))
	return c
}

// expiryWarning is how long before the key's expiry doctor warns.
const expiryWarning = 30 * 24 * time.Hour

// expiryCheck reads PNONBOARD_PUBNUB_API_KEY_EXPIRES: Service Integration keys live at most a
// year, and provisioning stops the day the key does.
func (d *doctor) expiryCheck() api.ReadyCheck {
	c := api.ReadyCheck{Name: "api key expiry", Status: api.ReadyOK}
	if d.keyExpires.IsZero() {
		c.Detail = "no expiry date given (set PNONBOARD_PUBNUB_API_KEY_EXPIRES=YYYY-MM-DD to be warned 30 days ahead)"
		return c
	}
	now := d.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	left := d.keyExpires.Sub(today)
	date := d.keyExpires.Format(time.DateOnly)
	renew := "make a new Service Integration key in the PubNub Admin Portal, then set PNONBOARD_PUBNUB_API_KEY and PNONBOARD_PUBNUB_API_KEY_EXPIRES"
	switch days := int(left.Hours() / 24); {
	case left < 0:
		c.Status, c.Detail = api.ReadyFail, fmt.Sprintf("the PubNub key expired on %s: %s", date, renew)
	case left <= expiryWarning:
		c.Status, c.Detail = api.ReadyWarn, fmt.Sprintf("the PubNub key expires on %s, in %d days: %s", date, days, renew)
	case left > 366*24*time.Hour:
		c.Status, c.Detail = api.ReadyWarn, fmt.Sprintf("PNONBOARD_PUBNUB_API_KEY_EXPIRES is %s, more than a year away, but "+
			"Service Integration keys live at most a year: check the date", date)
	default:
		c.Detail = fmt.Sprintf("the PubNub key expires on %s, in %d days", date, days)
	}
	return c
}

// upstreamEvery is how often GET /readyz?verbose=1 spends Admin API calls at most; answers
// in between repeat the last upstream result, so that polling the report cannot eat the
// rate budget.
const upstreamEvery = 30 * time.Second

// readyChecks are the doctor's checks for GET /readyz?verbose=1 of a serving replica: the
// upstream half at most every upstreamEvery (one run at a time), the local half each time.
type readyChecks struct {
	doctor   *doctor
	mu       sync.Mutex
	at       time.Time
	upstream []api.ReadyCheck
}

// newReadyChecks builds them for newApp, calling upstream through client, the workers' own (an
// API-only replica without a PubNub key checks nothing upstream).
func newReadyChecks(cfg config, client *pubnub.Client, profiles provisioner.Profiles) func(ctx context.Context) []api.ReadyCheck {
	d := newDoctor(cfg, profiles)
	if cfg.PubNubAPIKey != "" {
		d.upstream = client
	}
	return (&readyChecks{doctor: d}).run
}

func (r *readyChecks) run(ctx context.Context) []api.ReadyCheck {
	r.mu.Lock()
	if r.upstream == nil || r.doctor.now().Sub(r.at) >= upstreamEvery {
		upstream := r.doctor.upstreamChecks(ctx)
		if ctx.Err() == nil { // an answer cut short is not worth repeating
			r.upstream, r.at = upstream, r.doctor.now()
		}
		r.mu.Unlock()
		return append(upstream, r.doctor.localChecks()...)
	}
	upstream := slices.Clone(r.upstream)
	r.mu.Unlock()
	return append(upstream, r.doctor.localChecks()...)
}
