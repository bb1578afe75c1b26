// Package config reads paycode's configuration from environment variables
// into one struct and validates it, reporting every problem at once.
//
// Every field says its environment variable, its default and what it
// protects. The README's configuration table is written from this file: keep
// the two in step.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // PAYCODE_TIMEZONE works where the system has no zoneinfo (distroless)
)

// Environment names the deployment mode.
type Environment string

// The two modes. Dev allows the embedded store and generated keys; production
// refuses to start without a real Redis and an admin token.
const (
	Dev        Environment = "dev"
	Production Environment = "production"
)

// Config is the whole configuration of a paycode server.
type Config struct {
	// Env is PAYCODE_ENV, "dev" (default) or "production". Production makes a
	// missing Redis address or admin token a fatal error instead of a dev default.
	Env Environment

	// Addr is PAYCODE_ADDR, the public listener (default ":8080").
	Addr string
	// AdminAddr is PAYCODE_ADMIN_ADDR, the admin listener for /healthz, /readyz,
	// /metrics and operator calls (default "127.0.0.1:9090": loopback only, so
	// the operator surface is not reachable from outside by default).
	AdminAddr string
	// AdminToken is PAYCODE_ADMIN_TOKEN, the bearer token admin calls need
	// (/healthz, /readyz and /metrics excepted). Required in production, at
	// least 32 characters. In dev an empty token disables operator calls.
	AdminToken string

	// PublicURL is PAYCODE_PUBLIC_URL, the external base URL clients use
	// (default "http://localhost:8080" in dev). DPoP htu checks and WebAuthn
	// origins are derived from it so that a proxy in front cannot confuse them.
	// Required in production, and must be https there.
	PublicURL *url.URL

	// RedisURL is PAYCODE_REDIS_URL: a redis:// or rediss:// URL of a single
	// node. RedisAddrs is PAYCODE_REDIS_ADDRS: comma-separated host:port seeds
	// of a Redis Cluster, or of Sentinels when RedisSentinelMaster is set
	// (PAYCODE_REDIS_SENTINEL_MASTER). Set one of URL or ADDRS, not both.
	// With neither, dev starts the embedded store and production refuses.
	RedisURL            string
	RedisAddrs          []string
	RedisSentinelMaster string
	// RedisUsername, RedisPassword (PAYCODE_REDIS_USERNAME,
	// PAYCODE_REDIS_PASSWORD) and RedisTLS (PAYCODE_REDIS_TLS=true)
	// authenticate and encrypt Cluster/Sentinel connections; a URL carries its own.
	RedisUsername string
	RedisPassword string
	RedisTLS      bool
	// RedisPrefix is PAYCODE_REDIS_PREFIX (default "pc:"), the first part of
	// every key name, so that several deployments (or test runs) can share a
	// Redis without touching each other's keys.
	RedisPrefix string
	// RedisTimeout is PAYCODE_REDIS_TIMEOUT (default 500ms): the deadline of
	// every Redis command (dial, write, read; twice that for a pooled
	// connection), retried at most once. It bounds how long a caller waits
	// for a Redis that is down, paused or withholding replies before a 503
	// with Retry-After (about a second).
	RedisTimeout time.Duration
	// RedisWaitReplicas is PAYCODE_REDIS_WAIT_REPLICAS (default 0): how
	// many replicas must hold a money movement before paycode answers 201
	// (WAIT on the connection that moved it), and a queued notification
	// before the change it announces commits. With 0, a failover to a
	// replica that had not received the movement loses it (README
	// "Durability"). Production refuses to start with 0 on a topology that
	// has replicas unless it is set to 0 explicitly (RedisWaitReplicasSet).
	RedisWaitReplicas    int
	RedisWaitReplicasSet bool
	// RedisWaitTimeout is PAYCODE_REDIS_WAIT_TIMEOUT (default 250ms): how
	// long a movement waits for its replicas; short of them it answers 503
	// unconfirmed, and the terminal's retry with the same Idempotency-Key
	// returns the original outcome if it survived or moves the money once.
	RedisWaitTimeout time.Duration

	// BodyLimit is PAYCODE_BODY_LIMIT in bytes (default 65536): larger request
	// bodies are refused with 413 before a handler reads them.
	BodyLimit int
	// ReadTimeout, WriteTimeout and IdleTimeout (PAYCODE_READ_TIMEOUT,
	// PAYCODE_WRITE_TIMEOUT, PAYCODE_IDLE_TIMEOUT; defaults 10s, 15s, 60s)
	// bound slow clients so they cannot hold connections open.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// ShutdownTimeout is PAYCODE_SHUTDOWN_TIMEOUT (default 20s): how long a
	// SIGTERM waits for in-flight requests before closing connections.
	ShutdownTimeout time.Duration

	// LogLevel is PAYCODE_LOG_LEVEL: debug, info (default), warn or error.
	LogLevel string

	// TrustedProxies is PAYCODE_TRUSTED_PROXIES: comma-separated IPs or
	// CIDRs of reverse proxies whose X-Forwarded-For is believed. The
	// client IP is the rightmost X-Forwarded-For address that is not one of
	// them (nginx real_ip_recursive), so entries a client wrote on the left
	// are ignored. Empty (default): the peer address is the client IP, so a
	// client cannot choose the IP its rate limits are counted against.
	TrustedProxies []string
	// CountryHeader is PAYCODE_COUNTRY_HEADER (default empty: no country is
	// known): the request header in which the CDN or reverse proxy puts the
	// client's ISO 3166-1 alpha-2 country, such as "CF-IPCountry" or
	// "CloudFront-Viewer-Country". The blocked_countries switch compares it.
	// It is believed only from a peer in PAYCODE_TRUSTED_PROXIES (so setting
	// it requires them), and a request without it is allowed: country
	// blocking is a coarse control that relies on the proxy setting the
	// header on every request and overwriting any value a client sent.
	CountryHeader string

	// Secret is PAYCODE_SECRET, at least 32 bytes: the key of every keyed
	// hash under which OTPs, refresh tokens, recovery codes, contacts and
	// codes are stored, so a copy of Redis reveals none of them. Required in
	// production; dev uses a fixed, loudly announced value.
	Secret []byte
	// DevSecret is true when Secret is the dev default.
	DevSecret bool

	// SigningKeyFiles is PAYCODE_SIGNING_KEYS: comma-separated paths of PEM
	// private keys (PKCS#8 EC P-256 or Ed25519) for access tokens. The first
	// signs; all verify, so a rotation adds the new key first and removes the
	// old one after the token lifetime. Required in production; dev generates
	// one and keeps it in Redis so that every dev replica shares it.
	SigningKeyFiles []string

	// RPID is PAYCODE_RP_ID, the WebAuthn relying party id (default: the
	// public URL's host). Passkeys are scoped to it.
	RPID string
	// RPName is PAYCODE_RP_NAME (default "paycode"), shown by authenticators.
	RPName string
	// RPOrigins is PAYCODE_RP_ORIGINS: comma-separated origins allowed in
	// passkey ceremonies (default: the public URL's origin). Native Android
	// apps add "android:apk-key-hash:<base64url sha256 of the signing cert>".
	RPOrigins []string
	// DeviceBoundOnly is PAYCODE_PASSKEY_DEVICE_BOUND_ONLY (default false):
	// refuse synced passkeys (BE=1) at registration.
	DeviceBoundOnly bool
	// AAGUIDs is PAYCODE_PASSKEY_AAGUIDS: comma-separated authenticator
	// model ids; when set, registration asks for attestation and refuses
	// other models and unattested credentials.
	AAGUIDs []string

	// AccessTokenTTL is PAYCODE_ACCESS_TOKEN_TTL (default 5m, at most 15m).
	AccessTokenTTL time.Duration
	// SessionIdle is PAYCODE_SESSION_IDLE (default 15m): a session unused
	// this long ends. SessionMax is PAYCODE_SESSION_MAX (default 24h): no
	// session lives longer, whatever its activity.
	SessionIdle time.Duration
	SessionMax  time.Duration

	// NotifyWebhookURL is PAYCODE_NOTIFY_WEBHOOK_URL: where OTPs and security
	// notices are posted (required in production). NotifyWebhookSecret is
	// PAYCODE_NOTIFY_WEBHOOK_SECRET (at least 32 bytes when the URL is set),
	// the HMAC key of the X-Paycode-Signature header.
	NotifyWebhookURL    string
	NotifyWebhookSecret []byte

	// AndroidAssetLinks is PAYCODE_ANDROID_ASSETLINKS: comma-separated
	// "package.name=SHA256:FINGERPRINT" entries for
	// /.well-known/assetlinks.json. AppleAppIDs is PAYCODE_APPLE_APP_IDS:
	// comma-separated "TEAMID.bundle.id" for
	// /.well-known/apple-app-site-association (webcredentials).
	AndroidAssetLinks []string
	AppleAppIDs       []string

	// RecoveryCooldown is PAYCODE_RECOVERY_COOLDOWN (default 24h): how long a
	// recovery without the old device waits, while the old device and the
	// contact are told and can cancel it.
	RecoveryCooldown time.Duration
	// ContactCooldown is PAYCODE_CONTACT_COOLDOWN (default 24h): how long
	// a verified contact change waits before it takes effect, while the
	// old address (warned with a one-time cancel link) and the account's
	// device may cancel it. It protects the account's way back in: until
	// it is over, recovery still goes to the old address. Production
	// refuses less than an hour; dev may shorten it (not to zero).
	ContactCooldown time.Duration
	// Probation is PAYCODE_PROBATION (default 24h): after a new device
	// becomes active, payment limits are lowered and top-ups are off for this
	// long, so a hijacked account cannot be emptied at once.
	Probation time.Duration
	// EnrollmentTTL is PAYCODE_ENROLLMENT_TTL (default 15m): how long a new
	// device's request waits for approval before it expires.
	EnrollmentTTL time.Duration

	// CodePrefix is PAYCODE_CODE_PREFIX (default "99"): the 2-digit issuer
	// prefix of payment codes, which scanners use to route them here.
	CodePrefix string
	// CodeTTL is PAYCODE_CODE_TTL (default 60s): a payment code's lifetime.
	// CodeRotate is PAYCODE_CODE_ROTATE (default 30s): when the client should
	// fetch the next one. CodeGrace is PAYCODE_CODE_GRACE (default 5s, at most
	// 5s): how long the previous code stays valid after a new one is issued.
	CodeTTL    time.Duration
	CodeRotate time.Duration
	CodeGrace  time.Duration
	// PaymentWindow is PAYCODE_PAYMENT_WINDOW (default 5m): a code is issued
	// only this soon after a user-verified passkey assertion; older sessions
	// get an RFC 9470 step-up challenge.
	PaymentWindow time.Duration
	// CodesPerMinute is PAYCODE_CODES_PER_MINUTE (default 20): how many codes
	// one account may draw per minute (a client rotates twice a minute).
	CodesPerMinute int
	// StreamsPerAccount is PAYCODE_STREAMS_PER_ACCOUNT (default 4): how many
	// event streams one account may hold open on one replica.
	// StreamsPerReplica is PAYCODE_STREAMS_PER_REPLICA (default 2000): how
	// many a replica holds in all. Past either, GET /v1/events answers 429
	// too_many_streams. Every stream shares the replica's one Redis
	// subscription, so neither bounds Redis connections (that is fixed at
	// one per replica); they bound a replica's sockets and goroutines.
	StreamsPerAccount int
	StreamsPerReplica int

	// Currency is PAYCODE_CURRENCY (default JPY): wallets hold this currency
	// in its minor unit. Location is PAYCODE_TIMEZONE (default Asia/Tokyo):
	// where a business day (daily limits) begins.
	Currency string
	Location *time.Location
	// Wallet limits in minor units: PAYCODE_LIMIT_PAYMENT (50000 per
	// payment), PAYCODE_LIMIT_DAY (100000 of payments per day),
	// PAYCODE_LIMIT_TOPUP (50000 per top-up), PAYCODE_LIMIT_TOPUPS_PER_DAY (5),
	// PAYCODE_PROBATION_LIMIT_DAY (10000: each payment and the day's total
	// during probation). They bound what a hijacked account can lose.
	LimitPayment      int64
	LimitDay          int64
	LimitTopup        int64
	LimitTopupsPerDay int64
	ProbationLimitDay int64
	// GuessThrottle and GuessSuspend (PAYCODE_GUESS_THROTTLE 10,
	// PAYCODE_GUESS_SUSPEND 30) are how many code_unknown declines a terminal
	// may cause in 10 minutes before it is throttled (429), and how many
	// guesses (those declines and the calls refused while throttled) before
	// it is suspended: code guessing from a compromised scanner.
	GuessThrottle int64
	GuessSuspend  int64
}

// devSecret is the dev-mode keyed-hash secret: public, so never for money.
const devSecret = "paycode-dev-secret-do-not-use-in-production!"

// Getenv looks up one variable; os.LookupEnv fits, and tests pass a map.
type Getenv func(key string) (string, bool)

// Load reads the configuration through getenv, applies defaults and validates
// it. The error lists every problem found, one per line.
func Load(getenv Getenv) (*Config, error) {
	var problems []error
	get := func(key, def string) string {
		if v, ok := getenv(key); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	duration := func(key string, def time.Duration) time.Duration {
		s := get(key, "")
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Errorf("%s: %q is not a positive duration such as 10s", key, s))
			return def
		}
		return d
	}

	c := &Config{
		Env:                 Environment(strings.ToLower(get("PAYCODE_ENV", string(Dev)))),
		Addr:                get("PAYCODE_ADDR", ":8080"),
		AdminAddr:           get("PAYCODE_ADMIN_ADDR", "127.0.0.1:9090"),
		AdminToken:          get("PAYCODE_ADMIN_TOKEN", ""),
		RedisURL:            get("PAYCODE_REDIS_URL", ""),
		RedisSentinelMaster: get("PAYCODE_REDIS_SENTINEL_MASTER", ""),
		RedisUsername:       get("PAYCODE_REDIS_USERNAME", ""),
		RedisPassword:       get("PAYCODE_REDIS_PASSWORD", ""),
		RedisPrefix:         get("PAYCODE_REDIS_PREFIX", "pc:"),
		RedisTimeout:        duration("PAYCODE_REDIS_TIMEOUT", 500*time.Millisecond),
		RedisWaitTimeout:    duration("PAYCODE_REDIS_WAIT_TIMEOUT", 250*time.Millisecond),
		LogLevel:            strings.ToLower(get("PAYCODE_LOG_LEVEL", "info")),
		ReadTimeout:         duration("PAYCODE_READ_TIMEOUT", 10*time.Second),
		WriteTimeout:        duration("PAYCODE_WRITE_TIMEOUT", 15*time.Second),
		IdleTimeout:         duration("PAYCODE_IDLE_TIMEOUT", 60*time.Second),
		ShutdownTimeout:     duration("PAYCODE_SHUTDOWN_TIMEOUT", 20*time.Second),
	}

	switch c.Env {
	case Dev, Production:
	default:
		problems = append(problems, fmt.Errorf("PAYCODE_ENV: %q is neither dev nor production", c.Env))
	}

	for _, l := range []struct{ key, addr string }{{"PAYCODE_ADDR", c.Addr}, {"PAYCODE_ADMIN_ADDR", c.AdminAddr}} {
		if _, port, err := net.SplitHostPort(l.addr); err != nil || !validPort(port) {
			problems = append(problems, fmt.Errorf("%s: %q is not host:port", l.key, l.addr))
		}
	}
	if c.Addr == c.AdminAddr && portSuffix(c.Addr) != ":0" {
		problems = append(problems, errors.New("PAYCODE_ADMIN_ADDR: must differ from PAYCODE_ADDR; the admin API has its own listener"))
	}

	if c.AdminToken != "" && len(c.AdminToken) < 32 {
		problems = append(problems, errors.New("PAYCODE_ADMIN_TOKEN: must be at least 32 characters"))
	}
	if c.AdminToken == "" && c.Env == Production {
		problems = append(problems, errors.New("PAYCODE_ADMIN_TOKEN: required in production"))
	}
	if c.Env == Production && c.AdminToken != "" && lowEntropy(c.AdminToken) {
		problems = append(problems, fmt.Errorf("PAYCODE_ADMIN_TOKEN: too guessable for production (fewer than %d distinct characters); generate it, e.g. openssl rand -hex 32", minDistinct))
	}

	publicURL := get("PAYCODE_PUBLIC_URL", "")
	if publicURL == "" {
		if c.Env == Production {
			problems = append(problems, errors.New("PAYCODE_PUBLIC_URL: required in production"))
		}
		publicURL = "http://localhost" + portSuffix(c.Addr)
	}
	u, err := url.Parse(publicURL)
	// get, not getenv: a blank PAYCODE_ENV (as compose files write it) is
	// dev mode like an absent one, and must be refused alike.
	if get("PAYCODE_ENV", "") == "" && err == nil && u.Host != "" && !loopbackHost(u.Hostname()) {
		// Dev mode serves every OTP at /dev/outbox and accepts generated
		// keys: it must never be what a deployment gets by leaving a
		// variable out.
		problems = append(problems, fmt.Errorf("PAYCODE_ENV: must be set (dev or production) when PAYCODE_PUBLIC_URL is not a loopback address (%q)", u.Hostname()))
	}
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		problems = append(problems, fmt.Errorf("PAYCODE_PUBLIC_URL: %q is not an absolute http(s) URL", publicURL))
	case u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		problems = append(problems, fmt.Errorf("PAYCODE_PUBLIC_URL: %q must be a bare origin without path, query or fragment", publicURL))
	case c.Env == Production && u.Scheme != "https":
		problems = append(problems, fmt.Errorf("PAYCODE_PUBLIC_URL: %q must be https in production", publicURL))
	default:
		u.Path = ""
		c.PublicURL = u
	}

	if addrs := get("PAYCODE_REDIS_ADDRS", ""); addrs != "" {
		for _, a := range strings.Split(addrs, ",") {
			a = strings.TrimSpace(a)
			if _, port, err := net.SplitHostPort(a); err != nil || !validPort(port) {
				problems = append(problems, fmt.Errorf("PAYCODE_REDIS_ADDRS: %q is not host:port", a))
				continue
			}
			c.RedisAddrs = append(c.RedisAddrs, a)
		}
	}
	if c.RedisURL != "" {
		if len(c.RedisAddrs) > 0 {
			problems = append(problems, errors.New("PAYCODE_REDIS_URL and PAYCODE_REDIS_ADDRS: set one, not both"))
		}
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			// The URL may carry a password: never echo it.
			problems = append(problems, errors.New("PAYCODE_REDIS_URL: not a redis://, rediss:// or unix:// URL"))
		}
	}
	if v := get("PAYCODE_REDIS_WAIT_REPLICAS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 16 {
			problems = append(problems, fmt.Errorf("PAYCODE_REDIS_WAIT_REPLICAS: %q is not a whole number from 0 to 16", v))
		}
		c.RedisWaitReplicas, c.RedisWaitReplicasSet = n, err == nil
	}
	if c.RedisWaitReplicas > 0 && !c.HasRedis() {
		problems = append(problems, errors.New("PAYCODE_REDIS_WAIT_REPLICAS: the embedded store has no replicas; set a Redis address or 0"))
	}
	if c.RedisTimeout > 5*time.Second || c.RedisWaitTimeout > 5*time.Second {
		problems = append(problems, errors.New("PAYCODE_REDIS_TIMEOUT and PAYCODE_REDIS_WAIT_TIMEOUT: at most 5s (callers must get an answer, not a hang)"))
	}
	if c.RedisSentinelMaster != "" && len(c.RedisAddrs) == 0 {
		problems = append(problems, errors.New("PAYCODE_REDIS_SENTINEL_MASTER: needs the Sentinel addresses in PAYCODE_REDIS_ADDRS"))
	}
	if tls := get("PAYCODE_REDIS_TLS", "false"); tls != "" {
		b, err := strconv.ParseBool(tls)
		if err != nil {
			problems = append(problems, fmt.Errorf("PAYCODE_REDIS_TLS: %q is not true or false", tls))
		}
		c.RedisTLS = b
	}
	if c.Env == Production && !c.HasRedis() {
		problems = append(problems, errors.New("PAYCODE_REDIS_URL or PAYCODE_REDIS_ADDRS: required in production; the embedded store is for development only"))
	}
	if strings.ContainsAny(c.RedisPrefix, "{} \t\r\n") {
		problems = append(problems, fmt.Errorf("PAYCODE_REDIS_PREFIX: %q must not contain braces or white space", c.RedisPrefix))
	}

	c.BodyLimit = 64 << 10
	if s := get("PAYCODE_BODY_LIMIT", ""); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1024 || n > 16<<20 {
			problems = append(problems, fmt.Errorf("PAYCODE_BODY_LIMIT: %q is not a byte count between 1024 and 16777216", s))
		} else {
			c.BodyLimit = n
		}
	}

	list := func(key string) []string {
		var out []string
		for _, v := range strings.Split(get(key, ""), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	boolean := func(key string) bool {
		v := get(key, "false")
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %q is not true or false", key, v))
		}
		return b
	}

	c.TrustedProxies = list("PAYCODE_TRUSTED_PROXIES")
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				problems = append(problems, fmt.Errorf("PAYCODE_TRUSTED_PROXIES: %q is not an IP or CIDR", p))
			}
		}
	}

	c.CountryHeader = get("PAYCODE_COUNTRY_HEADER", "")
	if c.CountryHeader != "" {
		if !validHeaderName(c.CountryHeader) {
			problems = append(problems, fmt.Errorf("PAYCODE_COUNTRY_HEADER: %q is not a header name", c.CountryHeader))
		}
		if len(c.TrustedProxies) == 0 {
			problems = append(problems, errors.New("PAYCODE_COUNTRY_HEADER: needs PAYCODE_TRUSTED_PROXIES; the header is believed only from a configured proxy"))
		}
	}

	switch secret := get("PAYCODE_SECRET", ""); {
	case secret == "" && c.Env == Production:
		problems = append(problems, errors.New("PAYCODE_SECRET: required in production (at least 32 bytes)"))
	case secret == "":
		c.Secret, c.DevSecret = []byte(devSecret), true
	case len(secret) < 32:
		problems = append(problems, errors.New("PAYCODE_SECRET: must be at least 32 bytes"))
	case c.Env == Production && lowEntropy(secret):
		problems = append(problems, fmt.Errorf("PAYCODE_SECRET: too guessable for production (fewer than %d distinct characters); generate it, e.g. openssl rand -hex 32", minDistinct))
	default:
		c.Secret = []byte(secret)
	}

	c.SigningKeyFiles = list("PAYCODE_SIGNING_KEYS")
	if len(c.SigningKeyFiles) == 0 && c.Env == Production {
		problems = append(problems, errors.New("PAYCODE_SIGNING_KEYS: required in production (PEM files of the access-token signing keys)"))
	}

	c.RPName = get("PAYCODE_RP_NAME", "paycode")
	c.RPID = get("PAYCODE_RP_ID", "")
	c.RPOrigins = list("PAYCODE_RP_ORIGINS")
	if c.PublicURL != nil {
		if c.RPID == "" {
			c.RPID = c.PublicURL.Hostname()
		}
		if len(c.RPOrigins) == 0 {
			c.RPOrigins = []string{c.PublicURL.Scheme + "://" + c.PublicURL.Host}
		}
	}
	for _, o := range c.RPOrigins {
		if strings.HasPrefix(o, "android:apk-key-hash:") {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "" {
			problems = append(problems, fmt.Errorf("PAYCODE_RP_ORIGINS: %q is neither an origin nor android:apk-key-hash:...", o))
		}
	}
	c.DeviceBoundOnly = boolean("PAYCODE_PASSKEY_DEVICE_BOUND_ONLY")
	c.AAGUIDs = list("PAYCODE_PASSKEY_AAGUIDS")
	for _, a := range c.AAGUIDs {
		if len(a) != 36 || strings.Count(a, "-") != 4 {
			problems = append(problems, fmt.Errorf("PAYCODE_PASSKEY_AAGUIDS: %q is not a UUID", a))
		}
	}

	c.AccessTokenTTL = duration("PAYCODE_ACCESS_TOKEN_TTL", 5*time.Minute)
	if c.AccessTokenTTL > 15*time.Minute {
		problems = append(problems, errors.New("PAYCODE_ACCESS_TOKEN_TTL: at most 15m; access tokens are not revocable before they expire"))
	}
	c.SessionIdle = duration("PAYCODE_SESSION_IDLE", 15*time.Minute)
	c.SessionMax = duration("PAYCODE_SESSION_MAX", 24*time.Hour)
	if c.SessionIdle > c.SessionMax {
		problems = append(problems, errors.New("PAYCODE_SESSION_IDLE: longer than PAYCODE_SESSION_MAX"))
	}

	c.NotifyWebhookURL = get("PAYCODE_NOTIFY_WEBHOOK_URL", "")
	c.NotifyWebhookSecret = []byte(get("PAYCODE_NOTIFY_WEBHOOK_SECRET", ""))
	if c.NotifyWebhookURL != "" {
		switch u, err := url.Parse(c.NotifyWebhookURL); {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			problems = append(problems, errors.New("PAYCODE_NOTIFY_WEBHOOK_URL: not an http(s) URL"))
		case c.Env == Production && u.Scheme != "https":
			problems = append(problems, errors.New("PAYCODE_NOTIFY_WEBHOOK_URL: must be https in production (OTPs travel in it)"))
		}
		if len(c.NotifyWebhookSecret) < 32 {
			problems = append(problems, errors.New("PAYCODE_NOTIFY_WEBHOOK_SECRET: must be at least 32 bytes when the webhook is set"))
		} else if c.Env == Production && lowEntropy(string(c.NotifyWebhookSecret)) {
			problems = append(problems, fmt.Errorf("PAYCODE_NOTIFY_WEBHOOK_SECRET: too guessable for production (fewer than %d distinct characters)", minDistinct))
		}
	} else if c.Env == Production {
		problems = append(problems, errors.New("PAYCODE_NOTIFY_WEBHOOK_URL: required in production (OTPs and security notices go through it)"))
	}

	c.AndroidAssetLinks = list("PAYCODE_ANDROID_ASSETLINKS")
	for _, a := range c.AndroidAssetLinks {
		if pkg, fp, ok := strings.Cut(a, "="); !ok || pkg == "" || len(fp) != 95 {
			problems = append(problems, fmt.Errorf("PAYCODE_ANDROID_ASSETLINKS: %q is not package=AA:BB:...(SHA-256 fingerprint)", a))
		}
	}
	c.AppleAppIDs = list("PAYCODE_APPLE_APP_IDS")

	c.RecoveryCooldown = duration("PAYCODE_RECOVERY_COOLDOWN", 24*time.Hour)
	c.ContactCooldown = duration("PAYCODE_CONTACT_COOLDOWN", 24*time.Hour)
	if c.ContactCooldown <= 0 {
		problems = append(problems, errors.New("PAYCODE_CONTACT_COOLDOWN: must be positive (the old address's time to cancel)"))
	} else if c.Env == Production && c.ContactCooldown < time.Hour {
		problems = append(problems, errors.New("PAYCODE_CONTACT_COOLDOWN: at least 1h in production (the old address's time to cancel)"))
	}
	c.Probation = duration("PAYCODE_PROBATION", 24*time.Hour)
	c.EnrollmentTTL = duration("PAYCODE_ENROLLMENT_TTL", 15*time.Minute)

	c.CodePrefix = get("PAYCODE_CODE_PREFIX", "99")
	if len(c.CodePrefix) != 2 || c.CodePrefix[0] < '0' || c.CodePrefix[0] > '9' || c.CodePrefix[1] < '0' || c.CodePrefix[1] > '9' {
		problems = append(problems, fmt.Errorf("PAYCODE_CODE_PREFIX: %q is not 2 digits", c.CodePrefix))
	}
	c.CodeTTL = duration("PAYCODE_CODE_TTL", 60*time.Second)
	c.CodeRotate = duration("PAYCODE_CODE_ROTATE", 30*time.Second)
	c.CodeGrace = duration("PAYCODE_CODE_GRACE", 5*time.Second)
	if c.CodeRotate >= c.CodeTTL {
		problems = append(problems, errors.New("PAYCODE_CODE_ROTATE: must be shorter than PAYCODE_CODE_TTL"))
	}
	if c.CodeGrace > 5*time.Second {
		problems = append(problems, errors.New("PAYCODE_CODE_GRACE: at most 5s"))
	}
	c.PaymentWindow = duration("PAYCODE_PAYMENT_WINDOW", 5*time.Minute)
	c.CodesPerMinute = 20
	if v := get("PAYCODE_CODES_PER_MINUTE", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Errorf("PAYCODE_CODES_PER_MINUTE: %q is not a positive number", v))
		} else {
			c.CodesPerMinute = n
		}
	}
	for _, v := range []struct {
		key string
		dst *int
		def int
	}{{"PAYCODE_STREAMS_PER_ACCOUNT", &c.StreamsPerAccount, 4}, {"PAYCODE_STREAMS_PER_REPLICA", &c.StreamsPerReplica, 2000}} {
		*v.dst = v.def
		if s := get(v.key, ""); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1_000_000 {
				problems = append(problems, fmt.Errorf("%s: %q is not a number from 1 to 1000000", v.key, s))
			} else {
				*v.dst = n
			}
		}
	}

	c.Currency = get("PAYCODE_CURRENCY", "JPY")
	if len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency {
		problems = append(problems, fmt.Errorf("PAYCODE_CURRENCY: %q is not an ISO 4217 code", c.Currency))
	}
	tz := get("PAYCODE_TIMEZONE", "Asia/Tokyo")
	if loc, err := time.LoadLocation(tz); err != nil {
		problems = append(problems, fmt.Errorf("PAYCODE_TIMEZONE: %q is not a time zone", tz))
	} else {
		c.Location = loc
	}
	positive := func(key string, def int64) int64 {
		v := get(key, "")
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Errorf("%s: %q is not a positive whole number", key, v))
			return def
		}
		return n
	}
	c.LimitPayment = positive("PAYCODE_LIMIT_PAYMENT", 50000)
	c.LimitDay = positive("PAYCODE_LIMIT_DAY", 100000)
	c.LimitTopup = positive("PAYCODE_LIMIT_TOPUP", 50000)
	c.LimitTopupsPerDay = positive("PAYCODE_LIMIT_TOPUPS_PER_DAY", 5)
	c.ProbationLimitDay = positive("PAYCODE_PROBATION_LIMIT_DAY", 10000)
	c.GuessThrottle = positive("PAYCODE_GUESS_THROTTLE", 10)
	c.GuessSuspend = positive("PAYCODE_GUESS_SUSPEND", 30)
	if c.GuessSuspend < c.GuessThrottle {
		problems = append(problems, errors.New("PAYCODE_GUESS_SUSPEND: must not be below PAYCODE_GUESS_THROTTLE"))
	}

	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Errorf("PAYCODE_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}

	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n%w", errors.Join(problems...))
	}
	return c, nil
}

// HasRedis reports whether a real Redis is configured; without one the server
// runs on the embedded store (dev only).
func (c *Config) HasRedis() bool { return c.RedisURL != "" || len(c.RedisAddrs) > 0 }

// validHeaderName accepts an RFC 9110 token of at most 64 characters.
func validHeaderName(h string) bool {
	if len(h) > 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func portSuffix(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "80" {
		return ""
	}
	return ":" + port
}

// minDistinct is the fewest distinct characters production accepts in a
// secret or token. A generated value has more (32 random hex characters
// have fewer than 10 distinct about once in 13,000 draws; 64 never in
// practice; base64 far more); a typed placeholder ("aaaa...", "changeme"
// or "password" repeated) has fewer. It is a floor against placeholders,
// not a measure of strength: the length (32) is checked separately.
const minDistinct = 10

// lowEntropy reports whether s is a placeholder rather than a generated
// value: fewer than minDistinct distinct characters.
func lowEntropy(s string) bool {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen) < minDistinct
}

// loopbackHost reports whether a public URL's host is this machine only
// (localhost, 127.0.0.0/8, ::1), where dev mode is safe by default.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
