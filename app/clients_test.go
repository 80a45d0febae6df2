package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"hazardwatch/live"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// startNginx runs nginx with the shipped deploy/nginx/proxy.conf in front of the app at appAddr
// (plain HTTP on loopback; the shipped site adds TLS) and returns its base URL.
func startNginx(t *testing.T, appAddr string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal("nginx is not installed (scripts/deps.sh installs it): ", err)
	}
	_, file, _, _ := runtime.Caller(0)
	snippet := filepath.Join(filepath.Dir(file), "..", "deploy", "nginx", "proxy.conf")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    limit_conn_zone $binary_remote_addr zone=hw_perip:1m;
    upstream hazardwatch { server %[2]s; keepalive 8; }
    server {
        listen %[3]s;
        include %[4]s;
    }
}
`, dir, appAddr, addr, snippet)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !eventually(t, 20*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("nginx did not start:\n%s", log)
	}
	return "http://" + addr
}

// from is a browser on this machine whose connections come from the loopback address ip.
type from struct {
	t    *testing.T
	base string
	http *http.Client
}

func clientFrom(t *testing.T, base, ip string) *from {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &from{t: t, base: base, http: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) }},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

// post submits a form with the page's CSRF token; headers are extra request headers.
func (f *from) post(path string, vals url.Values, headers ...string) int {
	f.t.Helper()
	resp, err := f.http.Get(f.base + "/login")
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindSubmatch(b)
	if m == nil {
		f.t.Fatalf("no CSRF token on /login: %d", resp.StatusCode)
	}
	vals.Set("_csrf", string(m[1]))
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err = f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Two clients behind the shipped nginx config get separate per-IP limits, a client cannot pick
// its address by sending X-Forwarded-For itself, and the audit log records the client.
func TestTwoClientsBehindNginx(t *testing.T) {
	srv := redistest.Start(t)
	a, appBase, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "TRUSTED_PROXIES": "127.0.0.1/32"})
	base := startNginx(t, strings.TrimPrefix(appBase, "http://"))
	alice, bob := clientFrom(t, base, "127.0.0.2"), clientFrom(t, base, "127.0.0.3")

	forgot := func(c *from, n int, headers ...string) int {
		return c.post("/password/forgot", url.Values{"email": {fmt.Sprintf("nobody%d@example.org", n)}}, headers...)
	}
	for i := 0; i < 10; i++ { // reset requests: 10 per IP an hour
		if got := forgot(alice, i); got != http.StatusOK {
			t.Fatalf("request %d from 127.0.0.2: %d", i+1, got)
		}
	}
	if got := forgot(alice, 10); got != http.StatusTooManyRequests {
		t.Fatalf("11th request from 127.0.0.2: want 429, got %d", got)
	}
	if got := forgot(alice, 11, "X-Forwarded-For", "127.0.0.9"); got != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", got)
	}
	if got := forgot(bob, 0); got != http.StatusOK {
		t.Fatalf("127.0.0.3 is limited by 127.0.0.2's requests: %d", got)
	}

	hash, _ := password.Hash("correct horse battery")
	u := &store.User{Email: "bo@example.org", Name: "Bo", PasswordHash: hash}
	if err := a.Store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if got := bob.post("/login", url.Values{"email": {u.Email}, "password": {"correct horse battery"}}); got != http.StatusSeeOther {
		t.Fatalf("sign-in through nginx: %d", got)
	}
	entries, _, err := a.Store.AuditLog(t.Context(), store.AuditFilter{Action: "user.signin", Target: u.ID}, "", 1)
	if err != nil || len(entries) != 1 || entries[0].IP != "127.0.0.3" {
		t.Fatalf("audit entry %+v (%v): want the client's address 127.0.0.3", entries, err)
	}
}

// healthzOn asks for /healthz on an open keep-alive connection; ok is false when the server
// closed the connection instead of answering.
func healthzOn(conn net.Conn, br *bufio.Reader) (ok bool) {
	if _, err := fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound, not a measure
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// openConns opens n keep-alive connections from ip, each asked for one page, and returns those
// that were served.
func openConns(t *testing.T, addr, ip string, n int) (served []net.Conn) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	for i := 0; i < n; i++ {
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if healthzOn(conn, bufio.NewReader(conn)) {
			served = append(served, conn)
		}
	}
	return served
}

// One address may hold MaxConnsPerIP connections; the next is closed unanswered, other addresses
// and trusted proxies are not affected, and a closed connection frees its slot.
func TestConnectionCapPerIP(t *testing.T) {
	srv := redistest.Start(t)
	_, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "TRUSTED_PROXIES": "127.0.0.1/32"})
	addr := strings.TrimPrefix(base, "http://")
	held := openConns(t, addr, "127.0.0.2", MaxConnsPerIP)
	if len(held) != MaxConnsPerIP {
		t.Fatalf("%d of %d connections served", len(held), MaxConnsPerIP)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	extra, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if healthzOn(extra, bufio.NewReader(extra)) {
		t.Fatalf("connection %d from one address was served", MaxConnsPerIP+1)
	}
	extra.Close()
	if got := openConns(t, addr, "127.0.0.3", 1); len(got) != 1 {
		t.Fatal("another address is refused")
	}
	if got := openConns(t, addr, "127.0.0.1", MaxConnsPerIP+1); len(got) != MaxConnsPerIP+1 {
		t.Fatalf("a trusted proxy got %d of %d connections", len(got), MaxConnsPerIP+1)
	}

	// Closing one of 127.0.0.2's connections lets a new one in (once the server has noticed).
	held[0].Close()
	if !eventually(t, 30*time.Second, func() bool {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		return healthzOn(c, bufio.NewReader(c))
	}) {
		t.Fatal("no slot came free")
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`hazardwatch_connections_refused_total [1-9]`).Match(b) {
		t.Errorf("refusals not counted:\n%s", b)
	}
}

// One address may hold live.DefaultMaxPerIP event streams; the next is refused with 429, and
// other addresses still get theirs.
func TestEventStreamsPerIP(t *testing.T) {
	srv := redistest.Start(t)
	_, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL()})
	open := func(ip string) *http.Response {
		t.Helper()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		resp, err := c.Get(base + "/events")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := 0; i < live.DefaultMaxPerIP; i++ {
		if resp := open("127.0.0.2"); resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp := open("127.0.0.2"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("stream %d from one address: want 429 with Retry-After, got %d", live.DefaultMaxPerIP+1, resp.StatusCode)
	}
	if resp := open("127.0.0.3"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
}
