package handlers

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"hazardwatch/config"
	"hazardwatch/store"
)

func TestClientIP(t *testing.T) {
	cfg := config.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")}}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.9", nil, "203.0.113.9"},
		{"203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"}, // not from a proxy: the header is ignored
		{"10.0.0.2", nil, "10.0.0.2"},
		{"10.0.0.2", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.2", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},             // the client wrote 6.6.6.6
		{"10.0.0.2", []string{"6.6.6.6", "198.51.100.1, 10.0.0.7"}, "198.51.100.1"}, // two lines, two proxies
		{"10.0.0.2", []string{"198.51.100.1,10.9.9.9,127.0.0.1"}, "198.51.100.1"},
		{"10.0.0.2", []string{"10.0.0.5"}, "10.0.0.5"},                       // all hops trusted
		{"10.0.0.2", []string{"198.51.100.1, nonsense"}, "10.0.0.2"},         // garbage stops at the last trusted hop
		{"10.0.0.2", []string{"nonsense, 10.0.0.3"}, "10.0.0.3"},             //
		{"10.0.0.2", []string{"198.51.100.1:4711"}, "198.51.100.1"},          // with a port
		{"10.0.0.2", []string{"[2001:db8::1]:443"}, "2001:db8::1"},           //
		{"::ffff:10.0.0.2", []string{"::ffff:198.51.100.1"}, "198.51.100.1"}, // IPv4 in IPv6
		{"fd00::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"10.0.0.2", []string{""}, "10.0.0.2"},
	} {
		var xff [][]byte
		for _, v := range tc.xff {
			xff = append(xff, []byte(v))
		}
		if got := clientIP(netip.MustParseAddr(tc.peer), xff, cfg.TrustedProxy); got.String() != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: got %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

// forgotFrom asks for a reset link as the client that a trusted proxy says is ip.
func forgotFrom(c *client, ip string, n int) int {
	c.t.Helper()
	resp, _ := c.post("/password/forgot", url.Values{"email": {fmt.Sprintf("p%d-%s@example.org", n, ip)}}, "X-Forwarded-For", "6.6.6.6, "+ip)
	return resp.StatusCode
}

// Behind a trusted proxy each client has its own limits, audit entries and session rows; without
// TRUSTED_PROXIES the header changes nothing.
func TestPerClientLimitsBehindAProxy(t *testing.T) {
	e := newEnv(t, "TRUSTED_PROXIES", "127.0.0.1/32")
	a, b := e.client(t), e.client(t)
	for i := 0; i < 10; i++ {
		if got := forgotFrom(a, "198.51.100.1", i); got != http.StatusOK {
			t.Fatalf("request %d from client A: %d", i+1, got)
		}
	}
	if got := forgotFrom(a, "198.51.100.1", 10); got != http.StatusTooManyRequests {
		t.Fatalf("11th request from client A: want 429, got %d", got)
	}
	if got := forgotFrom(b, "198.51.100.2", 0); got != http.StatusOK {
		t.Fatalf("client B is limited by client A's requests: %d", got)
	}

	u := e.createUser(t, "Pia", "pia@example.org", goodPassword, store.RoleCitizen)
	if resp, _ := b.post("/login", url.Values{"email": {"pia@example.org"}, "password": {goodPassword}}, "X-Forwarded-For", "198.51.100.2"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: "user.signin", Target: u.ID}, "", 1)
	if len(entries) != 1 || entries[0].IP != "198.51.100.2" {
		t.Fatalf("the audit log records %+v, want the client's address", entries)
	}
	sessions, _ := e.store.Sessions(t.Context(), u.ID)
	if len(sessions) != 1 || sessions[0].IP != "198.51.100.2" {
		t.Fatalf("the sessions list shows %+v, want the client's address", sessions)
	}

	direct := newEnv(t)
	c := direct.client(t)
	for i := 0; i < 10; i++ {
		forgotFrom(c, fmt.Sprintf("198.51.100.%d", i+1), 0)
	}
	if got := forgotFrom(c, "198.51.100.99", 0); got != http.StatusTooManyRequests {
		t.Fatalf("without TRUSTED_PROXIES a forged X-Forwarded-For escaped the limit: %d", got)
	}
}

// /metrics: loopback clients only (after TRUSTED_PROXIES), or the METRICS_TOKEN as a Bearer token.
func TestMetricsAccess(t *testing.T) {
	get := func(e *env, headers ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.base+"/metrics", nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	local := newEnv(t)
	if got := get(local); got != http.StatusOK {
		t.Fatalf("loopback client: %d", got)
	}
	if resp, _ := local.get(t, "/metrics"); resp.StatusCode != http.StatusForbidden { // app.Test: not loopback
		t.Fatalf("remote client without a token: want 403, got %d", resp.StatusCode)
	}
	if got := get(local, "X-Forwarded-For", "203.0.113.7"); got != http.StatusOK {
		t.Fatalf("without TRUSTED_PROXIES the header must change nothing: %d", got)
	}

	proxied := newEnv(t, "TRUSTED_PROXIES", "127.0.0.1/32")
	if got := get(proxied, "X-Forwarded-For", "203.0.113.7"); got != http.StatusForbidden {
		t.Fatalf("a remote client through a proxy on this machine: want 403, got %d", got)
	}

	tok := newEnv(t, "METRICS_TOKEN", "sesame-sesame")
	for _, auth := range []string{"", "Bearer nope", "Basic sesame-sesame", "Bearer sesame-sesame2"} {
		if got := get(tok, "Authorization", auth); got != http.StatusUnauthorized {
			t.Errorf("Authorization %q: want 401, got %d", auth, got)
		}
	}
	if got := get(tok, "Authorization", "Bearer sesame-sesame"); got != http.StatusOK {
		t.Fatalf("right token: %d", got)
	}
}
