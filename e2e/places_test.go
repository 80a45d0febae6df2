package e2e

// Place search knows where the map is (issue 12): nearby places first, named as people there
// name them, and a way on when a street cannot be found.

import (
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/store"
)

// typePlace types into the address box and waits for the first suggestion.
func typePlace(t *testing.T, s *session, q, first string) playwright.Locator {
	t.Helper()
	box := s.page.GetByRole("combobox", playwright.PageGetByRoleOptions{Name: "Find a place"})
	if err := box.Fill(""); err != nil {
		t.Fatal(err)
	}
	if err := box.PressSequentially(q, playwright.LocatorPressSequentiallyOptions{Delay: playwright.Float(30)}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByRole("option").First()).ToHaveText(first); err != nil {
		t.Fatalf("first suggestion for %q: %v", q, err)
	}
	return box
}

// From a London view "Camden" is Camden Town; once the map has moved to Philadelphia (through the
// address box itself), it is Camden, New Jersey. The place's popup keeps its name and its link apart.
func TestPlaceSearchFollowsTheMap(t *testing.T) {
	s := open(t)
	s.goto_("/?lat=51.5074&lng=-0.1278&z=13")
	box := typePlace(t, s, "camden", "Camden Town, London")
	for _, key := range []string{"ArrowDown", "Enter"} {
		if err := box.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	popup := s.page.Locator(".leaflet-popup-content")
	if err := expect.Locator(popup.Locator("strong")).ToHaveText("Camden Town, London"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(popup.GetByRole("link")).ToHaveText("Report a hazard here"); err != nil {
		t.Fatal(err)
	}
	// On separate lines, not "Camden Town, LondonReport a hazard here".
	below, err := popup.Evaluate(`p => p.querySelector("strong").getBoundingClientRect().bottom <= p.querySelector("a").getBoundingClientRect().top`, nil)
	if err != nil || below != true {
		t.Fatalf("the place's name and its link share a line: %v %v", below, err)
	}

	box = typePlace(t, s, "philadelphia", "Philadelphia, PA, United States")
	for _, key := range []string{"ArrowDown", "Enter"} {
		if err := box.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	if err := expect.Locator(box).ToHaveAttribute("data-near", regexp.MustCompile(`^39\.95\d*,-75\.16`)); err != nil {
		t.Fatal("the address box did not follow the map: ", err)
	}
	typePlace(t, s, "camden", "Camden, NJ")
	s.noProblems()
}

// A street is not in the offline gazetteer: the list says so and offers the map, which takes
// the focus.
func TestPlaceSearchOffersTheMapForAStreet(t *testing.T) {
	s := open(t)
	s.goto_("/?lat=51.5074&lng=-0.1278&z=13")
	box := s.page.GetByRole("combobox", playwright.PageGetByRoleOptions{Name: "Find a place"})
	if err := box.PressSequentially("Baker Street", playwright.LocatorPressSequentiallyOptions{Delay: playwright.Float(30)}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("no-places")).ToContainText("Street names and postcodes cannot be searched here"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ArrowDown", "Enter"} {
		if err := box.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	if err := expect.Locator(s.page.Locator("#map")).ToBeFocused(); err != nil {
		t.Fatal("choosing the map did not focus it: ", err)
	}
	s.noProblems()
}

// The report form's address box ranks from its own map, and offers that map for a street.
func TestReportFormPlaceSearchNearItsMap(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := open(t)
	s.signIn(email, pw)
	s.goto_("/reports/new") // the form's map starts at the default view, London
	if err := expect.Locator(s.page.Locator(`#report-map[data-ready="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	typePlace(t, s, "camden", "Camden Town, London")
	box := s.page.GetByRole("combobox", playwright.PageGetByRoleOptions{Name: "Find a place"})
	if err := box.Fill(""); err != nil {
		t.Fatal(err)
	}
	if err := box.PressSequentially("Baker Street", playwright.LocatorPressSequentiallyOptions{Delay: playwright.Float(30)}); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByRole("option", playwright.PageGetByRoleOptions{Name: "Use the map instead"})).ToBeVisible(); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ArrowDown", "Enter"} {
		if err := box.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	if err := expect.Locator(s.page.Locator("#report-map")).ToBeFocused(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator("#location-status")).ToContainText("Tap the map where the hazard is"); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}
