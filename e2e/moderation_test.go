package e2e

import (
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// A moderator approves a report in the queue (htmx, in place); the citizen sees status and note.
func TestModeratorApproves(t *testing.T) {
	citizenName, citizenEmail := newUser(t, store.RoleCitizen)
	_, modEmail := newUser(t, store.RoleModerator)
	citizen, err := theApp.Store.UserByEmail(t.Context(), citizenEmail)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	r := &store.Report{ID: store.NewReportID(), Type: "streetlight", Severity: "low", Description: "Lamp out by the park gate",
		Lat: -33.9, Lng: 18.4, Status: hazard.Pending, ReporterID: citizen.ID, Photos: []string{}, CreatedAt: now, UpdatedAt: now,
		History: []store.Change{{At: now, By: citizen.ID, To: hazard.Pending}}}
	if _, _, err := theApp.Store.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}

	mod := open(t)
	mod.signIn(modEmail, pw)
	mod.goto_(queueAround(r.Lat, r.Lng))
	row := mod.page.Locator("#mod-" + r.ID)
	if err := expect.Locator(row).ToContainText("Lamp out by the park gate"); err != nil {
		t.Fatal(err)
	}
	if _, err := row.GetByLabel("Action").SelectOption(playwright.SelectOptionValues{Values: &[]string{"approve"}}); err != nil {
		t.Fatal(err)
	}
	if err := row.GetByLabel("Note (the reporter sees it)").Fill("Logged with the council, thank you."); err != nil {
		t.Fatal(err)
	}
	if err := row.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Apply"}).Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(mod.page.Locator("#mod-" + r.ID).GetByTestId("queue-status")).ToHaveText("Open"); err != nil {
		t.Fatal("the row did not update in place: ", err)
	}
	mod.noProblems()

	// The reporter hears back by mail, once.
	link, n := mailLink(t, citizenEmail, "Your hazard report: Open", 0)
	if link != baseURL+"/reports/"+r.ID || n != 1 {
		t.Fatalf("status mail: %q (%d)", link, n)
	}
	time.Sleep(2500 * time.Millisecond) // a second sending would land by now
	if _, n := mailLink(t, citizenEmail, "Your hazard report", 0); n != 1 {
		t.Fatalf("%d status mails for one change", n)
	}

	c := open(t)
	c.signIn(citizenEmail, pw)
	c.see("nav-user", citizenName)
	c.goto_("/reports/" + r.ID)
	c.see("status", "Open")
	c.see("timeline", "Logged with the council, thank you.")
}

func TestModerationAccessibility(t *testing.T) {
	_, modEmail := newUser(t, store.RoleModerator)
	checkAccessibilityAfter(t, "/moderation", func(s *session) { s.signIn(modEmail, pw); s.see("nav-user", "Tester") })
}

func TestAdminPagesAccessibility(t *testing.T) {
	_, adminEmail := newUser(t, store.RoleAdmin)
	for _, p := range []string{"/admin", "/admin/stats", "/admin/system", "/admin/audit", "/admin/api-keys"} {
		checkAccessibilityAfter(t, p, func(s *session) { s.signIn(adminEmail, pw); s.see("nav-user", "Tester") })
	}
}
