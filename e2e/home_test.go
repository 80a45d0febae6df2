package e2e

import (
	"testing"

	"github.com/playwright-community/playwright-go"
)

func TestHomeShowsTheMap(t *testing.T) {
	s := open(t)
	s.goto_("/")
	page := s.page

	if err := expect.Locator(page.GetByTestId("map")).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	// Leaflet ran (map.js marks the container) and drew tiles from the configured tile server,
	// which also proves the CSP lets the tiles in.
	if err := expect.Locator(page.Locator(`#map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal("Leaflet did not initialise: ", err)
	}
	if err := expect.Locator(page.Locator("img.leaflet-tile-loaded").First()).ToBeAttached(); err != nil {
		t.Fatal("no map tile loaded: ", err)
	}
	if err := expect.Locator(page.GetByTestId("empty-state")).ToContainText("No hazards reported here yet"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Page(page).ToHaveTitle("Hazard map · Hazard Watch"); err != nil {
		t.Fatal(err)
	}
	token, err := page.Locator(`meta[name="csrf-token"]`).Count()
	if err != nil || token != 1 {
		t.Fatalf("csrf meta: %d %v", token, err)
	}
	s.noProblems()
}

func TestHomeOnAPhone(t *testing.T) {
	s := open(t, playwright.BrowserNewContextOptions{
		Viewport: &playwright.Size{Width: 375, Height: 740}, IsMobile: playwright.Bool(true), HasTouch: playwright.Bool(true),
	})
	s.goto_("/")
	if err := expect.Locator(s.page.GetByTestId("map")).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Hazard Watch"})).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	// Nothing wider than the screen: no sideways scrolling on a phone.
	overflow, err := s.page.Evaluate(`() => document.documentElement.scrollWidth - window.innerWidth`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := overflow.(int); n > 0 {
		t.Errorf("page is %dpx wider than a 375px screen", n)
	}
	s.noProblems()
}

func TestHomeKeyboardSkipLink(t *testing.T) {
	s := open(t)
	s.goto_("/")
	if err := s.page.Keyboard().Press("Tab"); err != nil {
		t.Fatal(err)
	}
	skip := s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Skip to main content"})
	if err := expect.Locator(skip).ToBeFocused(); err != nil {
		t.Fatal("first Tab should reach the skip link: ", err)
	}
	if err := s.page.Keyboard().Press("Enter"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator("main#main")).ToBeFocused(); err != nil {
		t.Fatal("skip link should move focus to main: ", err)
	}
}

func TestHomeAccessibility(t *testing.T) {
	checkAccessibility(t, "/")
	checkAccessibility(t, "/", playwright.BrowserNewContextOptions{Viewport: &playwright.Size{Width: 375, Height: 740}})
}

func TestNotFoundPage(t *testing.T) {
	s := open(t)
	resp, err := s.page.Goto("/no/such/place")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status() != 404 {
		t.Fatalf("status %d", resp.Status())
	}
	if err := expect.Locator(s.page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "We could not find that page."})).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	checkAccessibility(t, "/no/such/place")
}
