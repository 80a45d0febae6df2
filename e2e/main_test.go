// Package e2e drives real Chromium (Debian's, through playwright-go) against the real app built by
// app.New, backed by a throwaway redis-server. Map tiles come from a fake tile server on loopback,
// since tests have no network. See ../shared/notes/e2e.md for how the driver is set up.
package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/app"
	"hazardwatch/config"
	"hazardwatch/photo/phototest"
	"hazardwatch/store/redistest"
)

var (
	redisURL  string // the Redis behind the app, for a second app instance
	baseURL   string
	mailDir   string
	photoFile string // a JPEG with EXIF GPS and camera make, for upload tests
	theApp    *app.App
	browser   playwright.Browser
	repoRoot  = func() string { _, f, _, _ := runtime.Caller(0); return filepath.Join(filepath.Dir(f), "..") }()
	expect    = playwright.NewPlaywrightAssertions(10000)
)

// A 1x1 transparent PNG: every tile the fake tile server returns.
var tilePNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	h := &redistest.Main{}
	defer h.Close()
	srv := redistest.Start(h)
	redisURL = srv.URL()

	tiles := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(tilePNG)
	}))
	defer tiles.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	baseURL = "http://" + ln.Addr().String()
	mailDir = h.TempDir()
	photoFile = filepath.Join(h.TempDir(), "pothole.jpg")
	if err := os.WriteFile(photoFile, phototest.JPEGWithEXIF(h, phototest.RedBlue(120, 80), 1, 32.81, 34.99), 0o644); err != nil {
		return 0, err
	}
	env := map[string]string{
		"REDIS_URL":    srv.URL(),
		"BASE_URL":     baseURL,
		"MAP_TILE_URL": tiles.URL + "/{z}/{x}/{y}.png",
		"DATA_DIR":     h.TempDir(),
		"MAIL_DIR":     mailDir,
		"I18N_PSEUDO":  "on", // the pseudo-locale overflow test
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return 0, err
	}
	logw := io.Discard
	if os.Getenv("E2E_LOG") != "" {
		logw = os.Stderr
	}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		return 0, err
	}
	theApp = a
	go func() { _ = a.Serve(ln) }()
	defer a.Shutdown()

	// Service workers' own requests are then reported and follow the context's offline switch
	// (without it, a worker fetches on while the page is "offline"; Playwright issue 2311).
	os.Setenv("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")
	driverDir := os.Getenv("PLAYWRIGHT_DRIVER_PATH")
	if driverDir == "" {
		driverDir = filepath.Join(repoRoot, "e2e", ".driver")
	}
	pw, err := playwright.Run(&playwright.RunOptions{DriverDirectory: driverDir, SkipInstallBrowsers: true, Verbose: false})
	if err != nil {
		return 0, fmt.Errorf("playwright driver at %s (run `make deps`): %w", driverDir, err)
	}
	defer pw.Stop()
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	browser, err = pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath: playwright.String(chromium),
		Args: []string{"--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"},
	})
	if err != nil {
		return 0, fmt.Errorf("launch %s (run `make deps`): %w", chromium, err)
	}
	defer browser.Close()
	return m.Run(), nil
}

// session is one browser context and page with everything a test wants to check afterwards.
type session struct {
	t    *testing.T
	page playwright.Page

	n        int // the test's first session is 1, its second 2...: artifacts are saved per session
	mu       sync.Mutex
	problems []string // console errors, page errors, failed requests
}

var (
	sessionsMu sync.Mutex
	sessions   = map[string]int{} // sessions opened per test name
)

// open starts a fresh context (own cookies) and page; on failure it saves a screenshot and HTML.
func open(t *testing.T, opts ...playwright.BrowserNewContextOptions) *session {
	t.Helper()
	var o playwright.BrowserNewContextOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o.BaseURL = playwright.String(baseURL)
	if o.ServiceWorkers == nil {
		// Requests a service worker answers bypass page.Route; tests that want the worker (the
		// offline ones) ask for it.
		o.ServiceWorkers = playwright.ServiceWorkerPolicyBlock
	}
	ctx, err := browser.NewContext(o)
	if err != nil {
		t.Fatal(err)
	}
	page, err := ctx.NewPage()
	if err != nil {
		t.Fatal(err)
	}
	sessionsMu.Lock()
	sessions[t.Name()]++
	s := &session{t: t, page: page, n: sessions[t.Name()]}
	sessionsMu.Unlock()
	page.OnConsole(func(m playwright.ConsoleMessage) {
		// Chromium logs every 4xx answer; a 422 form or a 404 page is expected. Server errors
		// are caught below instead.
		if m.Type() == "error" && !clientErrorLog.MatchString(m.Text()) {
			s.problem("console error: " + m.Text())
		}
	})
	page.OnResponse(func(r playwright.Response) {
		if r.Status() >= 500 {
			s.problem(fmt.Sprintf("server error %d for %s", r.Status(), r.URL()))
		}
	})
	page.OnPageError(func(err error) { s.problem("page error: " + err.Error()) })
	page.OnRequestFailed(func(r playwright.Request) { s.problem("request failed: " + r.URL()) })
	t.Cleanup(func() {
		if t.Failed() {
			s.saveArtifacts()
		}
		_ = ctx.Close()
	})
	return s
}

func (s *session) problem(p string) {
	s.mu.Lock()
	s.problems = append(s.problems, p)
	s.mu.Unlock()
}

// noProblems fails the test if the page logged errors or failed to load anything.
func (s *session) noProblems() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) > 0 {
		s.t.Errorf("the page had problems:\n  %s", strings.Join(s.problems, "\n  "))
	}
}

func (s *session) saveArtifacts() {
	dir := filepath.Join(repoRoot, "e2e", ".artifacts")
	_ = os.MkdirAll(dir, 0o755)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(s.t.Name())
	if s.n > 1 {
		name += fmt.Sprintf("-session%d", s.n)
	}
	if _, err := s.page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(filepath.Join(dir, name+".png")), FullPage: playwright.Bool(true)}); err != nil {
		s.t.Logf("screenshot: %v", err)
	}
	if html, err := s.page.Content(); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".html"), []byte(html), 0o644)
	}
	s.t.Logf("saved screenshot and HTML under %s", dir)
}

func (s *session) goto_(path string) {
	s.t.Helper()
	resp, err := s.page.Goto(path)
	if err != nil {
		s.t.Fatalf("goto %s: %v", path, err)
	}
	if resp.Status() >= 400 {
		s.t.Fatalf("goto %s: status %d", path, resp.Status())
	}
}

var clientErrorLog = regexp.MustCompile(`^Failed to load resource: the server responded with a status of 4\d\d`)

var axeSource = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile(filepath.Join(repoRoot, "node_modules", "axe-core", "axe.min.js"))
})

// checkAccessibility loads path in a context that may inject axe-core (our CSP forbids injected
// scripts everywhere else) and fails on serious or critical violations.
func checkAccessibility(t *testing.T, path string, opts ...playwright.BrowserNewContextOptions) {
	t.Helper()
	checkAccessibilityAfter(t, path, nil, opts...)
}

// checkAccessibilityAfter runs before (e.g. signing in) in the same context first.
func checkAccessibilityAfter(t *testing.T, path string, before func(*session), opts ...playwright.BrowserNewContextOptions) {
	t.Helper()
	var o playwright.BrowserNewContextOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o.BypassCSP = playwright.Bool(true)
	s := open(t, o)
	if before != nil {
		before(s)
	}
	if _, err := s.page.Goto(path); err != nil { // error pages are checked too, whatever their status
		t.Fatal(err)
	}
	src, err := axeSource()
	if err != nil {
		t.Fatalf("axe-core is missing (run `make deps`): %v", err)
	}
	if _, err := s.page.AddScriptTag(playwright.PageAddScriptTagOptions{Content: playwright.String(string(src))}); err != nil {
		t.Fatal(err)
	}
	res, err := s.page.Evaluate(`async () => {
		const r = await axe.run(document, { resultTypes: ["violations"] });
		return r.violations
			.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", "));
	}`)
	if err != nil {
		t.Fatal(err)
	}
	violations, ok := res.([]any)
	if !ok {
		t.Fatalf("axe returned %T", res)
	}
	var buf bytes.Buffer
	for _, v := range violations {
		fmt.Fprintf(&buf, "\n  %v", v)
	}
	if buf.Len() > 0 {
		t.Errorf("accessibility violations on %s:%s", path, buf.String())
	}
}
