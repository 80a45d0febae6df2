package app

import (
	"crypto/tls"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/store/redistest"
)

// The app over TLS on each topology: nodes run the shipped configs plus deploy/redis/tls.conf
// (no plaintext port, client certificates required, replication and the cluster bus over TLS)
// with a throwaway CA made by openssl; the app connects with REDIS_TLS_CA/CERT/KEY and runs its
// main paths. A plaintext client, and a TLS client without a certificate, are refused.
func TestAppOverTLS(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		certs, acl := redistest.NewCerts(t), redistest.NewACL(t)
		vars := certs.Vars()
		vars["ACLFILE"] = acl.File
		srv := redistest.Start(t, redistest.Options{Role: "single", Vars: vars, TLS: certs.ClientConfig(t), Username: "admin", Password: acl.Passwords["admin"]})
		env := withUser(map[string]string{"REDIS_URL": "rediss://" + srv.Addr + "/0"}, acl, certs)
		topologyFlow(t, env, acl)
		assertTLSOnly(t, certs, srv.Addr)
	})
	t.Run("sentinel", func(t *testing.T) {
		certs := redistest.NewCerts(t)
		s := redistest.StartSentinelWith(t, 1, 3, redistest.TopologyOptions{TLS: certs})
		topologyFlow(t, sentinelEnv(s, certs), s.ACL)
		assertTLSOnly(t, certs, s.Primary.Addr, s.Replicas[0].Addr, s.Sentinels[0].Addr)
	})
	t.Run("cluster", func(t *testing.T) {
		certs := redistest.NewCerts(t)
		c := redistest.StartClusterWith(t, 3, 0, redistest.TopologyOptions{TLS: certs})
		topologyFlow(t, clusterEnv(c, certs), c.ACL)
		assertTLSOnly(t, certs, c.Addrs()...)
	})
}

// assertTLSOnly checks that each address refuses a plaintext client and a TLS client that shows
// no certificate, and answers one that shows ours.
func assertTLSOnly(t *testing.T, certs *redistest.Certs, addrs ...string) {
	t.Helper()
	ping := func(addr string, conf *tls.Config) error {
		c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: conf, MaxRetries: -1})
		defer c.Close()
		return c.Ping(t.Context()).Err()
	}
	good := certs.ClientConfig(t)
	noCert := good.Clone()
	noCert.Certificates = nil
	for _, addr := range addrs {
		if err := ping(addr, nil); err == nil {
			t.Errorf("%s answered a plaintext client", addr)
		}
		if err := ping(addr, noCert); err == nil {
			t.Errorf("%s answered a TLS client without a certificate", addr)
		}
		// NOAUTH is an answer: TLS got through, the ACL then asks for a user.
		if err := ping(addr, good); err != nil && err.Error() != "NOAUTH Authentication required." {
			t.Errorf("%s refused our client certificate: %v", addr, err)
		}
	}
}

// The geocoding cache on its own instance (deploy/redis/cache.conf: allkeys-lru, nothing on disk,
// ACL users): the app reaches it with the app user's password in CACHE_REDIS_URL, answers land
// there and not on the main Redis, and anonymous clients are refused.
func TestAppWithCacheInstance(t *testing.T) {
	acl := redistest.NewACL(t)
	cache := redistest.Start(t, redistest.Options{Role: "cache", Vars: map[string]string{"BIND": "127.0.0.1", "ACLFILE": acl.File},
		Username: "admin", Password: acl.Passwords["admin"]})
	main := redistest.Start(t, redistest.Options{ConfigFile: primaryConf()})
	// A remote geocoder: only remote answers are cached (TestOnlyRemoteGeocodersAreCached).
	_, base, _ := appWith(t, map[string]string{"REDIS_URL": main.URL(), "GEOCODER": "nominatim", "NOMINATIM_URL": fakeNominatim(t),
		"CACHE_REDIS_URL": "redis://app:" + acl.Passwords["app"] + "@" + cache.Addr + "/0"})
	if got := status(t, base+"/api/geocode?q=haifa"); got != 200 {
		t.Fatalf("geocode with the cache instance: %d", got)
	}
	ctx := t.Context()
	admin := cache.Client(t)
	if keys, err := admin.Keys(ctx, "cache:geo:*").Result(); err != nil || len(keys) == 0 {
		t.Fatalf("nothing cached on the cache instance: %v %v", keys, err)
	}
	if keys, _ := main.Client(t).Keys(ctx, "cache:*").Result(); len(keys) != 0 {
		t.Fatalf("cache entries on the main Redis: %v", keys)
	}
	if policy, err := admin.ConfigGet(ctx, "maxmemory*").Result(); err != nil || policy["maxmemory-policy"] != "allkeys-lru" || policy["maxmemory"] == "0" {
		t.Fatalf("the cache instance must evict at a limit: %v %v", policy, err)
	}
	anon := redis.NewClient(&redis.Options{Addr: cache.Addr})
	defer anon.Close()
	if err := anon.Get(ctx, "cache:x").Err(); err == nil || err.Error() != "NOAUTH Authentication required." {
		t.Fatalf("an anonymous client on the cache instance: %v", err)
	}
}

// /metrics reads every Redis node through the monitoring user: role, replicas and their lag,
// the replication link, persistence status, the age of the last snapshot, memory headroom,
// counters, and LATENCY LATEST once Redis records a spike.
func TestRedisMetrics(t *testing.T) {
	scrape := func(t *testing.T, base string) string {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	expect := func(t *testing.T, body string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(`(?m)^` + p + `$`).MatchString(body) {
				t.Errorf("/metrics has no line matching %s", p)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", body)
		}
	}
	t.Run("sentinel", func(t *testing.T) {
		s := redistest.StartSentinel(t, 2, 3)
		env := sentinelEnv(s, nil)
		env["MONITOR_REDIS_URL"] = "redis://monitor:" + s.ACL.Passwords["monitor"] + "@unused/0"
		_, base, _ := appWith(t, env)
		// A Lua busy loop of well over latency-monitor-threshold (25 ms) is a "command" spike.
		if err := s.Primary.Client(t).Eval(t.Context(), "local i = 0 while i < 20000000 do i = i + 1 end return i", nil).Err(); err != nil {
			t.Fatal(err)
		}
		var body string
		eventually(t, 30*time.Second, func() bool {
			body = scrape(t, base)
			return strings.Contains(body, `replica_lag_seconds{node="primary"`)
		})
		expect(t, body,
			`hazardwatch_redis_info_ok 1`,
			`hazardwatch_redis_primary\{node="primary"\} 1`,
			`hazardwatch_redis_connected_replicas\{node="primary"\} 2`,
			`hazardwatch_redis_replica_lag_seconds\{node="primary",replica="127\.0\.0\.1:\d+"\} \d+`,
			`hazardwatch_redis_aof_enabled\{node="primary"\} 1`,
			`hazardwatch_redis_aof_last_write_ok\{node="primary"\} 1`,
			`hazardwatch_redis_rdb_last_bgsave_ok\{node="primary"\} 1`,
			`hazardwatch_redis_last_save_age_seconds\{node="primary"\} [\d.e+]+`,
			`hazardwatch_redis_maxmemory_bytes\{node="primary"\} 1\.073741824e\+09`,
			`hazardwatch_redis_memory_headroom_bytes\{node="primary"\} [\d.e+]+`,
			`hazardwatch_redis_blocked_clients\{node="primary"\} \d+`,
			`hazardwatch_redis_evicted_keys_total\{node="primary"\} 0`,
			`hazardwatch_redis_expired_keys_total\{node="primary"\} [\d.e+]+`,
			`hazardwatch_redis_keyspace_hits_total\{node="primary"\} [\d.e+]+`,
			`hazardwatch_redis_keyspace_misses_total\{node="primary"\} [\d.e+]+`,
			`hazardwatch_redis_latency_max_seconds\{node="primary",event="command"\} [\d.]+`,
		)
		if n := strings.Count(body, "hazardwatch_redis_replica_lag_seconds{"); n != 2 {
			t.Errorf("%d replica lag series, want 2", n)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartClusterWith(t, 3, 1, redistest.TopologyOptions{})
		env := clusterEnv(c, nil)
		env["MONITOR_REDIS_URL"] = "redis://monitor:" + c.ACL.Passwords["monitor"] + "@unused/0"
		_, base, _ := appWith(t, env)
		body := scrape(t, base)
		for _, n := range c.Nodes {
			expect(t, body, `hazardwatch_redis_used_memory_bytes\{node="`+regexp.QuoteMeta(n.Addr)+`"\} [\d.e+]+`)
		}
		if n := regexp.MustCompile(`(?m)^hazardwatch_redis_master_link_up\{node="[^"]+"\} 1$`).FindAllString(body, -1); len(n) != 3 {
			t.Errorf("%d replicas with their link up, want 3:\n%s", len(n), body)
		}
		if n := regexp.MustCompile(`(?m)^hazardwatch_redis_primary\{node="[^"]+"\} 1$`).FindAllString(body, -1); len(n) != 3 {
			t.Errorf("%d primaries, want 3", len(n))
		}
	})
}
