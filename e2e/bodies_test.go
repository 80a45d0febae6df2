package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/store"
)

// An admin draws up a body by uploading its area and sees it on the map; a citizen filing a
// report there is told it will go to that body, and once it is sent sees who has it.
func TestAdminAddsBodyAndCitizenSeesSentTo(t *testing.T) {
	// A square round a place no other test reports in.
	areaFile := filepath.Join(t.TempDir(), "lakeside.geojson")
	geo := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Lakeside"},"geometry":{"type":"Polygon",
		"coordinates":[[[35.28,32.68],[35.32,32.68],[35.32,32.72],[35.28,32.72],[35.28,32.68]]]}}]}`
	if err := os.WriteFile(areaFile, []byte(geo), 0o644); err != nil {
		t.Fatal(err)
	}
	_, adminEmail := newUser(t, store.RoleAdmin)
	a := open(t)
	a.signIn(adminEmail, pw)
	a.see("nav-user", "Tester")
	a.goto_("/admin/bodies")
	a.fill("Name", "Lakeside Council")
	if err := a.page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "potholes", Exact: playwright.Bool(true)}).Check(); err != nil {
		t.Fatal(err)
	}
	if err := a.page.GetByLabel("Area (GeoJSON file)").SetInputFiles(areaFile); err != nil {
		t.Fatal(err)
	}
	a.fill("Email address", "roads@lakeside.example")
	if err := a.page.GetByTestId("save-body").Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(a.page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Lakeside Council", Level: playwright.Int(1)})).ToBeVisible(); err != nil {
		t.Fatal("not on the body's page: ", err)
	}
	// The area is drawn on the map.
	if err := expect.Locator(a.page.Locator(`#body-map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal("the map did not load the area: ", err)
	}
	if err := expect.Locator(a.page.Locator("#body-map path.leaflet-interactive")).ToHaveCount(1); err != nil {
		t.Fatal("the area is not drawn: ", err)
	}
	a.noProblems()

	_, email := newUser(t, store.RoleCitizen)
	s := open(t)
	s.signIn(email, pw)
	s.goto_("/reports/new")
	if err := expect.Locator(s.page.Locator(`#report-map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	s.must(s.page.GetByText("Type the coordinates instead").Click(), "open the coordinates")
	s.fill("Latitude", "32.700000")
	s.fill("Longitude", "35.300000")
	if err := s.page.GetByLabel("Longitude", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Press("Tab"); err != nil {
		t.Fatal(err)
	}
	s.must(chooseType(s, "Pothole"), "type")
	s.must(s.page.GetByLabel("Medium").Check(), "severity")
	s.see("send-to", "This will be sent to: Lakeside Council (potholes)")
	if err := s.page.GetByLabel("Describe it").Fill("Pothole by the lake path"); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByTestId("submit-report").Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("description")).ToHaveText("Pothole by the lake path"); err != nil {
		t.Fatal("not on the report page: ", err)
	}
	// Sent in the background: reload until the page says who has it (a generous bound: a loaded
	// machine's workers may take a while; a quick one stops at once).
	sent := s.page.GetByTestId("delivery-sent")
	for i := 0; i < 240; i++ {
		if n, _ := sent.Count(); n > 0 {
			break
		}
		s.page.WaitForTimeout(250)
		if _, err := s.page.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	s.see("delivery-sent", "Lakeside Council has it since")
	s.see("timeline", "Sent to Lakeside Council by email")
	s.noProblems()
}

func TestBodiesPagesAccessibility(t *testing.T) {
	_, email := newUser(t, store.RoleAdmin)
	checkAccessibilityAfter(t, "/admin/bodies", func(s *session) { s.signIn(email, pw); s.see("nav-user", "Tester") })
}
