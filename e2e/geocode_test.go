package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// Type in the address box, pick a suggestion with the keyboard, and the map moves there.
func TestAddressSearchWithKeyboard(t *testing.T) {
	s := open(t)
	s.goto_("/")
	box := s.page.GetByRole("combobox", playwright.PageGetByRoleOptions{Name: "Find a place"})
	if err := box.Click(); err != nil {
		t.Fatal(err)
	}
	if err := box.PressSequentially("haif", playwright.LocatorPressSequentiallyOptions{Delay: playwright.Float(40)}); err != nil {
		t.Fatal(err)
	}
	first := s.page.GetByRole("option").First()
	if err := expect.Locator(first).ToContainText("Haifa, Israel"); err != nil {
		t.Fatal("no suggestion: ", err)
	}
	if err := expect.Locator(box).ToHaveAttribute("aria-expanded", "true"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ArrowDown"} {
		if err := box.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	if err := expect.Locator(first).ToHaveAttribute("aria-selected", "true"); err != nil {
		t.Fatal("arrow key did not select the first option: ", err)
	}
	if err := box.Press("Enter"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(box).ToHaveValue("Haifa, Israel"); err != nil {
		t.Fatal(err)
	}
	// The map recentred on Haifa and shows a pin with its name.
	if err := expect.Locator(s.page.Locator(".leaflet-popup-content")).ToContainText("Haifa, Israel"); err != nil {
		t.Fatal("no pin popup: ", err)
	}
	center, err := s.page.Evaluate(`() => { const m = document.querySelector(".leaflet-marker-icon"); return m ? m.getAttribute("title") : "" }`)
	if err != nil || center != "Haifa, Israel" {
		t.Fatalf("marker title %v %v", center, err)
	}
	// The URL follows the map, so the view can be shared; picking was no page load.
	if err := expect.Page(s.page).ToHaveURL(regexp.MustCompile(`/\?.*lat=32\.8`)); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

// A click on the map drops a pin that names the place.
func TestDroppedPinShowsPlace(t *testing.T) {
	s := open(t)
	s.goto_("/?lat=32.8191&lng=34.9983&z=13")
	if err := expect.Locator(s.page.Locator(`#map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	if err := s.page.Locator("#map").Click(playwright.LocatorClickOptions{Position: &playwright.Position{X: 200, Y: 200}}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator(".leaflet-popup-content")).ToContainText("near Haifa, Israel"); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

// Without JavaScript the box is a form: results are links that centre the map.
func TestAddressSearchWithoutJavaScript(t *testing.T) {
	s := open(t, playwright.BrowserNewContextOptions{JavaScriptEnabled: playwright.Bool(false)})
	s.goto_("/")
	if err := s.page.GetByLabel("Find a place").Fill("zurich"); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Search"}).Click(); err != nil {
		t.Fatal(err)
	}
	link := s.page.GetByTestId("place-results").GetByRole("link").First()
	if err := expect.Locator(link).ToHaveText("Zürich, Switzerland"); err != nil {
		t.Fatal(err)
	}
	if err := link.Click(); err != nil {
		t.Fatal(err)
	}
	lat, err := s.page.GetByTestId("map").GetAttribute("data-lat")
	if err != nil || !strings.HasPrefix(lat, "47.3") {
		t.Fatalf("map lat %q %v", lat, err)
	}
}

func TestMapWithSuggestionsAccessibility(t *testing.T) {
	checkAccessibilityAfter(t, "/?q=haifa", nil)
}
