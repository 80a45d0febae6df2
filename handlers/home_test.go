package handlers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"hazardwatch/hazard"
)

// The map's words come from package hazard, so popups and markers say "Unverified" like every
// other screen; the legend explains every severity and public status; the list has a skip link.
func TestHomeMapWordsComeFromHazard(t *testing.T) {
	e := newEnv(t)
	_, body := e.get(t, "/")
	d := doc(t, body)
	var words struct {
		Types      map[string]struct{ Label, Icon string }
		Severities map[string]string
		Statuses   map[string]string
	}
	if err := json.Unmarshal([]byte(d.Find(`#map`).AttrOr("data-labels", "")), &words); err != nil {
		t.Fatalf("data-labels: %v", err)
	}
	for _, ty := range hazard.Types {
		if w := words.Types[ty.Code]; w.Label != ty.Label(context.Background()) || w.Icon != ty.Icon {
			t.Errorf("type %s: %+v", ty.Code, w)
		}
	}
	if words.Statuses["pending"] != "Unverified" || words.Statuses["in_progress"] != "In progress" {
		t.Errorf("statuses: %v", words.Statuses)
	}
	legend := d.Find(`[data-testid="map-legend"]`).Text()
	for _, s := range hazard.Severities {
		if w := s.Words(context.Background()); words.Severities[s.Code] != w || !strings.Contains(legend, w) {
			t.Errorf("severity %s: %q, legend %q", s.Code, words.Severities[s.Code], legend)
		}
	}
	for _, s := range hazard.Statuses {
		if s.Public() && !strings.Contains(legend, s.Label(context.Background())) {
			t.Errorf("the legend does not explain %q", s.Label(context.Background()))
		}
	}
	if strings.Contains(legend, "pending") {
		t.Error("the legend says pending")
	}
	if d.Find(`#heat-toggle`).Length() != 1 {
		t.Error("no heat-map switch")
	}
	skip := d.Find(`a.skip-link[href="#in-view-heading"]`)
	if skip.Text() != "Skip to the list of hazards" || d.Find(`#in-view-heading[tabindex="-1"]`).Length() != 1 {
		t.Errorf("skip link to the list: %q", skip.Text())
	}
	if _, body := e.get(t, "/reports"); strings.Contains(body, "Skip to the list of hazards") {
		t.Error("the skip link to the map's list shows on another page")
	}
}
