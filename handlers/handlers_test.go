package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"

	"hazardwatch/config"
	"hazardwatch/geocode"
	"hazardwatch/lifecycle"
	"hazardwatch/mail"
	"hazardwatch/mapview"
	"hazardwatch/photo"
	"hazardwatch/routing"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
	"hazardwatch/worker"
)

type env struct {
	app     *fiber.App
	redis   *redistest.Server
	store   *store.Store
	life    *lifecycle.Service
	mailDir string
	base    string // http://127.0.0.1:port of a real listener, for cookie-carrying clients
	cfg     *config.Config
	// decoders is the photo decoding gate (two slots), for tests that fill it.
	decoders *photo.Gate
}

// newEnv builds the handlers on a fresh Redis; vars override the environment.
var setLoggerOnce sync.Once

func newEnv(t testing.TB, vars ...string) *env {
	t.Helper()
	srv := redistest.Start(t)
	return newEnvOn(t, srv, nil, vars...)
}

// newEnvOn builds the handlers on an existing Redis; googleClient reaches a fake Google.
func newEnvOn(t testing.TB, srv *redistest.Server, googleClient *http.Client, vars ...string) *env {
	return buildEnv(t, srv, googleClient, nil, vars...)
}

// newEnvRoutes is newEnv with extra test routes, added before the server starts (Fiber's route
// tree must not change while it serves).
func newEnvRoutes(t testing.TB, add func(*fiber.App), vars ...string) *env {
	return buildEnv(t, redistest.Start(t), nil, add, vars...)
}

func buildEnv(t testing.TB, srv *redistest.Server, googleClient *http.Client, add func(*fiber.App), vars ...string) *env {
	t.Helper()
	mailDir := t.TempDir()
	// DATA_DIR defaults to a temporary directory so no test leaves photos in the source tree.
	m := map[string]string{"REDIS_URL": srv.URL(), "MAIL_DIR": mailDir, "DATA_DIR": t.TempDir()}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := store.Dial(cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	var logw io.Writer = io.Discard
	if os.Getenv("TEST_LOG") != "" { // TEST_LOG=1 go test ./handlers shows the app's log
		logw = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	// Process-wide (go-redis's logger is a package variable): set once, or parallel tests race.
	setLoggerOnce.Do(func() { store.SetLogger(log) })
	st := store.New(rdb)
	off, err := geocode.LoadOffline()
	if err != nil {
		t.Fatal(err)
	}
	geo := &geocode.Cached{P: off, Cache: store.NewCache(rdb), Log: log}
	life := lifecycle.New(st, geo, lifecycle.Config{Moderation: cfg.Moderation, ReportExpiry: cfg.ReportExpiry, TooCloseRadius: cfg.TooCloseRadius}, log)
	e := &env{redis: srv, store: st, life: life, mailDir: mailDir, cfg: cfg, decoders: photo.NewGate(2)}
	rt := routing.New(st, life, routing.Config{BaseURL: cfg.BaseURL.String(), ReplyTo: cfg.ModerationEmail}, log)
	e.app = New(Deps{Config: cfg, Store: st, Life: life, Map: mapview.New(st), Log: log, Geocoder: geo, GoogleClient: googleClient,
		Monitor: store.NewMonitor(rdb, st), Decoders: e.decoders, Routing: rt})
	// The workers run as in the app (mail goes out through the Redis stream), with short retries.
	ctx, stop := context.WithCancel(context.Background())
	deps := worker.Deps{Store: st, Life: life, Sender: mail.FileSender{Dir: mailDir, From: cfg.MailFrom, Log: log},
		BaseURL: cfg.BaseURL.String(), Log: log, Consumer: "test", Tuning: worker.Tuning{ClaimAfter: time.Second, Backoff: 100 * time.Millisecond, SweepEvery: time.Second},
		Extra: []worker.Consumer{rt.Consumer()}}
	waitWorkers := worker.Start(ctx, deps)
	waitRouting := rt.Start(ctx, deps, routing.Tuning{ClaimAfter: time.Second, Backoff: 100 * time.Millisecond})
	wait := func() { waitWorkers(); waitRouting() }
	if add != nil {
		add(e.app)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown(); stop(); wait() })
	e.base = "http://" + ln.Addr().String()
	return e
}

func (e *env) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (e *env) get(t *testing.T, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.do(t, req)
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if resp, body := e.get(t, "/healthz"); resp.StatusCode != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.get(t, "/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz with Redis up: %d %s", resp.StatusCode, body)
	}
	e.redis.Stop()
	resp, body := e.get(t, "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with Redis down: want 503, got %d", resp.StatusCode)
	}
	var msg struct{ Error string }
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg.Error == "" {
		t.Fatalf("readyz 503 body should be {\"error\": ...}: %q (%v)", body, err)
	}
	if err := e.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	// Probes repeat: the app must become ready again, though the first probe may meet a stale
	// connection or a Redis still loading on a loaded machine.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, _ := e.get(t, "/readyz")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 30 s after Redis came back: %d", resp.StatusCode)
		}
	}
	// The healthz probe does not depend on Redis.
	e.redis.Stop()
	if resp, _ := e.get(t, "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz must not depend on Redis: %d", resp.StatusCode)
	}
}

func TestHomePage(t *testing.T) {
	e := newEnv(t)
	resp, body := e.get(t, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("home: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	m := doc.Find(`[data-testid="map"]`)
	if m.Length() != 1 {
		t.Fatal("no map container")
	}
	if v, _ := m.Attr("data-tile-url"); !strings.Contains(v, "{z}/{x}/{y}") {
		t.Errorf("map tile url: %q", v)
	}
	if doc.Find(`meta[name="csrf-token"]`).Length() != 1 {
		t.Error("no csrf-token meta")
	}
	if !strings.Contains(doc.Find(`[data-testid="empty-state"]`).Text(), "No hazards reported here yet") {
		t.Error("no empty state")
	}
	if doc.Find("script:not([src])").Length() != 0 {
		t.Error("inline script found; the CSP forbids it")
	}
	// Every asset URL the page names is embedded and served.
	doc.Find("script[src], link[href]").Each(func(_ int, s *goquery.Selection) {
		u, ok := s.Attr("src")
		if !ok {
			u, _ = s.Attr("href")
		}
		if !strings.HasPrefix(u, "/static/") {
			return
		}
		if r, _ := e.get(t, u); r.StatusCode != 200 {
			t.Errorf("asset %s: %d", u, r.StatusCode)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.get(t, "/")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "https://tile.openstreetmap.org"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe sources: %s", csp)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "strict-origin-when-cross-origin"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on an http base URL")
	}
}

func TestTileOrigin(t *testing.T) {
	for tmpl, want := range map[string]string{
		"https://tile.openstreetmap.org/{z}/{x}/{y}.png":  "https://tile.openstreetmap.org",
		"https://{s}.tile.example.com/{z}/{x}/{y}.png":    "https://*.tile.example.com",
		"http://127.0.0.1:9999/tiles/{z}/{x}/{y}.png?k=1": "http://127.0.0.1:9999",
	} {
		if got := tileOrigin(tmpl); got != want {
			t.Errorf("tileOrigin(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

func TestErrorsByClient(t *testing.T) {
	e := newEnv(t)

	resp, body := e.get(t, "/no/such/page")
	if resp.StatusCode != 404 || !strings.Contains(body, "We could not find that page.") || !strings.Contains(body, "<html") {
		t.Errorf("browser 404: %d %s", resp.StatusCode, body)
	}

	resp, body = e.get(t, "/api/nothing")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("api 404: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var msg struct{ Error string }
	if err := json.Unmarshal([]byte(body), &msg); err != nil || !strings.Contains(msg.Error, "/api/nothing") {
		t.Errorf("api 404 body: %q", body)
	}

	resp, body = e.get(t, "/no/such/page", "HX-Request", "true")
	if resp.StatusCode != 404 || resp.Header.Get("HX-Retarget") != "#flash" || strings.Contains(body, "<html") ||
		!strings.Contains(body, `role="alert"`) {
		t.Errorf("htmx 404 should be a flash fragment: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A boosted navigation or history restore wants the whole page.
	_, body = e.get(t, "/no/such/page", "HX-Request", "true", "HX-History-Restore-Request", "true")
	if !strings.Contains(body, "<html") {
		t.Error("history restore got a fragment")
	}
}

func TestPanicsBecome500Pages(t *testing.T) {
	e := newEnvRoutes(t, func(app *fiber.App) {
		app.Get("/boom", func(*fiber.Ctx) error { panic("kaboom") })
	})
	resp, body := e.get(t, "/boom")
	if resp.StatusCode != 500 || !strings.Contains(body, "Something went wrong") || strings.Contains(body, "kaboom") {
		t.Errorf("panic: %d %s", resp.StatusCode, body)
	}
}

func TestRedisDownIs503NotA500(t *testing.T) {
	var e *env
	e = newEnvRoutes(t, func(app *fiber.App) {
		app.Get("/needs-redis", func(c *fiber.Ctx) error { return e.appStore(t).Ping(c.UserContext()) })
	})
	e.redis.Stop()
	resp, body := e.get(t, "/needs-redis")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "try again") {
		t.Errorf("redis down: %d retry-after=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func (e *env) appStore(t *testing.T) *store.Store {
	rdb, err := store.Dial(config.Redis{URL: e.redis.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return store.New(rdb)
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	// An ordinary route refuses more than maxBody. The server answers and closes as soon as the
	// limit is passed, so the body is written beside the read (a client writing it all first
	// would meet a reset connection).
	big, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	go func() {
		fmt.Fprintf(big, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", maxBody+1)
		_, _ = big.Write(make([]byte, maxBody+1))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(big), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "too large") {
		t.Errorf("oversized body: %d %s", resp.StatusCode, b)
	}
	// The upload route takes more, but not more than maxUpload: refused from the Content-Length
	// header alone, before any body is read (so this raw request sends none).
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /reports HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", maxUpload+1)
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized upload: %d", resp.StatusCode)
	}
}

func TestStaticCaching(t *testing.T) {
	e := newEnv(t)
	_, body := e.get(t, "/")
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	href, _ := doc.Find(`link[rel="stylesheet"]`).First().Attr("href")
	if !strings.Contains(href, "?v=") {
		t.Fatalf("stylesheet URL is not versioned: %q", href)
	}
	resp, _ := e.get(t, href)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("hashed asset: %d %q %q", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	plain := strings.SplitN(href, "?", 2)[0]
	resp, _ = e.get(t, plain+"?v=stale")
	if strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Error("a stale version must not be cached forever")
	}
	if resp, _ = e.get(t, plain, "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != 304 {
		t.Errorf("revalidation: want 304, got %d", resp.StatusCode)
	}
	for _, p := range []string{"/static/nope.js", "/static/../static/static.go", "/static/src/app.css"} {
		if resp, _ := e.get(t, p); resp.StatusCode != 404 {
			t.Errorf("%s: want 404, got %d", p, resp.StatusCode)
		}
	}
}

// chunkedPost sends a chunked body of up to total bytes to path over a raw socket, and returns
// the answer's status and how many body bytes had been written when it arrived.
func chunkedPost(t *testing.T, base, path string, total int) (int, int64) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", path)
	var sent atomic.Int64
	go func() {
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for sent.Load() < int64(total) {
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return // the server closed the connection: it refused the body
			}
			sent.Add(int64(len(chunk)))
		}
		fmt.Fprint(conn, "0\r\n\r\n")
	}()
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second)) // a bound, not a measure
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %d bytes: %v", sent.Load(), err)
	}
	resp.Body.Close()
	return resp.StatusCode, sent.Load()
}

// A chunked body has no Content-Length to check up front: the limit must hold on the bytes read.
// 45 MB sent to Open311 (no api_key needed to make the server read it) is refused once the
// route's 1 MB is past, long before the sender is done.
func TestChunkedBodyLimit(t *testing.T) {
	e := newEnv(t)
	status, sent := chunkedPost(t, e.base, "/open311/v2/requests.json", 45<<20)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("45 MB chunked: want 413, got %d after %d bytes", status, sent)
	}
	if sent >= 45<<20 {
		t.Fatalf("the whole body was sent before the answer: the server read it all")
	}
	t.Logf("refused after %.1f MB had been written (kernel buffers included)", float64(sent)/(1<<20))
	// A small chunked body is read as usual (and refused for what it says, not its size).
	if status, _ := chunkedPost(t, e.base, "/open311/v2/requests.json", 64<<10); status != http.StatusForbidden {
		t.Fatalf("small chunked body: want the handler's 403, got %d", status)
	}
}

// A client that sends its headers slowly is cut off after the header timeout instead of holding
// a connection for the two minutes an upload may take.
func TestSlowHeadersAreCutOff(t *testing.T) {
	e := newEnv(t)
	app := New(Deps{Config: e.cfg, Store: e.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), HeaderTimeout: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n")          // and never the blank line
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound, not a measure
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the connection was still open after 30 s: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // the whole answer, so what follows is the connection's end
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("want 408, got %d", resp.StatusCode)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection stays open after the timeout")
	}
}
