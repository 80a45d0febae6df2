package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// On phones: an admin makes a user staff of a body; that user signs in, finds the report sent to
// the body in their queue, adds a public update and marks it fixed; a citizen sees the body's
// name on the timeline and the update, never the person's.
func TestStaffOfABodyMarksFixed(t *testing.T) {
	ctx := t.Context()
	// A square round a place no other test reports in.
	lat, lng := 32.55, 35.45
	b := &store.Body{ID: store.NewBodyID(), Name: "Carmel Council", Lang: "en", Types: []string{"pothole"}, Method: store.ByEmail,
		Email: "roads@carmel.example", BBox: [4]float64{lng - 0.02, lat - 0.02, lng + 0.02, lat + 0.02}}
	area := fmt.Sprintf(`{"type":"MultiPolygon","coordinates":[[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]]}`,
		lng-0.02, lat-0.02, lng+0.02, lat-0.02, lng+0.02, lat+0.02, lng-0.02, lat+0.02, lng-0.02, lat-0.02)
	if err := theApp.Store.SaveBody(ctx, b, []byte(area)); err != nil {
		t.Fatal(err)
	}
	_, citizenEmail := newUser(t, store.RoleCitizen)
	citizen, err := theApp.Store.UserByEmail(ctx, citizenEmail)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := theApp.Life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: citizen.ID, Type: "pothole", Severity: "high",
		Description: "Pothole on the Carmel road", Lat: lat, Lng: lng, HasPlace: true, AllowClose: true})
	if err != nil {
		t.Fatal(err)
	}
	// Sent by the app's own workers (a generous bound for a loaded machine; a quick one stops at once).
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if sent, err := theApp.Store.SentTo(ctx, r.ID, b.ID); err != nil {
			t.Fatal(err)
		} else if sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the report was never sent to the body")
		}
	}

	staffName, staffEmail := newUser(t, store.RoleCitizen)
	staffUser, err := theApp.Store.UserByEmail(ctx, staffEmail)
	if err != nil {
		t.Fatal(err)
	}
	_, adminEmail := newUser(t, store.RoleAdmin)
	a := phone(t)
	a.signIn(adminEmail, pw)
	a.see("nav-user", "Tester")
	a.goto_("/admin?email=" + staffEmail)
	row := a.page.GetByTestId("user-row")
	a.must(expect.Locator(row).ToContainText(staffEmail), "the user's row")
	_, err = row.GetByLabel("Role of " + staffName).SelectOption(playwright.SelectOptionValues{Values: &[]string{"staff"}})
	a.must(err, "choose the role")
	_, err = row.GetByTestId("staff-body").SelectOption(playwright.SelectOptionValues{Labels: &[]string{"Carmel Council"}})
	a.must(err, "choose the body")
	a.must(row.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Set role"}).Click(), "set the role")
	a.see("staff-of", "staff of Carmel Council")
	a.noProblems()

	s := phone(t)
	s.signIn(staffEmail, pw)
	s.see("nav-user", staffName)
	// A public update on the body's report is signed by the body, even when asked to show a name.
	s.goto_("/reports/" + r.ID)
	s.must(s.page.GetByLabel("What did you see?").Fill("Crew booked for Sunday."), "the update's text")
	s.must(s.page.GetByLabel("Show my name").Check(), "show my name")
	s.must(s.page.GetByTestId("update-submit").Click(), "add the update")
	s.see("update-list", "Carmel Council")
	s.noProblems()
	s.goto_("/moderation?tab=pending")
	s.see("queue-scope", "Reports sent to Carmel Council")
	item := s.page.Locator("#mod-" + r.ID)
	s.must(expect.Locator(item).ToContainText("Pothole on the Carmel road"), "the body's report in the queue")
	s.must(expect.Locator(s.page.GetByTestId("queue-item")).ToHaveCount(1), "only the body's report in the queue")
	_, err = item.GetByLabel("Action").SelectOption(playwright.SelectOptionValues{Values: &[]string{"resolve"}})
	s.must(err, "choose resolve")
	s.must(item.GetByLabel("Note (the reporter sees it)").Fill("Resurfaced this morning."), "note")
	s.must(item.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Apply"}).Click(), "apply")
	s.must(expect.Locator(s.page.Locator("#mod-"+r.ID).GetByTestId("queue-status")).ToHaveText("Resolved"), "the row after resolving")
	s.noProblems()
	if got, _ := theApp.Store.Report(ctx, r.ID); got.History[len(got.History)-1].By != staffUser.ID {
		t.Fatal("the change is not recorded as the staff member's")
	}

	c := phone(t)
	c.goto_("/reports/" + r.ID)
	c.see("timeline", "Carmel Council marked this resolved")
	c.see("timeline", "Resurfaced this morning.")
	if err := expect.Locator(c.page.GetByTestId("timeline")).Not().ToContainText(staffName); err != nil {
		t.Fatal("the public timeline names the staff member: ", err)
	}
	c.see("update-list", "Carmel Council")
	c.see("update-list", "Crew booked for Sunday.")
	if err := expect.Locator(c.page.GetByTestId("update-list")).Not().ToContainText(staffName); err != nil {
		t.Fatal("the public update names the staff member: ", err)
	}
	c.noProblems()
}
