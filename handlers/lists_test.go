package handlers

import (
	"net/http"
	"strings"
	"testing"

	"hazardwatch/hazard"
	"hazardwatch/store"

	"github.com/PuerkitoBio/goquery"
)

// /reports shows exactly what the viewer may see, by lifecycle's one rule: the public never sees
// a rejected report even when asking for that status; its reporter does, in "my reports".
// bbox narrows to an area (CONTRACT.md) and survives paging; searches are limited per address.
func TestReportListFiltersAndVisibility(t *testing.T) {
	e := newEnv(t)
	rita, _ := e.signedIn(t, "Rita", store.RoleCitizen)
	haifa := reportIDFrom(t, func() *http.Response { r, _ := rita.postReport(reportFields("pothole", 32.8191, 34.9983)); return r }())
	telAviv := reportIDFrom(t, func() *http.Response { r, _ := rita.postReport(reportFields("crack", 32.0853, 34.7818)); return r }())
	if _, err := e.life.Transition(t.Context(), testMod, telAviv, 0, hazard.Reject, "Not a hazard", ""); err != nil {
		t.Fatal(err)
	}
	anon := e.client(t)
	ids := func(c *client, path string) []string {
		t.Helper()
		resp, body := c.get(path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		var out []string
		doc(t, body).Find(`[data-testid="report-item"] a`).Each(func(_ int, s *goquery.Selection) {
			href, _ := s.Attr("href")
			out = append(out, strings.TrimPrefix(href, "/reports/"))
		})
		return out
	}
	for path, want := range map[string][]string{
		"/reports":                                          {haifa},
		"/reports?status=rejected":                          nil,
		"/reports?q=pothole+lane":                           {haifa}, // description "Deep pothole in the right lane"
		"/reports?q=potholes":                               nil,     // whole words
		"/reports?bbox=34.9,32.7,35.1,32.9":                 {haifa},
		"/reports?bbox=34.7,32.0,34.8,32.1":                 nil,
		"/reports?bbox=34.7,32.0,34.8,32.1&status=rejected": nil,
	} {
		if got := ids(anon, path); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("anonymous %s: %v, want %v", path, got, want)
		}
	}
	if got := ids(rita, "/reports?mine=1"); len(got) != 2 || got[0] != telAviv {
		t.Errorf("my reports: %v", got)
	}
	if got := ids(rita, "/reports?mine=1&bbox=34.7,32.0,34.8,32.1"); len(got) != 1 || got[0] != telAviv {
		t.Errorf("my reports in an area: %v", got)
	}
	if resp, _ := anon.get("/reports?bbox=1,2,3"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a malformed bbox: %d", resp.StatusCode)
	}
	_, body := anon.get("/reports?bbox=34.9,32.7,35.1,32.9&page=1")
	if !strings.Contains(body, `name="bbox" value="34.9,32.7,35.1,32.9"`) {
		t.Error("the area is not kept in the filter form")
	}
}

// Searches are bounded per client address; plain lists are not searches.
func TestSearchesAreLimitedPerAddress(t *testing.T) {
	e := newEnv(t)
	anon := e.client(t)
	limited := 0
	for i := 0; i < 125; i++ {
		if resp, _ := anon.get("/reports?q=pothole"); resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 125 searches refused, want 5", limited)
	}
	if resp, _ := anon.get("/reports"); resp.StatusCode != 200 {
		t.Fatalf("a plain list after the search limit: %d", resp.StatusCode)
	}
}
