package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// The headline and the table come from the same counters, seeded reports included (the page
// once said 425 resolved above a table of zeros); the median time to a first action is shown,
// and the actions per moderator to admins only.
func TestStatsPage(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	now := time.Now().UTC()
	// Seeded: three resolved reports, made five days ago and resolved a day later.
	var seeded []*store.Report
	for i := range 3 {
		made := now.Add(-5 * 24 * time.Hour)
		seeded = append(seeded, &store.Report{ID: store.NewReportID(), Type: "crack", Severity: "low", Lat: 32.7, Lng: 35.0 + float64(i)*0.01,
			Status: hazard.Resolved, ReporterID: "seeder", Photos: []string{}, CreatedAt: made, UpdatedAt: made.Add(24 * time.Hour),
			History: []store.Change{{At: made, By: "seeder", To: hazard.Pending},
				{At: made.Add(24 * time.Hour), By: testMod.ID, Action: hazard.Resolve, From: hazard.Pending, To: hazard.Resolved, Staff: true}}})
	}
	if err := e.life.Seed(t.Context(), seeded); err != nil {
		t.Fatal(err)
	}
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
	rows := d.Find(`[data-testid="stats-table"] tbody tr`)
	if resp.StatusCode != 200 || d.Find(`[data-testid="open-now"]`).Text() != "2" || rows.Length() != 30 {
		t.Fatalf("stats: %d open=%q rows=%d", resp.StatusCode, d.Find(`[data-testid="open-now"]`).Text(), rows.Length())
	}
	sum := func(col string) int {
		n := 0
		d.Find(`[data-testid="` + col + `"]`).Each(func(_ int, s *goquery.Selection) { v, _ := strconv.Atoi(s.Text()); n += v })
		return n
	}
	reported, resolved := d.Find(`[data-testid="reported-total"]`).Text(), d.Find(`[data-testid="resolved-total"]`).Text()
	if reported != "6" || resolved != "4" || strconv.Itoa(sum("day-reported")) != reported || strconv.Itoa(sum("day-resolved")) != resolved {
		t.Fatalf("headline %s reported, %s resolved; the table sums %d, %d", reported, resolved, sum("day-reported"), sum("day-resolved"))
	}
	if d.Find(`[data-testid="median-first"]`).Text() == "—" {
		t.Fatal("no median time to a first action")
	}
	last := rows.Last().Text()
	if !strings.Contains(last, now.Format("2006-01-02")) || !strings.Contains(body, "near Haifa") {
		t.Fatalf("today's row %q / busiest areas missing", last)
	}
	if v, _ := d.Find("#stats-chart").Attr("data-chart"); !strings.Contains(v, `"created":[`) || !strings.Contains(v, `"resolved":[`) {
		t.Fatalf("chart data %q", v)
	}
	if d.Find(`[data-testid="staff-table"]`).Length() != 0 {
		t.Fatal("moderators see the actions per moderator")
	}
	_, body = admin.get("/admin/stats")
	if staff := doc(t, body).Find(`[data-testid="staff-table"]`).Text(); !strings.Contains(staff, testMod.ID) || !strings.Contains(staff, "4") {
		t.Fatalf("admin's actions per moderator: %q", staff)
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
