package e2e

import (
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/app"
	"hazardwatch/config"
	"hazardwatch/lifecycle"
	"hazardwatch/mail/mailtest"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// startMailApp runs a second app on its own Redis that sends mail over SMTP to a fake server
// (speaking real SMTP on loopback), so a test can read what a person's mailbox would get.
func startMailApp(t *testing.T) (*app.App, string, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t)
	srv := redistest.Start(t)
	tiles := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(tilePNG)
	}))
	t.Cleanup(tiles.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := map[string]string{"REDIS_URL": srv.URL(), "BASE_URL": base, "MAP_TILE_URL": tiles.URL + "/{z}/{x}/{y}.png",
		"DATA_DIR": t.TempDir(), "SMTP_URL": smtp.URL()}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logw := io.Discard
	if os.Getenv("E2E_LOG") != "" {
		logw = os.Stderr
	}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Serve(ln) }()
	t.Cleanup(func() { _ = a.Shutdown() })
	return a, base, smtp
}

// textPart is the plain-text part of a mail.
func textPart(t *testing.T, m *mail.Message) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p)
	return string(b)
}

// A citizen follows the area the map shows, gets a mail (over SMTP) when a hazard is reported
// there, and unsubscribes from the mail's link in one click.
func TestFollowAreaMailAndUnsubscribe(t *testing.T) {
	a, base, smtp := startMailApp(t)
	email := "watcher@example.org"
	hash, err := password.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Name: "Watcher", Email: email, PasswordHash: hash, Role: store.RoleCitizen}
	if err := a.Store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}

	s := open(t)
	s.goto_(base + "/login")
	s.fill("Email", email)
	s.fill("Password", pw)
	s.click("button", "Sign in")
	s.see("nav-user", "Watcher")
	s.goto_(base + "/?lat=51.50000&lng=-0.12000&z=15")
	s.click("link", "Follow this area: email alerts and a feed")
	if err := expect.Locator(s.page.GetByTestId("area-view")).ToBeChecked(); err != nil {
		t.Fatal("the alert form does not start from the map view: ", err)
	}
	if err := s.page.GetByLabel("Name (optional)").Fill("Around the station"); err != nil {
		t.Fatal(err)
	}
	s.click("button", "Save alert")
	if err := expect.Locator(s.page.GetByTestId("alert-row")).ToContainText("Around the station"); err != nil {
		t.Fatal("the alert is not listed: ", err)
	}
	s.noProblems()

	// Someone reports a hazard in the area: the alert mail arrives over SMTP.
	if _, _, err := a.Life.Create(t.Context(), lifecycle.Draft{ID: store.NewReportID(), ReporterID: "someoneelse00001", Type: "pothole",
		Severity: "high", Description: "Hole by the bus stop", Lat: 51.5004, Lng: -0.1203, HasPlace: true}); err != nil {
		t.Fatal(err)
	}
	var got []mailtest.Message
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = smtp.To(email)
	}
	if len(got) != 1 {
		t.Fatalf("%d alert mails arrived", len(got))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(got[0].Raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got[0].Subject, "Around the station") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("alert mail: %q, List-Unsubscribe-Post %q", got[0].Subject, m.Header.Get("List-Unsubscribe-Post"))
	}
	text := textPart(t, m)
	link := regexp.MustCompile(`http://\S+/alerts/unsubscribe\?token=\S+`).FindString(text)
	if link == "" || !strings.Contains(m.Header.Get("List-Unsubscribe"), link) {
		t.Fatalf("no unsubscribe link in the mail:\n%s", text)
	}

	// One click on the page the link opens (a fresh browser: no session needed).
	r := open(t)
	r.goto_(link)
	r.click("button", "Unsubscribe")
	r.see("unsubscribe-message", "you will get no more emails")
	r.noProblems()
	if as, err := a.Store.Alerts(t.Context(), u.ID); err != nil || len(as) != 0 {
		t.Fatalf("alerts left after unsubscribing: %d %v", len(as), err)
	}
	s.goto_(base + "/account")
	s.see("account-alerts", "You have no alerts yet.")
	_ = playwright.String
}

func TestAlertsPageAccessibility(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	checkAccessibilityAfter(t, "/alerts?lat=51.5&lng=-0.12&z=15", func(s *session) { s.signIn(email, pw); s.see("nav-user", "Tester") })
}
