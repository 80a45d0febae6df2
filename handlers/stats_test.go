package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

func TestStatsPage(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	now := time.Now().UTC()
	for i, typ := range []string{"pothole", "pothole", "ice"} {
		r := &store.Report{ID: store.NewReportID(), Type: typ, Severity: "low", Lat: 32.8, Lng: 35.0 + float64(i)*0.01,
			Status: hazard.Pending, ReporterID: "u" + typ, Photos: []string{}, CreatedAt: now, UpdatedAt: now}
		if _, _, err := e.store.CreateReport(t.Context(), r, store.Event{Kind: lifecycle.Created, Actor: r.ReporterID}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := e.life.Transition(t.Context(), testMod, r.ID, 0, hazard.Resolve, "", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.drain(t)
	resp, body := mod.get("/admin/stats")
	d := doc(t, body)
	if resp.StatusCode != 200 || d.Find(`[data-testid="open-now"]`).Text() != "2" || d.Find(`[data-testid="stats-table"] tbody tr`).Length() != 30 {
		t.Fatalf("stats: %d open=%q rows=%d", resp.StatusCode, d.Find(`[data-testid="open-now"]`).Text(), d.Find(`[data-testid="stats-table"] tbody tr`).Length())
	}
	last := d.Find(`[data-testid="stats-table"] tbody tr`).Last().Text()
	if !strings.Contains(last, now.Format("2006-01-02")) || !strings.Contains(body, "near Haifa") {
		t.Fatalf("today's row %q / busiest areas missing", last)
	}
	if v, _ := d.Find("#stats-chart").Attr("data-chart"); !strings.Contains(v, `"created":[`) {
		t.Fatalf("chart data %q", v)
	}
}

func TestSystemPage(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	e.client(t).get("/api/geocode?q=haifa")
	resp, body := admin.get("/admin/system")
	d := doc(t, body)
	if resp.StatusCode != 200 || !strings.Contains(d.Find(`[data-testid="redis-info"]`).Text(), "maxmemory_policy") ||
		!strings.Contains(d.Find(`[data-testid="cache-ratio"]`).Text(), "1 misses") {
		t.Fatalf("system: %d %q", resp.StatusCode, d.Find(`[data-testid="cache-ratio"]`).Text())
	}
	// The throwaway test server runs without persistence, which is called out; eviction is not.
	if w := d.Find(`[data-testid="redis-warning"]`).Text(); !strings.Contains(w, "append-only file is off") || strings.Contains(w, "evict") {
		t.Fatalf("warnings: %q", w)
	}
	// An evicting policy is called out.
	if err := e.redis.Client(t).ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	_, body = admin.get("/admin/system")
	if w := doc(t, body).Find(`[data-testid="redis-warning"]`).Text(); !strings.Contains(w, "allkeys-lru") {
		t.Fatalf("no eviction warning: %q", w)
	}
	if resp, _ := admin.get("/admin/system"); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
}
