// Package config reads Hazard Watch's settings from the environment once, at start-up.
//
// It is its own package because main, the app constructor and the tests all need the same
// parsing and validation, and none of handlers/store/views is the right owner. A bad value
// stops the process with one line that names the variable (see CONTRACT.md for the names).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // TIME_ZONE works on machines without a zoneinfo database
)

// Config is every setting the app reads from the environment.
type Config struct {
	Addr    string   // ADDR: listen address
	BaseURL *url.URL // BASE_URL: public URL used in mail links and OAuth redirects
	DataDir string   // DATA_DIR: photos and local files

	Redis Redis

	// MapTileURL is the Leaflet tile template ({z}/{x}/{y}); MapAttribution is shown on the map.
	MapTileURL     string
	MapAttribution string
	// MAP_VIEW "lat,lng,zoom": where the map starts when the browser gives no location.
	MapLat, MapLng float64
	MapZoom        int

	// Mail: SMTP_URL (empty: write .eml files into MAIL_DIR), MAIL_FROM.
	SMTPURL  string
	MailDir  string
	MailFrom string

	// Google sign-in; the button is hidden when GoogleClientID is empty.
	GoogleClientID     string
	GoogleClientSecret string

	// Geocoding: GEOCODER offline (default) or nominatim.
	Geocoder         string
	NominatimURL     *url.URL      // NOMINATIM_URL, required with GEOCODER=nominatim
	NominatimContact string        // NOMINATIM_CONTACT: put in the User-Agent (Nominatim's usage policy)
	CacheRedisURL    string        // CACHE_REDIS_URL: a separate evicting Redis for the cache
	GeocodeHitTTL    time.Duration // GEOCODE_CACHE_TTL (default 30 days)
	GeocodeMissTTL   time.Duration // GEOCODE_MISS_TTL (default 1 hour)

	// Reports.
	Moderation      string        // MODERATION: post (default: visible at once, unverified) or pre
	ReportExpiry    time.Duration // REPORT_EXPIRY: transient hazards expire this long after the last confirmation (48h)
	DuplicateRadius float64       // DUPLICATE_RADIUS_M: open reports of the same type offered while filling the form (50)
	TooCloseRadius  float64       // TOO_CLOSE_RADIUS_M: a submit this close asks "a different hazard?" (15)
	// EmergencyNumbers (EMERGENCY_NUMBERS, comma list; default 112) are the numbers the report
	// form tells people to call when life is in danger: the place's, e.g. 999,112 in the UK or
	// 100,101,102 in Israel.
	EmergencyNumbers []string
	// QuestionnaireAfter (QUESTIONNAIRE_AFTER, 672h): how long after a report became open its
	// reporter is asked "has it been fixed?". FixedByPublic (FIXED_BY_PUBLIC, 3): how many people
	// saying "it is fixed" resolve a report.
	QuestionnaireAfter time.Duration
	FixedByPublic      int

	// MonitorRedisURL (MONITOR_REDIS_URL) is a connection for INFO and SLOWLOG with a monitoring
	// ACL user; empty: a separate connection with the main settings.
	MonitorRedisURL string

	// Open311: OPEN311_JURISDICTION (optional) is checked against jurisdiction_id when set.
	Open311Jurisdiction string

	// Sending reports to bodies: OPEN311_POLL_INTERVAL (default 5m, at least 1m) is how often each
	// body's Open311 server is asked for status changes; DELIVERY_RETRY_FOR (default 24h) how long
	// a failing send is retried before moderators see it failed; MODERATION_EMAIL (default
	// MAIL_FROM's address) is the Reply-To of mails to bodies, so their answers reach moderators.
	Open311PollInterval time.Duration
	DeliveryRetryFor    time.Duration
	ModerationEmail     string

	// Accounts.
	SessionIdle   time.Duration // SESSION_IDLE_TIMEOUT: sliding idle timeout (default 7 days)
	SessionMaxAge time.Duration // SESSION_MAX_AGE: absolute lifetime (default 30 days)
	ResetTokenTTL time.Duration // RESET_TOKEN_TTL: how long a reset link works (default 30 min)
	RateLimits    bool          // RATE_LIMITS: on (default) or off (load tests only)

	// Workers (WORKERS=on, the default) runs the background workers in this process; off leaves
	// them to a separate `hazardwatch worker` process. WorkerClaimAfter (WORKER_CLAIM_AFTER,
	// default 30s) is how long a message may stay unacknowledged before another instance takes it
	// over; a worker gives up on one message after two thirds of it.
	Workers          bool
	WorkerClaimAfter time.Duration
	// TrustedProxies (TRUSTED_PROXIES, comma list of CIDRs; default none): connections from these
	// addresses may say who the client is in X-Forwarded-For. Nobody else may.
	TrustedProxies []netip.Prefix
	// MetricsToken (METRICS_TOKEN): when set, /metrics needs "Authorization: Bearer <token>";
	// when empty, /metrics answers loopback clients only.
	MetricsToken string

	LogFormat       string        // LOG_FORMAT: text or json
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT: how long in-flight requests may take at stop

	// TimeZone (TIME_ZONE, an IANA name; default UTC) is the zone pages and mails give times in
	// when the browser cannot say its own (no JavaScript; mails).
	TimeZone *time.Location
	// I18nPseudo (I18N_PSEUDO=on; default off) offers the pseudo-locale en-XA, for finding
	// clipped layouts and untranslated strings in development.
	I18nPseudo bool
}

// Redis says how to reach the main Redis: exactly one of URL, Sentinel (Addrs+MasterName) or
// Cluster (Addrs+Cluster) is set after Load.
type Redis struct {
	URL        string   // REDIS_URL
	Addrs      []string // REDIS_ADDRS
	MasterName string   // REDIS_MASTER_NAME
	Cluster    bool     // REDIS_CLUSTER=1
	Username   string   // REDIS_USERNAME
	Password   string   // REDIS_PASSWORD

	// TLS files (PEM): the CA that signed the servers' certificates (REDIS_TLS_CA; default: the
	// system's roots) and this client's certificate and key (REDIS_TLS_CERT, REDIS_TLS_KEY), for
	// servers that ask for one. TLS is on for a rediss:// URL, or for Sentinel and Cluster when
	// any of them is set.
	TLSCA, TLSCert, TLSKey string
}

// ForURL is another Redis (the cache, the monitoring connection) reached at url with the same
// TLS files: they apply when url is rediss://.
func (r Redis) ForURL(url string) Redis {
	return Redis{URL: url, TLSCA: r.TLSCA, TLSCert: r.TLSCert, TLSKey: r.TLSKey}
}

// TLS reports whether connections to Redis use TLS.
func (r Redis) TLS() bool {
	if r.URL != "" {
		return strings.HasPrefix(r.URL, "rediss://")
	}
	return r.TLSCA != "" || r.TLSCert != "" || r.TLSKey != ""
}

// Mode names the topology for logs: "single", "sentinel" or "cluster".
func (r Redis) Mode() string {
	switch {
	case r.Cluster:
		return "cluster"
	case r.MasterName != "":
		return "sentinel"
	default:
		return "single"
	}
}

// TrustedProxy reports whether ip is in TRUSTED_PROXIES.
func (c *Config) TrustedProxy(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range c.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Secure reports whether the public URL is HTTPS, which decides Secure cookies and HSTS.
func (c *Config) Secure() bool { return c.BaseURL.Scheme == "https" }

// Error is a configuration problem; its message names the variable.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return "config: " + e.Var + ": " + e.Msg }

// Load reads the process environment.
func Load() (*Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads settings through lookup (os.LookupEnv in production, a map in tests) and
// returns the first problem found.
func FromLookup(lookup func(string) (string, bool)) (*Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	bad := func(name, format string, args ...any) error {
		return &Error{Var: name, Msg: fmt.Sprintf(format, args...)}
	}

	c := &Config{
		Addr:           get("ADDR", ":8080"),
		DataDir:        get("DATA_DIR", "./var"),
		MapTileURL:     get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
		MapAttribution: get("MAP_ATTRIBUTION", `&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors`),
		LogFormat:      get("LOG_FORMAT", "text"),
	}

	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		return nil, bad("ADDR", "%q is not host:port (example: :8080)", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, bad("ADDR", "port %q is not a number from 0 to 65535", port)
	}

	base, err := url.Parse(get("BASE_URL", "http://localhost:8080"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, bad("BASE_URL", "want an absolute http:// or https:// URL, got %q", get("BASE_URL", ""))
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, bad("BASE_URL", "must not carry a query or fragment")
	}
	base.Path = strings.TrimRight(base.Path, "/")
	c.BaseURL = base

	tile, err := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(c.MapTileURL))
	if err != nil || (tile.Scheme != "http" && tile.Scheme != "https") || tile.Host == "" ||
		!strings.Contains(c.MapTileURL, "{z}") || !strings.Contains(c.MapTileURL, "{x}") || !strings.Contains(c.MapTileURL, "{y}") {
		return nil, bad("MAP_TILE_URL", "want an absolute http(s) URL template with {z}, {x} and {y}, got %q", c.MapTileURL)
	}

	if err := parseView(get("MAP_VIEW", "51.5074,-0.1278,13"), c); err != nil {
		return nil, bad("MAP_VIEW", "%v", err)
	}

	switch c.LogFormat {
	case "text", "json":
	default:
		return nil, bad("LOG_FORMAT", "want text or json, got %q", c.LogFormat)
	}

	for _, d := range []struct {
		name, def string
		dst       *time.Duration
	}{
		{"SHUTDOWN_TIMEOUT", "15s", &c.ShutdownTimeout},
		{"SESSION_IDLE_TIMEOUT", "7d", &c.SessionIdle},
		{"SESSION_MAX_AGE", "30d", &c.SessionMaxAge},
		{"RESET_TOKEN_TTL", "30m", &c.ResetTokenTTL},
		{"GEOCODE_CACHE_TTL", "30d", &c.GeocodeHitTTL},
		{"GEOCODE_MISS_TTL", "1h", &c.GeocodeMissTTL},
		{"REPORT_EXPIRY", "48h", &c.ReportExpiry},
		{"WORKER_CLAIM_AFTER", "30s", &c.WorkerClaimAfter},
		{"OPEN311_POLL_INTERVAL", "5m", &c.Open311PollInterval},
		{"DELIVERY_RETRY_FOR", "24h", &c.DeliveryRetryFor},
		{"QUESTIONNAIRE_AFTER", "672h", &c.QuestionnaireAfter},
	} {
		v, err := parseDuration(get(d.name, d.def))
		if err != nil || v <= 0 {
			return nil, bad(d.name, "want a positive duration such as 15s, 30m, 12h or 7d, got %q", get(d.name, d.def))
		}
		*d.dst = v
	}
	if n, err := strconv.Atoi(get("FIXED_BY_PUBLIC", "3")); err != nil || n < 1 || n > 100 {
		return nil, bad("FIXED_BY_PUBLIC", "want a whole number from 1 to 100, got %q", get("FIXED_BY_PUBLIC", "3"))
	} else {
		c.FixedByPublic = n
	}
	if c.WorkerClaimAfter < time.Second {
		return nil, bad("WORKER_CLAIM_AFTER", "must be at least 1s")
	}
	if c.Open311PollInterval < time.Minute {
		return nil, bad("OPEN311_POLL_INTERVAL", "must be at least 1m (each body's server is asked at most once a minute)")
	}
	if c.SessionMaxAge < c.SessionIdle {
		return nil, bad("SESSION_MAX_AGE", "must not be shorter than SESSION_IDLE_TIMEOUT")
	}

	c.SMTPURL = get("SMTP_URL", "")
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return nil, bad("SMTP_URL", "want smtp://user:pass@host:port (or smtps://)")
		}
	}
	c.MailDir = get("MAIL_DIR", "./var/mail")
	c.MailFrom = get("MAIL_FROM", "Hazard Watch <no-reply@"+c.BaseURL.Hostname()+">")
	c.ModerationEmail = get("MODERATION_EMAIL", mailAddress(c.MailFrom))
	c.GoogleClientID = get("GOOGLE_CLIENT_ID", "")
	c.GoogleClientSecret = get("GOOGLE_CLIENT_SECRET", "")
	if (c.GoogleClientID == "") != (c.GoogleClientSecret == "") {
		return nil, bad("GOOGLE_CLIENT_SECRET", "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together")
	}
	switch c.Moderation = get("MODERATION", "post"); c.Moderation {
	case "post", "pre":
	default:
		return nil, bad("MODERATION", "want post or pre, got %q", c.Moderation)
	}
	for _, r := range []struct {
		name, def string
		dst       *float64
	}{{"DUPLICATE_RADIUS_M", "50", &c.DuplicateRadius}, {"TOO_CLOSE_RADIUS_M", "15", &c.TooCloseRadius}} {
		v, err := strconv.ParseFloat(get(r.name, r.def), 64)
		if err != nil || v <= 0 || v > 5000 {
			return nil, bad(r.name, "want metres between 0 and 5000, got %q", get(r.name, r.def))
		}
		*r.dst = v
	}

	for _, n := range strings.Split(get("EMERGENCY_NUMBERS", "112"), ",") {
		n = strings.TrimSpace(n)
		if n == "" || len(n) > 15 || strings.Trim(n, "0123456789") != "" {
			return nil, bad("EMERGENCY_NUMBERS", "want a comma list of phone numbers such as 999,112, got %q", get("EMERGENCY_NUMBERS", ""))
		}
		c.EmergencyNumbers = append(c.EmergencyNumbers, n)
	}

	c.Open311Jurisdiction = get("OPEN311_JURISDICTION", "")
	if c.MonitorRedisURL = get("MONITOR_REDIS_URL", ""); c.MonitorRedisURL != "" {
		u, err := url.Parse(c.MonitorRedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return nil, bad("MONITOR_REDIS_URL", "want a redis://, rediss:// or unix:// URL")
		}
	}

	c.Geocoder = get("GEOCODER", "offline")
	switch c.Geocoder {
	case "offline":
	case "nominatim":
		u, err := url.Parse(get("NOMINATIM_URL", ""))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("NOMINATIM_URL", "GEOCODER=nominatim needs the server's http(s) URL, got %q", get("NOMINATIM_URL", ""))
		}
		c.NominatimURL = u
	default:
		return nil, bad("GEOCODER", "want offline or nominatim, got %q", c.Geocoder)
	}
	c.NominatimContact = get("NOMINATIM_CONTACT", mailAddress(c.MailFrom))
	if c.CacheRedisURL = get("CACHE_REDIS_URL", ""); c.CacheRedisURL != "" {
		u, err := url.Parse(c.CacheRedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return nil, bad("CACHE_REDIS_URL", "want a redis://, rediss:// or unix:// URL")
		}
	}

	switch v := get("RATE_LIMITS", "on"); v {
	case "on":
		c.RateLimits = true
	case "off":
	default:
		return nil, bad("RATE_LIMITS", "want on or off, got %q", v)
	}

	switch v := get("WORKERS", "on"); v {
	case "on":
		c.Workers = true
	case "off":
	default:
		return nil, bad("WORKERS", "want on or off, got %q", v)
	}
	for _, part := range strings.Split(get("TRUSTED_PROXIES", ""), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part) // one address is a one-address range
			if aerr != nil {
				return nil, bad("TRUSTED_PROXIES", "%q is not a CIDR such as 10.0.0.0/8 or 127.0.0.1/32", part)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	c.MetricsToken = get("METRICS_TOKEN", "")

	tz, err := time.LoadLocation(get("TIME_ZONE", "UTC"))
	if err != nil {
		return nil, bad("TIME_ZONE", "want an IANA time zone name such as Asia/Jerusalem or Europe/London, got %q", get("TIME_ZONE", ""))
	}
	c.TimeZone = tz
	switch v := get("I18N_PSEUDO", "off"); v {
	case "on":
		c.I18nPseudo = true
	case "off":
	default:
		return nil, bad("I18N_PSEUDO", "want on or off, got %q", v)
	}

	if err := loadRedis(c, get, bad); err != nil {
		return nil, err
	}
	return c, nil
}

func loadRedis(c *Config, get func(string, string) string, bad func(string, string, ...any) error) error {
	r := Redis{
		URL:        get("REDIS_URL", ""),
		MasterName: get("REDIS_MASTER_NAME", ""),
		Username:   get("REDIS_USERNAME", ""),
		Password:   get("REDIS_PASSWORD", ""),
		TLSCA:      get("REDIS_TLS_CA", ""),
		TLSCert:    get("REDIS_TLS_CERT", ""),
		TLSKey:     get("REDIS_TLS_KEY", ""),
	}
	if (r.TLSCert == "") != (r.TLSKey == "") {
		return bad("REDIS_TLS_CERT", "REDIS_TLS_CERT and REDIS_TLS_KEY go together")
	}
	for _, f := range []struct{ name, path string }{{"REDIS_TLS_CA", r.TLSCA}, {"REDIS_TLS_CERT", r.TLSCert}, {"REDIS_TLS_KEY", r.TLSKey}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return bad(f.name, "cannot read %s: %v", f.path, errors.Unwrap(err))
		}
	}
	if s := get("REDIS_ADDRS", ""); s != "" {
		for _, a := range strings.Split(s, ",") {
			a = strings.TrimSpace(a)
			if _, _, err := net.SplitHostPort(a); err != nil {
				return bad("REDIS_ADDRS", "%q is not host:port", a)
			}
			r.Addrs = append(r.Addrs, a)
		}
	}
	switch v := get("REDIS_CLUSTER", "0"); v {
	case "1", "true", "yes":
		r.Cluster = true
	case "0", "false", "no":
	default:
		return bad("REDIS_CLUSTER", "want 1 or 0, got %q", v)
	}

	switch {
	case r.URL != "" && len(r.Addrs) > 0:
		return bad("REDIS_URL", "set either REDIS_URL or REDIS_ADDRS, not both")
	case r.URL != "":
		if r.Cluster || r.MasterName != "" {
			return bad("REDIS_URL", "REDIS_CLUSTER and REDIS_MASTER_NAME go with REDIS_ADDRS, not REDIS_URL")
		}
		u, err := url.Parse(r.URL)
		if err != nil {
			return bad("REDIS_URL", "not a URL: %v", errors.Unwrap(err))
		}
		switch u.Scheme {
		case "redis", "rediss", "unix":
		default:
			return bad("REDIS_URL", "scheme %q is not redis://, rediss:// or unix://", u.Scheme)
		}
		if u.Scheme != "rediss" && (r.TLSCA != "" || r.TLSCert != "") {
			return bad("REDIS_URL", "REDIS_TLS_* are set: use a rediss:// URL for TLS")
		}
	case len(r.Addrs) > 0:
		if r.Cluster == (r.MasterName != "") {
			return bad("REDIS_ADDRS", "needs exactly one of REDIS_MASTER_NAME (Sentinel) or REDIS_CLUSTER=1 (Cluster)")
		}
	default:
		if r.Cluster || r.MasterName != "" {
			return bad("REDIS_ADDRS", "REDIS_CLUSTER and REDIS_MASTER_NAME need REDIS_ADDRS")
		}
		if r.TLSCA != "" || r.TLSCert != "" {
			return bad("REDIS_URL", "REDIS_TLS_* are set: give a rediss:// REDIS_URL (or REDIS_ADDRS)")
		}
		r.URL = "redis://127.0.0.1:6379/0"
	}
	c.Redis = r
	return nil
}

func parseView(s string, c *Config) error {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return fmt.Errorf("want lat,lng,zoom such as 51.5074,-0.1278,13, got %q", s)
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	lng, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	zoom, err3 := strconv.Atoi(strings.TrimSpace(parts[2]))
	if err1 != nil || err2 != nil || err3 != nil || lat < -90 || lat > 90 || lng < -180 || lng > 180 || zoom < 0 || zoom > 19 {
		return fmt.Errorf("want lat (-90..90), lng (-180..180), zoom (0..19), got %q", s)
	}
	c.MapLat, c.MapLng, c.MapZoom = lat, lng, zoom
	return nil
}

// parseDuration is time.ParseDuration plus a whole-day unit ("7d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// mailAddress is the bare address in "Name <addr>".
func mailAddress(from string) string {
	if i := strings.LastIndex(from, "<"); i >= 0 {
		return strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}

// PhotoDir is where photos are stored (under DATA_DIR; shared by instances on one disk).
func (c *Config) PhotoDir() string { return filepath.Join(c.DataDir, "photos") }
