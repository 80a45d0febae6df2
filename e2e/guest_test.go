package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// Issue 18: reporting without an account, on a phone, with and without a connection.

// withWorker lets the service worker run (open blocks it by default).
func withWorker(o *playwright.BrowserNewContextOptions) {
	o.ServiceWorkers = playwright.ServiceWorkerPolicyAllow
}

// Descriptions here avoid the catalogs' English texts ("Pothole", "Fallen tree"...): the Hebrew
// journey reads /reports in the same app and fails on any English it finds.

// reportsSaying are the stored reports whose description contains text, whatever their status.
func reportsSaying(t *testing.T, text string) []*store.Report {
	t.Helper()
	page, err := theApp.Store.List(t.Context(), store.ListQuery{Statuses: hazard.Statuses, Text: text, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	return page.Reports
}

func (s *session) must(err error, what string) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

// fillReport fills the report form as a guest on a phone: coordinates typed in the folded boxes.
func (s *session) fillReport(lat, lng, typ, severity, text, email string, photo bool) {
	s.t.Helper()
	if lat != "" {
		s.must(s.page.GetByText("Type the coordinates instead").Click(), "open the coordinates")
		s.must(s.page.GetByLabel("Latitude").Fill(lat), "latitude")
		s.must(s.page.GetByLabel("Longitude").Fill(lng), "longitude")
	}
	s.must(chooseType(s, typ), "type")
	s.must(s.page.GetByLabel(severity).Check(), "severity")
	s.must(s.page.GetByLabel("Describe it").Fill(text), "description")
	if email != "" {
		s.must(s.page.GetByLabel("Your email address").Fill(email), "email")
	}
	if photo {
		s.must(s.page.GetByLabel("Add photos").SetInputFiles(photoFile), "photo")
	}
}

// publish opens a guest report's mailed link and presses its button.
func (s *session) publish(email string) {
	s.t.Helper()
	link, _ := mailLink(s.t, email, "Confirm your hazard report", 0)
	s.goto_(strings.TrimPrefix(link, baseURL))
	s.must(s.page.GetByTestId("confirm-report").Click(), "publish")
	if err := expect.Locator(s.page.GetByTestId("status")).ToHaveText("Unverified"); err != nil {
		s.t.Fatal("not on the published report's page: ", err)
	}
}

// From the map, without an account: tap the map, "Report a hazard here", fill in, send (twice,
// impatiently: one report), open the mailed link, publish; the report is on the map.
func TestGuestReportFromTheMap(t *testing.T) {
	s := phone(t)
	text := fmt.Sprintf("Tree down blocking the path %d", time.Now().UnixNano())
	email := fmt.Sprintf("guest-%d@example.org", time.Now().UnixNano())
	s.goto_("/?lat=20.0000&lng=20.0000&z=16")
	settled(t, s, 0)
	s.must(s.page.Locator("#map").Click(), "tap the map")
	s.must(s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Report a hazard here"}).Click(), "report here")
	if err := expect.Locator(s.page.GetByLabel("Latitude")).ToHaveValue(regexp.MustCompile(`^20\.0`)); err != nil {
		t.Fatal("the form did not open at the tapped spot: ", err)
	}
	if err := expect.Locator(s.page.Locator(`#report-map[data-pinned="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal("no pin on the form's map: ", err)
	}
	// "Use my location" leads, and the type choice is large buttons.
	box, err := s.page.GetByTestId("use-location").BoundingBox()
	if err != nil || box.Width < 300 || box.Height < 44 {
		t.Fatalf("use my location: %+v %v", box, err)
	}
	tile, err := s.page.Locator(".type-choice").First().BoundingBox()
	if err != nil || tile.Width < 80 || tile.Height < 80 {
		t.Fatalf("type buttons: %+v %v", tile, err)
	}
	s.fillReport("", "", "Fallen tree", "Medium", text, email, true)
	if err := expect.Locator(s.page.GetByTestId("photo-progress")).ToHaveCount(1); err != nil {
		t.Fatal("no progress bar for the photo: ", err)
	}
	s.must(s.page.GetByTestId("submit-report").Dblclick(), "send")
	if err := expect.Locator(s.page.GetByTestId("guest-sent")).ToBeVisible(); err != nil {
		t.Fatal("no 'check your email': ", err)
	}
	if err := expect.Locator(s.page.Locator("#flash")).ToContainText(email); err != nil {
		t.Fatal("the page does not say where the link went: ", err)
	}
	rs := reportsSaying(t, text)
	if len(rs) != 1 || rs[0].Status != hazard.Unconfirmed || len(rs[0].Photos) != 1 {
		t.Fatalf("stored: %d reports", len(rs))
	}
	s.publish(email)
	s.goto_("/?lat=20.0000&lng=20.0000&z=16")
	if err := expect.Locator(s.page.Locator(".hazard-marker")).ToHaveCount(1); err != nil {
		t.Fatal("the confirmed report is not on the map: ", err)
	}
	s.noProblems()
}

// The spot, and everything typed, survive "Create an account", the confirmation mail and signing in.
func TestSpotSurvivesRegistration(t *testing.T) {
	s := phone(t)
	text := fmt.Sprintf("Lamp dark at the corner %d", time.Now().UnixNano())
	email := fmt.Sprintf("newcomer-%d@example.org", time.Now().UnixNano())
	s.goto_("/reports/new?lat=21.00000&lng=21.00000")
	s.must(chooseType(s, "Streetlight out"), "type")
	s.must(s.page.GetByLabel("Describe it").Fill(text), "description")
	s.must(s.page.GetByTestId("draft-register").Click(), "create an account")
	s.fill("Your name", "Newcomer")
	s.fill("Email", email)
	s.fill("Password", pw)
	s.click("button", "Create account")
	s.see("register-sent", email)
	link, _ := mailLink(t, email, "Confirm your email", 0)
	s.goto_(strings.TrimPrefix(link, baseURL))
	s.fill("Email", email)
	s.fill("Password", pw)
	s.click("button", "Sign in")
	if err := expect.Page(s.page).ToHaveURL(regexp.MustCompile(`/reports/new$`)); err != nil {
		t.Fatal("signing in did not lead back to the form: ", err)
	}
	if err := expect.Locator(s.page.GetByLabel("Latitude")).ToHaveValue("21.000000"); err != nil {
		t.Fatal("the spot was lost: ", err)
	}
	if err := expect.Locator(s.page.GetByLabel("Describe it")).ToHaveValue(text); err != nil {
		t.Fatal("the description was lost: ", err)
	}
	if err := expect.Locator(s.page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "Streetlight out"})).ToBeChecked(); err != nil {
		t.Fatal("the type was lost: ", err)
	}
	if err := expect.Locator(s.page.Locator(`#report-map[data-pinned="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal("the map has no pin: ", err)
	}
	s.noProblems()
}

// A failed submit: the error summary takes focus and the title says "Error:"; its links lead to
// the fields. The same on a form without the report form's script (sign-in).
func TestErrorSummaryTakesFocus(t *testing.T) {
	s := phone(t)
	s.goto_("/reports/new")
	s.must(s.page.GetByLabel("Describe it").Fill("Something fell off a lorry"), "description")
	s.must(s.page.GetByTestId("submit-report").Click(), "send")
	summary := s.page.GetByTestId("error-summary")
	if err := expect.Locator(summary).ToBeFocused(); err != nil {
		t.Fatal("the error summary did not take focus: ", err)
	}
	if err := expect.Page(s.page).ToHaveTitle(regexp.MustCompile(`^Error: Report a hazard`)); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(summary.GetByRole("link")).ToHaveText([]string{
		"Choose where the hazard is: tap the map, use your location, or search for the place.",
		"Choose the type of hazard.", "Choose how dangerous it is.",
		"Enter your email address: we send the link that confirms the report there.",
	}); err != nil {
		t.Fatal("the summary's links: ", err)
	}
	if err := expect.Locator(s.page.GetByLabel("Describe it")).ToHaveValue("Something fell off a lorry"); err != nil {
		t.Fatal("what was typed is gone: ", err)
	}
	s.must(summary.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Choose how dangerous it is."}).Click(), "follow the link")
	if err := expect.Page(s.page).ToHaveURL(regexp.MustCompile(`#f-severity$`)); err != nil {
		t.Fatal(err)
	}

	s.goto_("/login")
	s.click("button", "Sign in")
	if err := expect.Locator(s.page.GetByTestId("error-summary")).ToBeFocused(); err != nil {
		t.Fatal("sign-in: the error summary did not take focus: ", err)
	}
	if err := expect.Page(s.page).ToHaveTitle(regexp.MustCompile(`^Error: Sign in`)); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

// waitForWorker waits until the service worker controls the page (its cache is filled by then).
func waitForWorker(t *testing.T, s *session) {
	t.Helper()
	waitUntil(t, s, "the service worker controls the page", `() => !!navigator.serviceWorker && !!navigator.serviceWorker.controller`, nil)
}

// No signal: the form opens from the service worker's cache, a report with a photo is kept on the
// phone ("1 report waiting"), listed on the device's waiting page, and sent by itself when the
// connection is back: exactly once, even with the page reloaded at that moment; then the mailed
// link puts it on the map.
func TestOfflineReportSentOnceBackOnline(t *testing.T) {
	s := phone(t, withWorker)
	text := fmt.Sprintf("Flooded underpass, deep water %d", time.Now().UnixNano())
	email := fmt.Sprintf("roadside-%d@example.org", time.Now().UnixNano())
	s.goto_("/reports/new")
	waitForWorker(t, s)
	ctx := s.page.Context()
	s.must(ctx.SetOffline(true), "go offline")
	if _, err := s.page.Reload(); err != nil {
		t.Fatal("the form did not open offline: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("offline-note")).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator(`#report-map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal("the offline form's script did not start: ", err)
	}
	s.fillReport("22.500000", "22.500000", "Flooding", "High", text, email, true)
	s.must(s.page.GetByTestId("submit-report").Click(), "send")
	if err := expect.Locator(s.page.GetByTestId("outbox-text")).ToHaveText("1 report waiting for a connection."); err != nil {
		t.Fatal("the page does not say the report is waiting: ", err)
	}
	s.see("submit-status", "kept on this device")
	// Offline is no error: the nearby-reports lookup that failed on the way says nothing.
	if err := expect.Locator(s.page.Locator("#flash .flash-error")).ToHaveCount(0); err != nil {
		t.Fatal("an error for being offline: ", err)
	}
	if err := expect.Locator(s.page.GetByLabel("Describe it")).ToHaveValue(""); err != nil {
		t.Fatal("the form was not emptied for the next report: ", err)
	}
	if n := len(reportsSaying(t, text)); n != 0 {
		t.Fatalf("%d reports reached the server while offline", n)
	}

	// The device's list of waiting reports, offline too.
	s.must(s.page.GetByTestId("outbox-open").Click(), "open the list")
	item := s.page.GetByTestId("waiting-item")
	if err := expect.Locator(item).ToContainText(text); err != nil {
		t.Fatal("the waiting report is not listed: ", err)
	}
	if err := expect.Locator(item).ToContainText("1 photo"); err != nil {
		t.Fatal(err)
	}

	// Back online, and at that moment the page is loaded again: both try to send.
	s.must(ctx.SetOffline(false), "go online")
	if _, err := s.page.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("outbox-banner")).ToBeHidden(); err != nil {
		t.Fatal("the banner did not clear: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("waiting-empty")).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	rs := reportsSaying(t, text)
	if len(rs) != 1 || rs[0].Status != hazard.Unconfirmed || len(rs[0].Photos) != 1 || rs[0].Severity != "high" || rs[0].Lat != 22.5 {
		t.Fatalf("want exactly one report with its photo, got %d", len(rs))
	}
	s.goto_("/reports/new") // a later visit sends nothing again
	if err := expect.Locator(s.page.GetByTestId("outbox-banner")).ToBeHidden(); err != nil {
		t.Fatal(err)
	}
	if n := len(reportsSaying(t, text)); n != 1 {
		t.Fatalf("%d reports after another visit", n)
	}
	s.publish(email)
}

// A waiting report can be changed and deleted on the device before it goes.
func TestWaitingReportsCanBeChangedAndDeleted(t *testing.T) {
	s := phone(t, withWorker)
	text := fmt.Sprintf("Manhole lid gone %d", time.Now().UnixNano())
	s.goto_("/reports/new")
	waitForWorker(t, s)
	ctx := s.page.Context()
	s.must(ctx.SetOffline(true), "go offline")
	s.fillReport("23.100000", "23.100000", "Missing manhole cover", "High", text, "edit@example.org", false)
	s.must(s.page.GetByTestId("submit-report").Click(), "keep")
	s.must(expect.Locator(s.page.GetByTestId("outbox-text")).ToHaveText("1 report waiting for a connection."), "waiting")
	s.must(s.page.GetByTestId("outbox-open").Click(), "open the list")
	s.must(s.page.GetByTestId("waiting-edit-link").Click(), "change it")
	if err := expect.Locator(s.page.GetByLabel("Describe it")).ToHaveValue(text); err != nil {
		t.Fatal("the waiting report did not open in the form: ", err)
	}
	s.must(s.page.GetByLabel("Describe it").Fill(text+", changed"), "change")
	s.must(s.page.GetByTestId("submit-report").Click(), "keep again")
	item := s.page.GetByTestId("waiting-item")
	if err := expect.Locator(item).ToHaveCount(1); err != nil {
		t.Fatal("changing made a second waiting report: ", err)
	}
	if err := expect.Locator(item).ToContainText(text + ", changed"); err != nil {
		t.Fatal(err)
	}
	s.must(item.GetByTestId("waiting-delete").Click(), "delete")
	if err := expect.Locator(s.page.GetByTestId("waiting-empty")).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	s.must(ctx.SetOffline(false), "go online")
	s.goto_("/reports/waiting")
	if err := expect.Locator(s.page.GetByTestId("waiting-empty")).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	if n := len(reportsSaying(t, text)); n != 0 {
		t.Fatalf("a deleted waiting report was sent (%d)", n)
	}
}

// What is typed stays on the device: closing the tab and opening the form again brings it back.
func TestDraftSurvivesClosingTheTab(t *testing.T) {
	s := phone(t)
	text := fmt.Sprintf("Crack across both lanes %d", time.Now().UnixNano())
	s.goto_("/reports/new")
	s.must(chooseType(s, "Crack"), "type")
	s.must(s.page.GetByLabel("Describe it").Fill(text), "description")
	waitUntil(t, s, "the draft is kept", `t => new Promise(r => HWOutbox.draft().then(d => r(!!d && d.fields.description === t)))`, text)
	page, err := s.page.Context().NewPage()
	if err != nil {
		t.Fatal(err)
	}
	s.must(s.page.Close(), "close the tab")
	s.page = page
	s.goto_("/reports/new")
	if err := expect.Locator(s.page.GetByLabel("Describe it")).ToHaveValue(text); err != nil {
		t.Fatal("the draft did not come back: ", err)
	}
	if err := expect.Locator(s.page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "Crack"})).ToBeChecked(); err != nil {
		t.Fatal(err)
	}
}

// Offline, the map shows the markers of the last view it loaded and says they may be out of date.
func TestMapOfflineShowsLastView(t *testing.T) {
	seedAt(t, 2, 24.0, 24.0, "pothole")
	s := phone(t, withWorker)
	view := "/?lat=24.0010&lng=24.0005&z=16"
	s.goto_(view)
	waitForWorker(t, s)
	s.goto_(view) // now through the worker, which keeps the map's answer
	if err := expect.Locator(s.page.Locator(".hazard-marker")).ToHaveCount(2); err != nil {
		t.Fatal(err)
	}
	settled(t, s, 0)
	s.must(s.page.Context().SetOffline(true), "go offline")
	if _, err := s.page.Reload(); err != nil {
		t.Fatal("the map did not open offline: ", err)
	}
	if err := expect.Locator(s.page.Locator(".hazard-marker")).ToHaveCount(2); err != nil {
		t.Fatal("no markers offline: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("offline-note")).ToContainText("may be out of date"); err != nil {
		t.Fatal(err)
	}
}

// Times on a report's page are shown in the viewer's time zone.
func TestTimesInTheViewersTimeZone(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := phone(t, func(o *playwright.BrowserNewContextOptions) { o.TimezoneId = playwright.String("Asia/Kolkata") })
	s.signIn(email, pw)
	s.goto_("/reports/new")
	s.fillReport("25.000000", "25.000000", "Pothole", "Low", "Hole by the bus stop", "", false)
	s.must(s.page.GetByTestId("submit-report").Click(), "send")
	s.must(expect.Locator(s.page.GetByTestId("status")).ToHaveText("Unverified"), "report page")
	when, err := s.page.GetByTestId("timeline").Locator("time").First().GetAttribute("datetime")
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339, when)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Kolkata") // +5:30: not even the minutes match UTC's
	if err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("timeline").Locator("time").First()).ToContainText(at.In(loc).Format("3:04")); err != nil {
		t.Fatal("the time is not India's: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("timeline").Locator("time").First()).Not().ToContainText("UTC"); err != nil {
		t.Fatal(err)
	}
}
