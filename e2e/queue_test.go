package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// pendingAt stores a pending report (test setup); age orders reports of one severity.
func pendingAt(t *testing.T, typ, sev string, lat, lng float64, age time.Duration) *store.Report {
	t.Helper()
	made := time.Now().UTC().Add(-age)
	r := &store.Report{ID: store.NewReportID(), Type: typ, Severity: sev, Description: fmt.Sprintf("A %s, %.4f %.4f", typ, lat, lng),
		Lat: lat, Lng: lng, Status: hazard.Pending, ReporterID: "reporter00000001", Photos: []string{}, CreatedAt: made, UpdatedAt: made,
		History: []store.Change{{At: made, By: "reporter00000001", To: hazard.Pending}}}
	if _, _, err := theApp.Store.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// queueAround is the queue limited to a box round a point: the e2e tests share one Redis, and
// each keeps to its own corner of the world.
func queueAround(lat, lng float64) string {
	return fmt.Sprintf("/moderation?bbox=%.4f,%.4f,%.4f,%.4f", lng-0.05, lat-0.05, lng+0.05, lat+0.05)
}

func statusOf(t *testing.T, id string) *store.Report {
	t.Helper()
	r, err := theApp.Store.Report(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func moderator(t *testing.T) *session {
	_, email := newUser(t, store.RoleModerator)
	s := open(t)
	s.signIn(email, pw)
	s.see("nav-user", "Tester")
	return s
}

// Select rows (a click, then shift-click for the range) and approve them in one go.
func TestQueueBulkApprove(t *testing.T) {
	lat, lng := -20.2, 57.5
	var ids []string
	for i := range 3 {
		ids = append(ids, pendingAt(t, "crack", "medium", lat+float64(i)*0.002, lng, time.Duration(3-i)*time.Hour).ID)
	}
	mod := moderator(t)
	mod.goto_(queueAround(lat, lng))
	boxes := mod.page.GetByTestId("row-select")
	if err := expect.Locator(boxes).ToHaveCount(3); err != nil {
		t.Fatal(err)
	}
	if err := boxes.Nth(0).Click(); err != nil {
		t.Fatal(err)
	}
	if err := boxes.Nth(2).Click(playwright.LocatorClickOptions{Modifiers: []playwright.KeyboardModifier{*playwright.KeyboardModifierShift}}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(boxes.Nth(1)).ToBeChecked(); err != nil {
		t.Fatal("shift-click did not select the range: ", err)
	}
	if _, err := mod.page.Locator("#bulk-action").SelectOption(playwright.SelectOptionValues{Values: &[]string{"approve"}}); err != nil {
		t.Fatal(err)
	}
	mod.click("button", "Apply to the selected")
	mod.see("bulk-changed", "3 reports changed.")
	// Approved, they left the "unverified" tab the page shows again.
	if err := expect.Locator(mod.page.GetByTestId("queue-item")).ToHaveCount(0); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if r := statusOf(t, id); r.Status != hazard.Open {
			t.Fatalf("%s is %s", id, r.Status)
		}
	}
	mod.noProblems()
}

// A row lists the open report it probably duplicates; one click closes it as a duplicate.
func TestQueueOneClickDuplicate(t *testing.T) {
	lat, lng := -21.1, 55.5
	orig := pendingAt(t, "pothole", "high", lat, lng, 3*time.Hour)
	dup := pendingAt(t, "pothole", "high", lat+0.0001, lng, time.Hour)
	mod := moderator(t)
	mod.goto_(queueAround(lat, lng))
	row := mod.page.Locator("#mod-" + dup.ID)
	btn := row.Locator(`[data-candidate="` + orig.ID + `"]`)
	if err := expect.Locator(btn).ToBeVisible(); err != nil {
		t.Fatal("no candidate original in the row: ", err)
	}
	if err := btn.Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(mod.page.Locator("#mod-" + dup.ID).GetByTestId("queue-status")).ToHaveText("Duplicate"); err != nil {
		t.Fatal("the row did not become a duplicate: ", err)
	}
	if r := statusOf(t, dup.ID); r.DuplicateOf != orig.ID {
		t.Fatalf("duplicate of %q", r.DuplicateOf)
	}
	if o := statusOf(t, orig.ID); len(o.Duplicates) != 1 {
		t.Fatalf("the original lists %v", o.Duplicates)
	}
	// The keyboard's d does the same with the row's nearest candidate.
	orig2 := pendingAt(t, "pothole", "high", lat+0.01, lng, 3*time.Hour)
	dup2 := pendingAt(t, "pothole", "high", lat+0.0101, lng, time.Hour)
	mod.goto_(queueAround(lat, lng))
	if err := mod.page.Locator("#mod-" + dup2.ID).Focus(); err != nil {
		t.Fatal(err)
	}
	if err := mod.page.Keyboard().Press("d"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(mod.page.Locator("#mod-" + dup2.ID).GetByTestId("queue-status")).ToHaveText("Duplicate"); err != nil {
		t.Fatal("d did not mark the row a duplicate: ", err)
	}
	if r := statusOf(t, dup2.ID); r.DuplicateOf != orig2.ID {
		t.Fatalf("d: duplicate of %q, want %q", r.DuplicateOf, orig2.ID)
	}
	mod.noProblems()
}

// A moderator opens a row's panel, drags the pin, gives a reason and the report moves.
func TestQueueRelocateByDrag(t *testing.T) {
	lat, lng := 64.1, -21.9
	r := pendingAt(t, "tree", "medium", lat, lng, time.Hour)
	mod := moderator(t)
	mod.goto_(queueAround(lat, lng))
	if err := mod.page.Locator("#mod-" + r.ID + ` [data-testid="row-panel"] summary`).Click(); err != nil {
		t.Fatal(err)
	}
	pin := mod.page.Locator("#mod-" + r.ID + ` [data-testid="row-map"] .leaflet-marker-icon`)
	if err := expect.Locator(pin).ToBeVisible(); err != nil {
		t.Fatal("the panel's map has no pin: ", err)
	}
	if err := pin.ScrollIntoViewIfNeeded(); err != nil {
		t.Fatal(err)
	}
	box, err := pin.BoundingBox()
	if err != nil {
		t.Fatal(err)
	}
	x, y := box.X+box.Width/2, box.Y+box.Height/2
	m := mod.page.Mouse()
	if err := m.Move(x, y); err != nil {
		t.Fatal(err)
	}
	if err := m.Down(); err != nil {
		t.Fatal(err)
	}
	if err := m.Move(x+90, y+40, playwright.MouseMoveOptions{Steps: playwright.Int(12)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	lngField := mod.page.Locator("#lng-" + r.ID)
	if err := expect.Locator(lngField).Not().ToHaveValue(fmt.Sprintf("%.6f", lng)); err != nil {
		t.Fatal("dragging did not change the place: ", err)
	}
	if err := mod.page.Locator("#place-reason-" + r.ID).Fill("The tree is across the next street."); err != nil {
		t.Fatal(err)
	}
	if err := mod.page.Locator("#mod-"+r.ID).GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Move the report here"}).Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(mod.page.Locator("#mod-" + r.ID).GetByTestId("staff-history")).ToContainText("Moved the pin"); err != nil {
		t.Fatal(err)
	}
	got := statusOf(t, r.ID)
	if got.Lng <= lng || got.Lat >= lat { // dragged right and down: east and south
		t.Fatalf("moved to %.6f,%.6f from %.6f,%.6f", got.Lat, got.Lng, lat, lng)
	}
	if want, _ := strconv.ParseFloat(mustValue(t, lngField), 64); want != got.Lng {
		t.Fatalf("stored %.6f, the field said %.6f", got.Lng, want)
	}
	mod.noProblems()
}

func mustValue(t *testing.T, l playwright.Locator) string {
	v, err := l.InputValue()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func activeID(t *testing.T, s *session) string {
	v, err := s.page.Evaluate(`() => document.activeElement && document.activeElement.id`)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := v.(string)
	return id
}

// j/k move between rows, a approves (and moves on), x selects, ? shows the help; with the
// shortcuts switched off in /account the keys do nothing. The map marks the focused row's marker,
// and choosing a marker focuses its row.
func TestQueueKeyboard(t *testing.T) {
	lat, lng := -45.0, 170.5
	var ids []string
	for i := range 3 {
		ids = append(ids, pendingAt(t, "sign", "low", lat+float64(i)*0.01, lng, time.Duration(3-i)*time.Hour).ID)
	}
	mod := moderator(t)
	mod.goto_(queueAround(lat, lng))
	if err := expect.Locator(mod.page.Locator("#queue-map")).ToHaveAttribute("data-markers", "3"); err != nil {
		t.Fatal("the map does not show the page's reports: ", err)
	}
	if err := mod.page.Locator("#mod-" + ids[0]).Focus(); err != nil {
		t.Fatal(err)
	}
	press := func(key string) {
		t.Helper()
		if err := mod.page.Keyboard().Press(key); err != nil {
			t.Fatal(err)
		}
	}
	press("j")
	if got := activeID(t, mod); got != "mod-"+ids[1] {
		t.Fatalf("after j the focus is on %q", got)
	}
	if err := expect.Locator(mod.page.Locator("#queue-map")).ToHaveAttribute("data-current", ids[1]); err != nil {
		t.Fatal("the map does not mark the focused row's report: ", err)
	}
	press("a")
	if err := expect.Locator(mod.page.Locator("#mod-" + ids[1]).GetByTestId("queue-status")).ToHaveText("Open"); err != nil {
		t.Fatal("a did not approve: ", err)
	}
	if err := expect.Locator(mod.page.Locator("#mod-" + ids[2])).ToBeFocused(); err != nil {
		t.Fatal("after approving, the focus did not move on: ", err)
	}
	press("x")
	if err := expect.Locator(mod.page.Locator("#mod-" + ids[2]).GetByTestId("row-select")).ToBeChecked(); err != nil {
		t.Fatal(err)
	}
	press("?")
	if err := expect.Locator(mod.page.GetByTestId("queue-help")).ToBeVisible(); err != nil {
		t.Fatal("? did not show the help: ", err)
	}
	press("Escape")
	if err := expect.Locator(mod.page.GetByTestId("queue-help")).ToBeHidden(); err != nil {
		t.Fatal(err)
	}
	// Keys typed into a field are text, not shortcuts.
	note := mod.page.Locator("#note-" + ids[0])
	if err := note.Fill(""); err != nil {
		t.Fatal(err)
	}
	if err := note.Press("a"); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, note); v != "a" {
		t.Fatalf("the note says %q", v)
	}
	// Choosing a marker focuses its row.
	if err := mod.page.Locator(`#queue-map .leaflet-marker-icon [aria-label*="Damaged or missing sign"]`).First().Click(); err != nil {
		t.Fatal(err)
	}
	if id := activeID(t, mod); id == "" || id[:4] != "mod-" {
		t.Fatalf("choosing a marker focused %q", id)
	}
	if statusOf(t, ids[0]).Status != hazard.Pending || statusOf(t, ids[2]).Status != hazard.Pending {
		t.Fatal("a key changed a report it should not have")
	}

	// Off in /account: the keys are left to the browser and the screen reader.
	mod.goto_("/account")
	if err := mod.page.GetByTestId("shortcuts-off").Click(); err != nil {
		t.Fatal(err)
	}
	mod.see("shortcuts-on", "Turn them on")
	mod.goto_(queueAround(lat, lng))
	if err := expect.Locator(mod.page.Locator("#queue")).ToHaveAttribute("data-shortcuts", "off"); err != nil {
		t.Fatal(err)
	}
	if err := mod.page.Locator("#mod-" + ids[0]).Focus(); err != nil {
		t.Fatal(err)
	}
	press("j")
	if got := activeID(t, mod); got != "mod-"+ids[0] {
		t.Fatalf("with shortcuts off, j moved the focus to %q", got)
	}
	mod.noProblems()
}

func TestQueueAccessibility(t *testing.T) {
	lat, lng := 1.3, 103.8
	pendingAt(t, "pothole", "high", lat, lng, 2*time.Hour)
	pendingAt(t, "pothole", "medium", lat+0.0001, lng, time.Hour)
	_, email := newUser(t, store.RoleModerator)
	checkAccessibilityAfter(t, queueAround(lat, lng), func(s *session) { s.signIn(email, pw); s.see("nav-user", "Tester") })
}
