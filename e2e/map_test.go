package e2e

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/app"
	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store"
)

// seedAt stores n open reports around a point (a grid about 110 m apart).
func seedAt(t *testing.T, n int, lat, lng float64, typ string) []string {
	t.Helper()
	now := time.Now().UTC()
	rs := make([]*store.Report, n)
	ids := make([]string, n)
	for i := range rs {
		rs[i] = &store.Report{
			ID: store.NewReportID(), Type: typ, Severity: "medium", Description: fmt.Sprintf("Seeded hazard %d", i),
			Lat: lat + float64(i%5)*0.001, Lng: lng + float64(i/5)*0.001, Status: hazard.Open,
			ReporterID: "seeder0000000000", Photos: []string{}, CreatedAt: now, UpdatedAt: now,
		}
		ids[i] = rs[i].ID
	}
	if err := theApp.Store.SeedReports(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func markerCount(t *testing.T, s *session) int {
	v, err := s.page.Locator("#map").GetAttribute("data-markers")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(v)
	return n
}

// The map shows markers for reports in view, follows panning in the URL and the list, and gets
// a report made through another app instance live, without a reload.
func TestMapMarkersPanAndLive(t *testing.T) {
	seedAt(t, 6, 10.0, 10.0, "pothole") // an area no other test uses
	s := open(t)
	s.goto_("/?lat=10.002&lng=10.0005&z=16")
	if err := expect.Locator(s.page.Locator(".hazard-marker")).ToHaveCount(6); err != nil {
		t.Fatal("markers: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("in-view-item")).ToHaveCount(6); err != nil {
		t.Fatal("list beside the map: ", err)
	}
	// A marker's popup tells what it is and links to it.
	if err := s.page.Locator(".hazard-marker").First().Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator(".map-popup")).ToContainText("Open the report"); err != nil {
		t.Fatal(err)
	}

	// Pan with the keyboard: the URL follows the view.
	if err := s.page.Locator("#map").Focus(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ { // Leaflet pans with the arrow keys
		if err := s.page.Keyboard().Press("ArrowRight"); err != nil {
			t.Fatal(err)
		}
	}
	if err := expect.Page(s.page).ToHaveURL(regexp.MustCompile(`lng=10\.00[1-9]`)); err != nil {
		t.Fatal("the URL did not follow the pan: ", err)
	}

	// Back to the area; then another instance files a report there.
	s.goto_("/?lat=10.002&lng=10.0005&z=16")
	if err := expect.Locator(s.page.Locator(".hazard-marker")).ToHaveCount(6); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator(`#map[data-live="true"]`)).ToHaveCount(1); err != nil {
		t.Fatal("no live connection: ", err)
	}
	other := secondInstance(t)
	now := time.Now().UTC()
	r := &store.Report{ID: store.NewReportID(), Type: "flooding", Severity: "high", Description: "Live one",
		Lat: 10.006, Lng: 10.0005, Status: hazard.Pending, ReporterID: "someone000000000", Photos: []string{},
		CreatedAt: now, UpdatedAt: now}
	if _, _, err := other.Store.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator(".hazard-marker")).ToHaveCount(7); err != nil {
		t.Fatal("the new report did not appear live: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("in-view-item")).ToHaveCount(7); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

// Zoomed out over many reports, the map shows clusters with counts.
func TestMapClusters(t *testing.T) {
	seedAt(t, 300, -20.0, -40.0, "crack")
	seedAt(t, 300, -20.5, -40.5, "crack")
	s := open(t)
	s.goto_("/?lat=-20.25&lng=-40.25&z=8")
	if err := expect.Locator(s.page.Locator(".cluster").First()).ToBeVisible(); err != nil {
		t.Fatal("no clusters: ", err)
	}
	if err := expect.Locator(s.page.GetByTestId("in-view-count")).ToContainText("of 600 hazards"); err != nil {
		t.Fatal(err)
	}
	// The map fits the window whatever the list beside it holds, so the clusters are on screen.
	inView, err := s.page.Evaluate(`() => { const h = window.innerHeight, w = window.innerWidth;
		return [...document.querySelectorAll(".cluster")].filter(e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= h && r.left >= 0 && r.right <= w; }).length }`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := inView.(int); n == 0 {
		t.Fatal("no cluster is inside the window: the map is taller than the screen")
	}
	// The heat-map switch is on the map itself, visible at a glance.
	if err := s.page.GetByLabel("Heat map").Check(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator("canvas.leaflet-heatmap-layer")).ToHaveCount(1); err != nil {
		t.Fatal("no heat map: ", err)
	}
	s.noProblems()
}

// Without JavaScript the list beside the map and its filters still work.
func TestMapListWithoutJavaScript(t *testing.T) {
	seedAt(t, 3, -30.0, 150.0, "tree")
	seedAt(t, 2, -30.0, 150.0, "ice")
	s := open(t, playwright.BrowserNewContextOptions{JavaScriptEnabled: playwright.Bool(false)})
	s.goto_("/?lat=-30.002&lng=150.0005&z=16")
	if err := expect.Locator(s.page.GetByTestId("in-view-item")).ToHaveCount(5); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByText("Filters").Click(); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByLabel("Ice or snow").Check(); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Apply"}).Click(); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByTestId("in-view-item")).ToHaveCount(2); err != nil {
		t.Fatal(err)
	}
}

func secondInstance(t *testing.T) *app.App {
	t.Helper()
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"REDIS_URL": redisURL, "DATA_DIR": t.TempDir(), "MAIL_DIR": t.TempDir()}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown() })
	return a
}
