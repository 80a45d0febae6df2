package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
	"github.com/rwcarlsen/goexif/exif"

	"hazardwatch/store"
)

// File a report with a photo on a phone-sized screen, then find it on its page and in the list.
func TestFileReportWithPhoto(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := open(t, playwright.BrowserNewContextOptions{Viewport: &playwright.Size{Width: 390, Height: 844}, HasTouch: playwright.Bool(true)})
	s.signIn(email, pw)
	s.goto_("/reports/new")
	if err := expect.Locator(s.page.Locator(`#report-map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	// Tap the map to drop the pin: the coordinates fill in.
	if err := s.page.Locator("#report-map").Click(playwright.LocatorClickOptions{Position: &playwright.Position{X: 150, Y: 120}}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByLabel("Latitude")).Not().ToHaveValue(""); err != nil {
		t.Fatal("the pin did not fill the latitude: ", err)
	}
	// The coordinate boxes are folded away below the map.
	if err := expect.Locator(s.page.GetByLabel("Latitude")).ToBeHidden(); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByText("Type the coordinates instead").Click(); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByLabel("Latitude").Fill("32.819100"); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByLabel("Longitude").Fill("34.998300"); err != nil {
		t.Fatal(err)
	}
	if err := chooseType(s, "Pothole"); err != nil {
		t.Fatal(err)
	}
	// High severity shows the emergency notice.
	notice := s.page.GetByTestId("emergency")
	if err := expect.Locator(notice).ToBeHidden(); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByLabel("High").Check(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(notice).ToBeVisible(); err != nil {
		t.Fatal("no emergency notice for high severity: ", err)
	}
	if err := s.page.GetByLabel("Describe it").Fill("Deep pothole in the right lane, about 40 cm wide"); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByLabel("Add photos").SetInputFiles(photoFile); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByTestId("submit-report").Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("status")).ToHaveText("Unverified"); err != nil {
		t.Fatal("not on the report page: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("description")).ToHaveText("Deep pothole in the right lane, about 40 cm wide"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("address")).ToContainText("Haifa"); err != nil {
		t.Fatal(err)
	}
	img := s.page.GetByTestId("photos").Locator("img")
	if err := expect.Locator(img).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	// The stored photo has no EXIF left.
	src, _ := img.GetAttribute("src")
	hash := strings.TrimSuffix(strings.TrimPrefix(src, "/photos/"), "_t.jpg")
	data, err := os.ReadFile(filepath.Join(theApp.PhotoDir(), hash+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exif.Decode(strings.NewReader(string(data))); err == nil || strings.Contains(string(data), "SpyCam") {
		t.Fatal("the stored photo still has EXIF")
	}
	url := strings.TrimPrefix(s.page.URL(), baseURL)

	s.goto_("/reports")
	link := s.page.GetByTestId("report-item").GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Pothole"}).First()
	if err := expect.Locator(link).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	if err := link.Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Page(s.page).ToHaveURL(url); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

// chooseType taps a hazard type's icon button.
func chooseType(s *session, label string) error {
	return s.page.Locator(".type-choice").Filter(playwright.LocatorFilterOptions{HasText: label}).Click()
}

// Mistakes come back beside their fields, with what was typed still there.
func TestReportFormErrors(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := open(t)
	s.signIn(email, pw)
	s.goto_("/reports/new")
	if err := s.page.GetByLabel("Describe it").Fill("Something fell off a lorry"); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByTestId("submit-report").Click(); err != nil {
		t.Fatal(err)
	}
	s.see("error-type", "Choose the type of hazard")
	s.see("error-lat", "Choose where the hazard is")
	if err := expect.Locator(s.page.GetByLabel("Describe it")).ToHaveValue("Something fell off a lorry"); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

func TestReportPagesAccessibility(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	checkAccessibilityAfter(t, "/reports/new", func(s *session) { s.signIn(email, pw); s.see("nav-user", "Tester") })
	checkAccessibility(t, "/reports")
}

// "Use my location" and the address box both place the pin.
func TestReportPlaceByLocationAndAddress(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := open(t, playwright.BrowserNewContextOptions{
		Permissions: []string{"geolocation"},
		Geolocation: &playwright.Geolocation{Latitude: 32.7940, Longitude: 34.9896, Accuracy: playwright.Float(12)},
	})
	s.signIn(email, pw)
	s.goto_("/reports/new")
	if err := expect.Locator(s.page.Locator(`#report-map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByTestId("use-location").Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByLabel("Latitude")).ToHaveValue("32.794000"); err != nil {
		t.Fatal("use my location: ", err)
	}
	if err := expect.Locator(s.page.Locator("#location-status")).ToContainText("within about 12 m"); err != nil {
		t.Fatal(err)
	}
	box := s.page.GetByRole("combobox", playwright.PageGetByRoleOptions{Name: "Find a place"})
	if err := box.PressSequentially("nazareth", playwright.LocatorPressSequentiallyOptions{Delay: playwright.Float(30)}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByRole("option").First()).ToContainText("Nazareth"); err != nil {
		t.Fatal(err)
	}
	if err := box.Press("ArrowDown"); err != nil {
		t.Fatal(err)
	}
	if err := box.Press("Enter"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByLabel("Latitude")).ToHaveValue(regexp.MustCompile(`^32\.7`)); err != nil {
		t.Fatal("address pick: ", err)
	}
	// Enter picked the place; it did not submit the report form.
	if err := expect.Page(s.page).ToHaveURL(regexp.MustCompile(`/reports/new$`)); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}
