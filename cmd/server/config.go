package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/secrets"
	tenantusage "github.com/pnonboard/pnonboard/internal/usage"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// role says which halves of the service a process runs.
type role string

const (
	roleAll    role = "all"
	roleAPI    role = "api"
	roleWorker role = "worker"
)

func (r role) runsAPI() bool     { return r == roleAll || r == roleAPI }
func (r role) runsWorkers() bool { return r == roleAll || r == roleWorker }

// config is every setting of the service, parsed once from the environment by parseConfig.
// Nothing else reads the environment.
type config struct {
	DatabaseURL     string
	DBMaxConns      int
	Addr            string
	Role            role
	LogLevel        slog.Level
	LogFormat       string
	ShutdownTimeout time.Duration

	PubNubURL    string
	PubNubAPIKey string
	// PubNubAPIKeyExpires is when the Service Integration key expires (the date it was made
	// with, at most a year on), for server doctor's warning; zero when not given.
	PubNubAPIKeyExpires time.Time
	PubNubVersion       string
	PubNubRatePerMinute int
	// PubNubRateMargin is how many calls a minute the budget leaves unused (0: the default).
	PubNubRateMargin int
	// BackgroundShare is the most of the budget background work may use.
	BackgroundShare float64
	// DriftInterval is how often the drift sweep checks every tenant.
	DriftInterval time.Duration
	PubNubTimeout time.Duration
	// PubNubOrigin is the data-plane origin Access Manager tokens are granted and revoked on.
	PubNubOrigin string

	// EncryptionKey seals secrets at rest; PreviousEncryptionKeys still open older values.
	EncryptionKey          []byte
	PreviousEncryptionKeys [][]byte
	ProfilesFile           string
	Workers                int

	Webhooks             webhooks.Policy
	WebhookSecretOverlap time.Duration
	MetricsPublic        bool

	// Usage sync (issue 15): the metrics synced, per environment (keyset level) or per app,
	// and how often a pass starts (a target is still called at most once a day).
	UsageMetrics       []string
	UsageByEnvironment bool
	UsageSyncInterval  time.Duration
}

// configMode says what the command needs: serve needs everything, migrate only the database,
// dev supplies the database and secrets itself, doctor needs the database and the PubNub key
// but no encryption key.
type configMode int

const (
	modeServe configMode = iota
	modeMigrate
	modeDev
	modeDoctor
)

// parseConfig reads and validates the configuration. Its error is one line naming every bad
// or missing variable.
func parseConfig(getenv func(string) string, mode configMode) (config, error) {
	p := envParser{getenv: getenv}
	cfg := config{
		DatabaseURL:     p.str("DATABASE_URL", ""),
		DBMaxConns:      p.intRange("PNONBOARD_DB_MAX_CONNS", 10, 2, 1000),
		Addr:            p.addr("PNONBOARD_ADDR", ":8080"),
		Role:            role(p.oneOf("PNONBOARD_ROLE", "all", "all", "api", "worker")),
		LogFormat:       p.oneOf("PNONBOARD_LOG_FORMAT", "json", "json", "text"),
		ShutdownTimeout: p.duration("PNONBOARD_SHUTDOWN_TIMEOUT", 30*time.Second),
	}
	cfg.LogLevel = p.level("PNONBOARD_LOG_LEVEL")
	if mode != modeDev {
		p.require("DATABASE_URL", cfg.DatabaseURL)
		if cfg.DatabaseURL != "" {
			if _, err := url.Parse(cfg.DatabaseURL); err != nil || !strings.HasPrefix(cfg.DatabaseURL, "postgres") {
				p.fail("DATABASE_URL", "must be a postgres:// or postgresql:// URL")
			}
		}
	}
	if mode != modeMigrate {
		cfg.PubNubURL = p.httpURL("PNONBOARD_PUBNUB_URL", "https://admin-api.pubnub.com/v2")
		cfg.PubNubAPIKey = p.str("PNONBOARD_PUBNUB_API_KEY", "")
		cfg.PubNubAPIKeyExpires = p.optionalDate("PNONBOARD_PUBNUB_API_KEY_EXPIRES")
		cfg.PubNubVersion = p.date("PNONBOARD_PUBNUB_VERSION", "2026-02-09")
		cfg.PubNubRatePerMinute = p.intRange("PNONBOARD_PUBNUB_RATE_PER_MINUTE", 120, 2, 1_000_000)
		cfg.PubNubRateMargin = p.intRange("PNONBOARD_PUBNUB_RATE_MARGIN", 0, 0, 1_000_000)
		if cfg.PubNubRateMargin >= cfg.PubNubRatePerMinute {
			p.fail("PNONBOARD_PUBNUB_RATE_MARGIN", "must be less than PNONBOARD_PUBNUB_RATE_PER_MINUTE")
		}
		cfg.BackgroundShare = p.fraction("PNONBOARD_PUBNUB_BACKGROUND_SHARE", 0.2)
		cfg.PubNubTimeout = p.duration("PNONBOARD_PUBNUB_TIMEOUT", 20*time.Second)
		cfg.DriftInterval = p.duration("PNONBOARD_DRIFT_INTERVAL", 24*time.Hour)
		if cfg.DriftInterval < time.Minute {
			p.fail("PNONBOARD_DRIFT_INTERVAL", "must be at least 1m")
		}
		cfg.PubNubOrigin = p.httpURL("PNONBOARD_PUBNUB_ORIGIN", "https://ps.pndsn.com")
		cfg.EncryptionKey = p.encryptionKey("PNONBOARD_ENCRYPTION_KEY")
		for i, k := range splitList(p.getenv("PNONBOARD_ENCRYPTION_KEYS_PREVIOUS")) {
			key, err := secrets.ParseKey(k)
			if err != nil {
				p.fail("PNONBOARD_ENCRYPTION_KEYS_PREVIOUS", fmt.Sprintf("key %d %v", i+1, err))
			}
			cfg.PreviousEncryptionKeys = append(cfg.PreviousEncryptionKeys, key)
		}
		cfg.ProfilesFile = p.str("PNONBOARD_PROFILES_FILE", "")
		cfg.Workers = p.intRange("PNONBOARD_WORKERS", 20, 1, 10_000)
		cfg.Webhooks.AllowHTTP = p.boolean("PNONBOARD_WEBHOOK_ALLOW_HTTP", false)
		cfg.Webhooks.AllowPrivate = p.boolean("PNONBOARD_WEBHOOK_ALLOW_PRIVATE", false)
		cfg.WebhookSecretOverlap = p.duration("PNONBOARD_WEBHOOK_SECRET_OVERLAP", 24*time.Hour)
		cfg.MetricsPublic = p.boolean("PNONBOARD_METRICS_PUBLIC", false)
		cfg.UsageMetrics = p.usageMetrics("PNONBOARD_USAGE_METRICS")
		cfg.UsageByEnvironment = p.boolean("PNONBOARD_USAGE_BY_ENVIRONMENT", false)
		cfg.UsageSyncInterval = p.duration("PNONBOARD_USAGE_SYNC_INTERVAL", 15*time.Minute)
		if cfg.UsageSyncInterval < time.Minute {
			p.fail("PNONBOARD_USAGE_SYNC_INTERVAL", fmt.Sprintf("must be at least 1m (got %s)", cfg.UsageSyncInterval))
		}
	}
	if mode == modeServe {
		p.require("PNONBOARD_ENCRYPTION_KEY", p.getenv("PNONBOARD_ENCRYPTION_KEY"))
		if cfg.Role.runsWorkers() {
			p.require("PNONBOARD_PUBNUB_API_KEY", cfg.PubNubAPIKey)
		}
	}
	if mode == modeDoctor {
		p.require("PNONBOARD_PUBNUB_API_KEY", cfg.PubNubAPIKey)
	}
	if err := p.err(); err != nil {
		return config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// LogValue is the configuration as logged at start-up: secrets masked.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", redactURL(c.DatabaseURL)),
		slog.Int("db_max_conns", c.DBMaxConns),
		slog.String("addr", c.Addr),
		slog.String("role", string(c.Role)),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("pubnub_url", c.PubNubURL),
		slog.String("pubnub_api_key", mask(c.PubNubAPIKey)),
		slog.String("pubnub_api_key_expires", formatDate(c.PubNubAPIKeyExpires)),
		slog.String("pubnub_version", c.PubNubVersion),
		slog.Int("pubnub_rate_per_minute", c.PubNubRatePerMinute),
		slog.Int("pubnub_rate_margin", c.PubNubRateMargin),
		slog.Float64("pubnub_background_share", c.BackgroundShare),
		slog.Duration("drift_interval", c.DriftInterval),
		slog.Duration("pubnub_timeout", c.PubNubTimeout),
		slog.String("pubnub_origin", c.PubNubOrigin),
		slog.String("encryption_key", mask(string(c.EncryptionKey))),
		slog.Int("previous_encryption_keys", len(c.PreviousEncryptionKeys)),
		slog.String("profiles_file", c.ProfilesFile),
		slog.Int("workers", c.Workers),
		slog.Bool("webhook_allow_http", c.Webhooks.AllowHTTP),
		slog.Bool("webhook_allow_private", c.Webhooks.AllowPrivate),
		slog.Duration("webhook_secret_overlap", c.WebhookSecretOverlap),
		slog.Bool("metrics_public", c.MetricsPublic),
		slog.String("usage_metrics", strings.Join(c.UsageMetrics, ",")),
		slog.Bool("usage_by_environment", c.UsageByEnvironment),
		slog.Duration("usage_sync_interval", c.UsageSyncInterval),
	)
}

// redactURL hides a URL's password (and anything that looks like one in the query).
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable, hidden)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// mask says whether a secret is set without saying anything about it.
func mask(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "(set)"
}

// envParser collects every problem instead of stopping at the first, so one start-up failure
// names all of them.
type envParser struct {
	getenv func(string) string
	errs   []string
}

func (p *envParser) fail(name, msg string) { p.errs = append(p.errs, name+": "+msg) }

func (p *envParser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(p.errs, "; "))
}

func (p *envParser) str(name, def string) string {
	return cmp.Or(strings.TrimSpace(p.getenv(name)), def)
}

func (p *envParser) require(name, v string) {
	if v == "" {
		p.fail(name, "is required")
	}
}

func (p *envParser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, fmt.Sprintf("must be one of %s (got %q)", strings.Join(allowed, ", "), v))
	return def
}

func (p *envParser) duration(name string, def time.Duration) time.Duration {
	raw := p.getenv(name)
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.fail(name, fmt.Sprintf("must be a positive duration like 30s (got %q)", raw))
		return def
	}
	return d
}

func (p *envParser) intRange(name string, def, lo, hi int) int {
	raw := p.getenv(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("must be a whole number from %d to %d (got %q)", lo, hi, raw))
		return def
	}
	return n
}

// fraction parses a number from 0 (excluded) to 1.
func (p *envParser) fraction(name string, def float64) float64 {
	raw := p.getenv(name)
	if raw == "" {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || f <= 0 || f > 1 {
		p.fail(name, fmt.Sprintf("must be a number above 0 and at most 1, such as 0.2 (got %q)", raw))
		return def
	}
	return f
}

func (p *envParser) boolean(name string, def bool) bool {
	raw := p.getenv(name)
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		p.fail(name, fmt.Sprintf("must be true or false (got %q)", raw))
		return def
	}
	return b
}

func (p *envParser) addr(name, def string) string {
	v := p.str(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		p.fail(name, fmt.Sprintf("must be host:port or :port (got %q)", v))
		return def
	}
	return v
}

func (p *envParser) httpURL(name, def string) string {
	v := p.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, fmt.Sprintf("must be an http(s) URL (got %q)", v))
		return def
	}
	return strings.TrimRight(v, "/")
}

func (p *envParser) date(name, def string) string {
	v := p.str(name, def)
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		p.fail(name, fmt.Sprintf("must be a date like 2026-02-09 (got %q)", v))
		return def
	}
	return v
}

// optionalDate parses a YYYY-MM-DD date, or returns the zero time when name is unset.
func (p *envParser) optionalDate(name string) time.Time {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return time.Time{}
	}
	d, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		p.fail(name, fmt.Sprintf("must be a date like 2027-03-31 (got %q)", raw))
		return time.Time{}
	}
	return d
}

// formatDate writes a config date, "" for none.
func formatDate(d time.Time) string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

// encryptionKey parses a base64 key without ever echoing it.
func (p *envParser) encryptionKey(name string) []byte {
	raw := p.getenv(name)
	if raw == "" {
		return nil
	}
	key, err := secrets.ParseKey(raw)
	if err != nil {
		p.fail(name, err.Error())
	}
	return key
}

// usageMetrics reads a comma-separated list of PubNub usage metric names (default
// tenantusage.DefaultMetrics); an unknown name fails start-up.
func (p *envParser) usageMetrics(name string) []string {
	metrics, err := tenantusage.ParseMetrics(p.str(name, tenantusage.DefaultMetrics))
	if err != nil {
		p.fail(name, err.Error())
	}
	return metrics
}

func (p *envParser) level(name string) slog.Level {
	l, err := logging.ParseLevel(p.getenv(name))
	if err != nil {
		p.fail(name, err.Error())
	}
	return l
}
