package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func load(env map[string]string) (*Config, error) {
	return FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.BaseURL.String() != "http://localhost:8080" || c.DataDir != "./var" {
		t.Errorf("defaults: addr %q base %q data %q", c.Addr, c.BaseURL, c.DataDir)
	}
	if c.Redis.URL != "redis://127.0.0.1:6379/0" || c.Redis.Mode() != "single" {
		t.Errorf("redis default: %+v", c.Redis)
	}
	if c.Secure() {
		t.Error("http base URL must not be secure")
	}
	if c.SessionIdle != 7*24*time.Hour || c.SessionMaxAge != 30*24*time.Hour || c.ResetTokenTTL != 30*time.Minute || !c.RateLimits {
		t.Errorf("account defaults: %v %v %v %v", c.SessionIdle, c.SessionMaxAge, c.ResetTokenTTL, c.RateLimits)
	}
	if c.Moderation != "post" || c.ReportExpiry != 48*time.Hour || c.DuplicateRadius != 50 || c.TooCloseRadius != 15 {
		t.Errorf("report defaults: %q %v %v %v", c.Moderation, c.ReportExpiry, c.DuplicateRadius, c.TooCloseRadius)
	}
	if c.Geocoder != "offline" || c.GeocodeHitTTL != 30*24*time.Hour || c.GeocodeMissTTL != time.Hour || c.NominatimContact != "no-reply@localhost" {
		t.Errorf("geocoder defaults: %q %v %v %q", c.Geocoder, c.GeocodeHitTTL, c.GeocodeMissTTL, c.NominatimContact)
	}
	if c.MailDir != "./var/mail" || c.MailFrom != "Hazard Watch <no-reply@localhost>" || c.SMTPURL != "" || c.GoogleClientID != "" {
		t.Errorf("mail/google defaults: %+v", c)
	}
}

func TestTopologies(t *testing.T) {
	c, err := load(map[string]string{"REDIS_ADDRS": "127.0.0.1:26379, 127.0.0.1:26380", "REDIS_MASTER_NAME": "hw"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Mode() != "sentinel" || len(c.Redis.Addrs) != 2 || c.Redis.Addrs[1] != "127.0.0.1:26380" {
		t.Errorf("sentinel: %+v", c.Redis)
	}
	c, err = load(map[string]string{"REDIS_ADDRS": "127.0.0.1:7000", "REDIS_CLUSTER": "1", "REDIS_USERNAME": "app", "REDIS_PASSWORD": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Mode() != "cluster" || c.Redis.Username != "app" || c.Redis.Password != "pw" {
		t.Errorf("cluster: %+v", c.Redis)
	}
	c, err = load(map[string]string{"BASE_URL": "https://hazards.example.org/", "REDIS_URL": "unix:///run/redis.sock"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Secure() || c.BaseURL.String() != "https://hazards.example.org" {
		t.Errorf("https base: %v secure=%v", c.BaseURL, c.Secure())
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"ADDR": "8080"}, "ADDR"},
		{map[string]string{"ADDR": ":99999"}, "ADDR"},
		{map[string]string{"BASE_URL": "localhost:8080"}, "BASE_URL"},
		{map[string]string{"BASE_URL": "ftp://x"}, "BASE_URL"},
		{map[string]string{"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://x", "REDIS_ADDRS": "a:1"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://x", "REDIS_CLUSTER": "1"}, "REDIS_URL"},
		{map[string]string{"REDIS_ADDRS": "a:1"}, "REDIS_ADDRS"},
		{map[string]string{"REDIS_ADDRS": "a:1", "REDIS_CLUSTER": "1", "REDIS_MASTER_NAME": "m"}, "REDIS_ADDRS"},
		{map[string]string{"REDIS_ADDRS": "nocolon", "REDIS_CLUSTER": "1"}, "REDIS_ADDRS"},
		{map[string]string{"REDIS_MASTER_NAME": "m"}, "REDIS_ADDRS"},
		{map[string]string{"REDIS_CLUSTER": "maybe"}, "REDIS_CLUSTER"},
		{map[string]string{"MAP_TILE_URL": "https://tiles.example/{z}.png"}, "MAP_TILE_URL"},
		{map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{map[string]string{"MAP_VIEW": "91,0,3"}, "MAP_VIEW"},
		{map[string]string{"MAP_VIEW": "1,2"}, "MAP_VIEW"},
		{map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, "SHUTDOWN_TIMEOUT"},
		{map[string]string{"SESSION_IDLE_TIMEOUT": "soon"}, "SESSION_IDLE_TIMEOUT"},
		{map[string]string{"SESSION_IDLE_TIMEOUT": "40d"}, "SESSION_MAX_AGE"},
		{map[string]string{"SMTP_URL": "mail.example.org:25"}, "SMTP_URL"},
		{map[string]string{"GOOGLE_CLIENT_ID": "id"}, "GOOGLE_CLIENT_SECRET"},
		{map[string]string{"RATE_LIMITS": "maybe"}, "RATE_LIMITS"},
		{map[string]string{"GEOCODER": "google"}, "GEOCODER"},
		{map[string]string{"MODERATION": "none"}, "MODERATION"},
		{map[string]string{"DUPLICATE_RADIUS_M": "-5"}, "DUPLICATE_RADIUS_M"},
		{map[string]string{"REPORT_EXPIRY": "never"}, "REPORT_EXPIRY"},
		{map[string]string{"GEOCODER": "nominatim"}, "NOMINATIM_URL"},
		{map[string]string{"CACHE_REDIS_URL": "memcache://x"}, "CACHE_REDIS_URL"},
		{map[string]string{"GEOCODE_MISS_TTL": "0s"}, "GEOCODE_MISS_TTL"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"},
	}
	for _, tc := range cases {
		_, err := load(tc.env)
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.name {
			t.Errorf("%v: want an error naming %s, got %v", tc.env, tc.name, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "config: "+tc.name+": ") {
			t.Errorf("%v: message should be one line naming the variable: %q", tc.env, msg)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := load(nil)
	if err != nil || len(c.TrustedProxies) != 0 || c.MetricsToken != "" {
		t.Fatalf("default: no proxy is trusted and /metrics has no token: %v %v %q", err, c.TrustedProxies, c.MetricsToken)
	}
	c, err = load(map[string]string{"TRUSTED_PROXIES": " 10.1.2.3/8 ,127.0.0.1, ::1, fd00::/8,", "METRICS_TOKEN": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 127.0.0.1/32 ::1/128 fd00::/8" || c.MetricsToken != "s3cret" {
		t.Fatalf("parsed %v, token %q", got, c.MetricsToken)
	}
}

// REDIS_TLS_*: files that exist, cert and key together, and TLS for Sentinel and Cluster when
// set, for one server only with rediss://.
func TestRedisTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := dir+"/ca.crt", dir+"/c.crt", dir+"/c.key"
	for _, f := range []string{ca, cert, key} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tlsVars := func(env map[string]string) map[string]string {
		env["REDIS_TLS_CA"], env["REDIS_TLS_CERT"], env["REDIS_TLS_KEY"] = ca, cert, key
		return env
	}
	for _, env := range []map[string]string{
		tlsVars(map[string]string{"REDIS_URL": "rediss://r.example.org:6380/0"}),
		tlsVars(map[string]string{"REDIS_ADDRS": "a:1", "REDIS_MASTER_NAME": "m"}),
		tlsVars(map[string]string{"REDIS_ADDRS": "a:1", "REDIS_CLUSTER": "1"}),
		{"REDIS_URL": "rediss://r.example.org:6380/0"}, // the system's roots, no client certificate
	} {
		c, err := load(env)
		if err != nil || !c.Redis.TLS() {
			t.Errorf("%v: %v (tls %v)", env, err, err == nil && c.Redis.TLS())
		}
	}
	if c, err := load(map[string]string{"REDIS_ADDRS": "a:1", "REDIS_CLUSTER": "1"}); err != nil || c.Redis.TLS() {
		t.Errorf("a cluster without REDIS_TLS_* is plaintext: %v", err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{tlsVars(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}), "REDIS_URL"},
		{tlsVars(map[string]string{}), "REDIS_URL"},
		{map[string]string{"REDIS_URL": "rediss://x:1", "REDIS_TLS_CERT": cert}, "REDIS_TLS_CERT"},
		{map[string]string{"REDIS_URL": "rediss://x:1", "REDIS_TLS_CA": dir + "/missing.crt"}, "REDIS_TLS_CA"},
	} {
		_, err := load(tc.env)
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.want {
			t.Errorf("%v: want an error naming %s, got %v", tc.env, tc.want, err)
		}
	}
}

// The emergency notice names the place's numbers (issue 18): 112 unless the deployment says.
func TestEmergencyNumbers(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want []string
	}{{"", []string{"112"}}, {"999, 112", []string{"999", "112"}}, {"100,101,102", []string{"100", "101", "102"}}} {
		c, err := load(map[string]string{"EMERGENCY_NUMBERS": tc.env})
		if err != nil || strings.Join(c.EmergencyNumbers, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: %v %v", tc.env, c.EmergencyNumbers, err)
		}
	}
	for _, bad := range []string{"call 999", "112,,999", "1234567890123456"} {
		var e *Error
		if _, err := load(map[string]string{"EMERGENCY_NUMBERS": bad}); !errors.As(err, &e) || e.Var != "EMERGENCY_NUMBERS" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
