package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/mail"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
	"hazardwatch/worker"
)

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// newApp starts an app on a free port; add registers test routes before it serves.
func newApp(t *testing.T, redisURL string, logw io.Writer, add ...func(*fiber.App)) (*App, string) {
	t.Helper()
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"REDIS_URL": redisURL, "SHUTDOWN_TIMEOUT": "5s", "MAIL_DIR": t.TempDir(), "DATA_DIR": t.TempDir()}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range add {
		f(a.Handler())
	}
	return a, serve(t, a)
}

// serve runs a on a free loopback port until the test ends and returns its base URL.
func serve(t testing.TB, a *App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Serve(ln) }()
	t.Cleanup(func() { _ = a.Shutdown() })
	return "http://" + ln.Addr().String()
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond for up to limit; it bounds a wait, it does not measure speed.
func eventually(t *testing.T, limit time.Duration, cond func() bool) bool {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// The app starts without Redis, says so, serves pages, and becomes ready once Redis appears.
func TestStartsWithoutRedisAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	logs := &syncBuffer{}
	_, base := newApp(t, srv.URL(), logs)

	if got := status(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz without Redis: want 503, got %d", got)
	}
	if got := status(t, base+"/healthz"); got != 200 {
		t.Fatalf("healthz without Redis: %d", got)
	}
	if got := status(t, base+"/"); got != 200 {
		t.Fatalf("home page without Redis: %d", got)
	}
	if !eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "redis not reachable yet") }) {
		t.Fatalf("no retry log line; logs:\n%s", logs.String())
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if !eventually(t, 20*time.Second, func() bool { return status(t, base+"/readyz") == 200 }) {
		t.Fatal("readyz never became 200 after Redis started")
	}
	if !eventually(t, 20*time.Second, func() bool { return strings.Contains(logs.String(), "redis connected") }) {
		t.Fatalf("no connected log line; logs:\n%s", logs.String())
	}
}

// Shutdown lets a request that is already running finish, then refuses new connections.
func TestGracefulShutdown(t *testing.T) {
	srv := redistest.Start(t)
	started := make(chan struct{})
	a, base := newApp(t, srv.URL(), io.Discard, func(app *fiber.App) {
		app.Get("/slow", func(c *fiber.Ctx) error {
			close(started)
			time.Sleep(500 * time.Millisecond)
			return c.SendString("finished")
		})
	})

	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	<-started
	if err := a.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-done
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request cut off: %q %v", r.body, r.err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
	if err := a.Store.Ping(t.Context()); err == nil {
		t.Fatal("redis client still open after shutdown")
	}
}

// /metrics shows HTTP series and (with a remote geocoder) the geocoding cache counters.
func TestMetrics(t *testing.T) {
	srv := redistest.Start(t)
	_, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "GEOCODER": "nominatim", "NOMINATIM_URL": fakeNominatim(t)})
	for i := 0; i < 2; i++ {
		resp, err := http.Get(base + "/api/geocode?q=haifa")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`hazardwatch_http_requests_total{method="GET",route="/api/geocode",status="200"} 2`,
		`hazardwatch_http_request_duration_seconds_count{route="/api/geocode"} 2`,
		`hazardwatch_geocode_cache_total{result="hit"} 1`,
		`hazardwatch_geocode_cache_total{result="miss"} 1`,
		`hazardwatch_redis_command_duration_seconds_count{command="get"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

// Transient hazards nobody confirmed expire; confirmed or resolved ones do not.
func TestExpireDue(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newApp(t, srv.URL(), io.Discard)
	ctx := t.Context()
	mk := func(typ string, expires time.Time) string {
		now := time.Now().UTC()
		r := &store.Report{ID: store.ReportID("u", typ+expires.String()), Type: typ, Severity: "low", Lat: 1, Lng: 1,
			Status: hazard.Pending, ReporterID: "u", Photos: []string{}, CreatedAt: now, UpdatedAt: now, ExpiresAt: expires}
		if _, _, err := a.Store.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	stale := mk("ice", time.Now().Add(-time.Minute))
	fresh := mk("flooding", time.Now().Add(time.Hour))
	resolved := mk("debris", time.Now().Add(-time.Minute))
	if _, err := a.Life.Transition(ctx, lifecycle.Actor{ID: "mod", Role: store.RoleModerator}, resolved, 0, hazard.Resolve, "", ""); err != nil {
		t.Fatal(err)
	}
	n, err := a.Life.ExpireDue(ctx, time.Now(), time.Second)
	if err != nil || n != 1 {
		t.Fatalf("expired %d: %v", n, err)
	}
	for id, want := range map[string]hazard.Status{stale: hazard.Expired, fresh: hazard.Pending, resolved: hazard.Resolved} {
		r, _ := a.Store.Report(ctx, id)
		if r.Status != want {
			t.Errorf("%s: %s, want %s", r.Type, r.Status, want)
		}
	}
	// Another instance in the same round finds the lock taken and does nothing.
	if n, _ := a.Life.ExpireDue(ctx, time.Now().Add(2*time.Hour), time.Second); n != 0 {
		t.Fatalf("a second runner expired %d while the first held the lock", n)
	}
}

// A report made through one instance reaches a browser connected to another, over SSE.
func TestEventsAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newApp(t, srv.URL(), io.Discard)
	_, baseB := newApp(t, srv.URL(), io.Discard)
	resp, err := http.Get(baseB + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if l := <-lines; l != "retry: 3000" {
		t.Fatalf("first line %q", l)
	}
	ids := map[string]bool{}
	create := func() {
		now := time.Now().UTC()
		r := &store.Report{ID: store.NewReportID(), Type: "pothole", Severity: "low", Lat: 1, Lng: 1, Status: hazard.Pending,
			ReporterID: "u", Photos: []string{}, CreatedAt: now, UpdatedAt: now}
		if _, _, err := a.Store.CreateReport(t.Context(), r, store.Event{Kind: lifecycle.Created}); err != nil {
			t.Fatal(err)
		}
		ids[r.ID] = true
	}
	// The hub subscribes asynchronously; report until an event shows (bounded).
	deadline := time.After(10 * time.Second)
	create()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if l == "event: report.created" {
				data := <-lines
				var ev struct{ ID string }
				if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &ev); err != nil || !ids[ev.ID] {
					t.Fatalf("data line %q", data)
				}
				return
			}
		case <-time.After(300 * time.Millisecond):
			create() // the subscription may not have been ready
		case <-deadline:
			t.Fatal("no event reached the other instance")
		}
	}
}

// After Redis restarts, the event relay resubscribes by itself and browsers get events again.
func TestEventsSurviveRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	a, base := newApp(t, srv.URL(), io.Discard)
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	srv.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case l := <-lines:
			if l == "event: report.created" {
				return
			}
		case <-tick.C:
			now := time.Now().UTC()
			r := &store.Report{ID: store.NewReportID(), Type: "ice", Severity: "low", Lat: 1, Lng: 1, Status: hazard.Pending,
				ReporterID: "u", Photos: []string{}, CreatedAt: now, UpdatedAt: now}
			_, _, _ = a.Store.CreateReport(t.Context(), r) // fails while Redis is still coming back
		case <-deadline:
			t.Fatal("no event after the Redis restart")
		}
	}
}

// A status change mails the reporter and followers once each, through the queue, even when
// the same change is queued twice and two instances send.
func TestStatusMailsOnce(t *testing.T) {
	// A bare store: the app's own mail loop would race this test for the queue.
	srv := redistest.Start(t)
	rdb, err := store.Dial(config.Redis{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	a := struct{ Store *store.Store }{store.New(rdb)}
	ctx := t.Context()
	mk := func(name, email string, noMail bool) *store.User {
		u := &store.User{Name: name, Email: email}
		if err := a.Store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if noMail {
			if err := a.Store.SetNotify(ctx, u.ID, false); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	sink := &countingSender{}
	runners := make([]*worker.Runner, 2)
	for i := range runners { // two "instances" taking turns
		runners[i] = worker.MailRunner(worker.Deps{Store: a.Store, Sender: sink, Log: slog.New(slog.DiscardHandler), Consumer: fmt.Sprint("worker-", i),
			Tuning: worker.Tuning{ClaimAfter: 50 * time.Millisecond, Backoff: 50 * time.Millisecond}})
		if _, err := runners[i].Step(ctx, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	reporter := mk("Rey", "rey@example.org", false)
	for _, m := range []store.QueuedMail{
		{Key: "r1:2:" + reporter.ID, To: "rey@example.org", Subject: "Your hazard report: Open", Text: "x"},
		{Key: "r1:2:" + reporter.ID, To: "rey@example.org", Subject: "Your hazard report: Open", Text: "x"}, // queued twice
		{Key: "r1:2:fay", To: "fay@example.org", Subject: "Your hazard report: Open", Text: "y"},
	} {
		if err := a.Store.EnqueueMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if _, err := runners[i%2].Step(ctx, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if total := sink.total(); total != 2 || sink.count("rey@example.org") != 1 || sink.count("fay@example.org") != 1 {
		t.Fatalf("sent %d: %v", total, sink.to)
	}
	// A failed send is retried later, not lost and not doubled.
	if err := a.Store.EnqueueMail(ctx, store.QueuedMail{Key: "r2:1:x", To: "later@example.org", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	sink.setFail(true)
	if _, err := runners[0].Step(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if sent, _ := a.Store.MailSent(ctx, "r2:1:x"); sent || sink.count("later@example.org") != 0 {
		t.Fatal("a failed send counts as sent")
	}
	if ok, _ := a.Store.LeaseMail(ctx, "r2:1:x", time.Millisecond); !ok {
		t.Fatal("a failed send kept its lease")
	}
	sink.setFail(false)
	for deadline := time.Now().Add(10 * time.Second); sink.count("later@example.org") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the failed mail was never retried")
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := runners[1].Step(ctx, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if sink.count("later@example.org") != 1 {
		t.Fatal("the retried mail went out twice")
	}
}

type countingSender struct {
	mu   sync.Mutex
	to   []string
	fail bool
}

func (s *countingSender) Send(_ context.Context, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("smtp down")
	}
	s.to = append(s.to, m.To)
	return nil
}

func (s *countingSender) setFail(f bool) { s.mu.Lock(); s.fail = f; s.mu.Unlock() }

func (s *countingSender) total() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.to) }

func (s *countingSender) count(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.to {
		if x == to {
			n++
		}
	}
	return n
}

// At start the app warns about Redis settings that would lose data.
func TestWarnsAboutRiskyRedisSettings(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory-policy", "allkeys-lru"}})
	logs := &syncBuffer{}
	_, base := newApp(t, srv.URL(), logs)
	if !eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "maxmemory-policy is allkeys-lru") }) {
		t.Fatalf("no warning; logs:\n%s", logs.String())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `hazardwatch_redis_connected_clients{node="`+srv.Addr+`"}`) {
		t.Fatalf("/metrics lacks Redis figures:\n%s", b)
	}
}

// The whole app runs under its least-privilege Redis user, with health read by the monitor user.
func TestAppUnderACLUsers(t *testing.T) {
	acl := redistest.NewACL(t)
	srv := redistest.Start(t, redistest.Options{Args: []string{"--aclfile", acl.File}})
	_, base, logs := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "REDIS_USERNAME": "app", "REDIS_PASSWORD": acl.Passwords["app"],
		"MONITOR_REDIS_URL": "redis://monitor:" + acl.Passwords["monitor"] + "@" + srv.Addr + "/0"})

	if !eventually(t, 10*time.Second, func() bool { return status(t, base+"/readyz") == 200 }) {
		t.Fatal("not ready under the app user")
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/register")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var token string
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "hw_csrf" {
			token = ck.Value
		}
	}
	resp, err = c.PostForm(base+"/register", url.Values{"_csrf": {token}, "name": {"Acl"}, "email": {"acl@example.org"}, "password": {"a long password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register under ACLs: %d; logs:\n%s", resp.StatusCode, logs.String())
	}
	resp, err = c.PostForm(base+"/login", url.Values{"_csrf": {token}, "email": {"acl@example.org"}, "password": {"a long password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in under ACLs: %d; logs:\n%s", resp.StatusCode, logs.String())
	}
	for _, path := range []string{"/", "/reports", "/api/reports?bbox=34,32,36,33", "/api/geocode?q=haifa", "/metrics"} {
		if got := status(t, base+path); got != 200 {
			t.Errorf("%s under ACLs: %d", path, got)
		}
	}
	if strings.Contains(logs.String(), "NOPERM") {
		t.Fatalf("a NOPERM reached the log:\n%s", logs.String())
	}
}

// topologyFlow runs the app's main paths against a Redis configured only by environment; repair
// runs as the admin user, as operators run it.
func topologyFlow(t *testing.T, env map[string]string, acl *redistest.ACL) {
	t.Helper()
	a, base, logs := appWith(t, env)
	if !eventually(t, 20*time.Second, func() bool { return status(t, base+"/readyz") == 200 }) {
		t.Fatalf("not ready; logs:\n%s", logs.String())
	}
	ctx := t.Context()
	u := &store.User{Email: "topo@example.org", Name: "Topo"}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	r := &store.Report{ID: store.NewReportID(), Type: "flooding", Severity: "high", Lat: 32.8, Lng: 35.0, Status: hazard.Pending,
		ReporterID: u.ID, Photos: []string{}, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, _, err := a.Store.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Life.Transition(ctx, lifecycle.Actor{ID: u.ID, Role: store.RoleModerator}, r.ID, 0, hazard.Approve, "ok", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store.Confirm(ctx, r.ID, "x", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Statistics(ctx, now, 30); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store.AuditLog(ctx, store.AuditFilter{}, "", 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Store.Hit(ctx, "x", "y", 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if rep, err := adminStore(t, env, acl).Repair(ctx); err != nil || rep.Documents != 1 || rep.Reindexed != 0 || rep.Users != 1 {
		t.Fatalf("repair on this topology: %+v %v", rep, err)
	}
	for _, path := range []string{"/", "/reports", "/reports/" + r.ID, "/api/reports?bbox=34,32,36,33", "/api/geocode?q=haifa", "/open311/v2/requests.json"} {
		if got := status(t, base+path); got != 200 {
			t.Errorf("%s: %d", path, got)
		}
	}
	if strings.Contains(logs.String(), "CROSSSLOT") {
		t.Fatalf("CROSSSLOT in the log:\n%s", logs.String())
	}
}

// The app runs unchanged against a 3-master Redis Cluster (the shipped configs, ACLs on): every
// multi-key operation keeps to one slot (a CROSSSLOT error fails this test).
func TestAppOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	topologyFlow(t, clusterEnv(c, nil), c.ACL)
}

// The app runs unchanged against a primary, two replicas and three Sentinels (the shipped
// configs, ACLs on).
func TestAppOnSentinel(t *testing.T) {
	s := redistest.StartSentinel(t, 2, 3)
	topologyFlow(t, sentinelEnv(s, nil), s.ACL)
}

// clusterEnv and sentinelEnv are the app's environment for a test topology: its app user, and
// the client certificate when the nodes speak TLS.
func clusterEnv(c *redistest.Cluster, certs *redistest.Certs) map[string]string {
	env := map[string]string{"REDIS_ADDRS": strings.Join(c.Addrs(), ","), "REDIS_CLUSTER": "1"}
	return withUser(env, c.ACL, certs)
}

func sentinelEnv(s *redistest.Sentinel, certs *redistest.Certs) map[string]string {
	env := map[string]string{"REDIS_ADDRS": strings.Join(s.Addrs(), ","), "REDIS_MASTER_NAME": s.Master}
	return withUser(env, s.ACL, certs)
}

// adminStore is a store on the app's Redis as the admin user (for repair, and for inspecting).
func adminStore(t *testing.T, env map[string]string, acl *redistest.ACL) *store.Store {
	t.Helper()
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		switch k {
		case "REDIS_USERNAME":
			return "admin", true
		case "REDIS_PASSWORD":
			return acl.Passwords["admin"], true
		}
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := store.Dial(cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return store.New(rdb)
}

func withUser(env map[string]string, acl *redistest.ACL, certs *redistest.Certs) map[string]string {
	env["REDIS_USERNAME"], env["REDIS_PASSWORD"] = "app", acl.Passwords["app"]
	if certs != nil {
		env["REDIS_TLS_CA"], env["REDIS_TLS_CERT"], env["REDIS_TLS_KEY"] = certs.CA, certs.ClientCert, certs.ClientKey
	}
	return env
}

// Redis restarts while the app runs: it reconnects by itself; sessions and reports are intact.
func TestRedisRestartKeepsSessionsAndReports(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	srv := redistest.Start(t, redistest.Options{ConfigFile: filepath.Join(filepath.Dir(file), "..", "deploy", "redis", "primary.conf")})
	a, base := newApp(t, srv.URL(), io.Discard)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/register")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base)
	var token string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "hw_csrf" {
			token = ck.Value
		}
	}
	resp, err = c.PostForm(base+"/register", url.Values{"_csrf": {token}, "name": {"Res"}, "email": {"res@example.org"}, "password": {"a long password"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("register: %v %d", err, resp.StatusCode)
	}
	resp.Body.Close()
	resp, err = c.PostForm(base+"/login", url.Values{"_csrf": {token}, "email": {"res@example.org"}, "password": {"a long password"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %v %d", err, resp.StatusCode)
	}
	resp.Body.Close()
	user, _ := a.Store.UserByEmail(t.Context(), "res@example.org")
	now := time.Now().UTC()
	r := &store.Report{ID: store.NewReportID(), Type: "crack", Severity: "low", Lat: 1, Lng: 1, Status: hazard.Open,
		ReporterID: user.ID, Photos: []string{}, CreatedAt: now, UpdatedAt: now}
	if _, _, err := a.Store.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	signedIn := func() bool {
		resp, err := c.Get(base + "/account")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !eventually(t, 15*time.Second, signedIn) {
		t.Fatal("the session did not survive the Redis restart")
	}
	if status(t, base+"/api/reports/"+r.ID) != 200 {
		t.Fatal("the report did not survive the Redis restart")
	}
}

// fakeNominatim answers Nominatim's search API on loopback with one place.
func fakeNominatim(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"display_name": "Upstream %s", "lat": "32.8", "lon": "35.0"}]`, r.URL.Query().Get("q"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The Redis cache sits in front of a remote geocoder only: the offline gazetteer answers from
// memory faster than a cache round trip, so it writes nothing to Redis.
func TestOnlyRemoteGeocodersAreCached(t *testing.T) {
	for _, tc := range []struct {
		env    map[string]string
		cached bool
	}{
		{map[string]string{}, false},
		{map[string]string{"GEOCODER": "nominatim", "NOMINATIM_URL": fakeNominatim(t)}, true},
	} {
		srv := redistest.Start(t)
		tc.env["REDIS_URL"] = srv.URL()
		_, base, _ := appWith(t, tc.env)
		if got := status(t, base+"/api/geocode?q=haifa"); got != http.StatusOK {
			t.Fatalf("%v: geocode: %d", tc.env, got)
		}
		keys, err := srv.Client(t).Keys(t.Context(), "cache:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if (len(keys) > 0) != tc.cached {
			t.Errorf("GEOCODER=%q: cache keys %v", tc.env["GEOCODER"], keys)
		}
	}
}

// A shutdown that runs before Serve has started (a signal in the first moments) still wins:
// Serve returns at once instead of serving on.
func TestServeAfterShutdownReturns(t *testing.T) {
	srv := redistest.Start(t)
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"REDIS_URL": srv.URL(), "MAIL_DIR": t.TempDir(), "DATA_DIR": t.TempDir()}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve after Shutdown is still serving")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the listener still accepts connections")
	}
}
