package handlers

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

func TestExports(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	ids := seed(t, e, 450, 32.0, 35.0, "pothole", hazard.Open, time.Now().UTC())
	// A description that a spreadsheet would run as a formula.
	e.setDescription(t, ids[0], `=HYPERLINK("http://evil","click")`)
	resp, body := mod.get("/moderation/export.csv?status=open")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", resp.StatusCode, resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 451 || rows[0][0] != "id" {
		t.Fatalf("csv rows: %d %v", len(rows), err)
	}
	for _, row := range rows[1:] {
		if strings.HasPrefix(row[4], "=") {
			t.Fatalf("formula not neutralised: %q", row[4])
		}
		if row[0] == ids[0] && row[4] != `'=HYPERLINK("http://evil","click")` {
			t.Fatalf("escaped cell: %q", row[4])
		}
	}
	resp, body = mod.get("/moderation/export.geojson?status=open&type=pothole")
	var fc fcDoc
	if err := json.Unmarshal([]byte(body), &fc); err != nil || resp.StatusCode != 200 || fc.Type != "FeatureCollection" || len(fc.Features) != 450 {
		t.Fatalf("geojson: %d %d %v", resp.StatusCode, len(fc.Features), err)
	}
	if resp, _ := mod.get("/moderation/export.csv?status=nope"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad filter: %d", resp.StatusCode)
	}
	citizen, _ := e.signedIn(t, "Cit", store.RoleCitizen)
	if resp, _ := citizen.get("/moderation/export.csv"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("citizen export: %d", resp.StatusCode)
	}
}
