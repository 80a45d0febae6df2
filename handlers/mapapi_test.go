package handlers

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

type fcDoc struct {
	Type     string
	Features []struct {
		ID         string
		Geometry   struct{ Coordinates []float64 }
		Properties map[string]any
	}
}

func seed(t *testing.T, e *env, n int, lat, lng float64, typ string, status hazard.Status, created time.Time) []string {
	t.Helper()
	rs := make([]*store.Report, n)
	ids := make([]string, n)
	for i := range rs {
		rs[i] = &store.Report{
			ID: store.NewReportID(), Type: typ, Severity: "low", Lat: lat + float64(i%40)*0.0005, Lng: lng + float64(i/40)*0.0005,
			Status: status, ReporterID: "seeder0000000000", Photos: []string{}, CreatedAt: created, UpdatedAt: created,
		}
		ids[i] = rs[i].ID
	}
	if err := e.store.SeedReports(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func (c *client) collection(q string) (int, fcDoc, string) {
	c.t.Helper()
	resp, body := c.get("/api/reports?" + q)
	var fc fcDoc
	if resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &fc); err != nil {
			c.t.Fatalf("%s: %v", q, err)
		}
	}
	return resp.StatusCode, fc, body
}

func TestViewportAPI(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	now := time.Now().UTC()
	seed(t, e, 5, 32.80, 35.00, "pothole", hazard.Open, now)
	seed(t, e, 3, 32.80, 35.00, "flooding", hazard.Pending, now.Add(-10*24*time.Hour))
	seed(t, e, 2, 32.80, 35.00, "pothole", hazard.Resolved, now)
	seed(t, e, 4, 32.80, 35.00, "pothole", hazard.Rejected, now)
	seed(t, e, 7, 40.00, 20.00, "pothole", hazard.Open, now) // far away
	box := "bbox=34.9,32.7,35.1,32.9"

	code, fc, _ := c.collection(box)
	if code != 200 || fc.Type != "FeatureCollection" || len(fc.Features) != 8 {
		t.Fatalf("default view: %d, %d features (want 8: open and pending, not resolved or rejected)", code, len(fc.Features))
	}
	f := fc.Features[0]
	if len(f.Geometry.Coordinates) != 2 || f.Geometry.Coordinates[0] < 35 || f.ID == "" || f.Properties["id"] != f.ID ||
		f.Properties["type"] == nil || f.Properties["severity"] == nil || f.Properties["status"] == nil {
		t.Fatalf("feature: %+v", f)
	}
	for q, want := range map[string]int{
		box + "&type=flooding":         3,
		box + "&type=pothole,flooding": 8,
		box + "&status=resolved":       2,
		box + "&status=open,resolved":  7,
		box + "&since=24h":             5,
		box + "&since=30d":             8,
		box + "&since=" + now.Add(-48*time.Hour).Format("2006-01-02"): 5,
		box + "&status=rejected": 0, // not for the public
		"bbox=-180,-90,180,90":   15,
	} {
		if code, fc, body := c.collection(q); code != 200 || len(fc.Features) != want {
			t.Errorf("%s: %d, %d features, want %d (%s)", q, code, len(fc.Features), want, body)
		}
	}
	// A moderator sees rejected reports too.
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	if _, fc, _ := mod.collection(box + "&status=rejected"); len(fc.Features) != 4 {
		t.Fatalf("moderator, rejected: %d", len(fc.Features))
	}
}

func TestViewportAPIBadInput(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	for _, q := range []string{
		"", "bbox=1,2,3", "bbox=1,2,3,4,5", "bbox=a,2,3,4", "bbox=NaN,1,2,3", "bbox=10,10,5,20", "bbox=0,10,5,5",
		"bbox=-181,0,0,1", "bbox=0,-91,1,0", "bbox=0,0,1,1&type=volcano", "bbox=0,0,1,1&status=lost",
		"bbox=0,0,1,1&since=yesterday", "bbox=0,0,1,1&since=-5h",
	} {
		resp, body := c.get("/api/reports?" + q)
		var e struct{ Error string }
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%q: %d %s", q, resp.StatusCode, body)
		}
	}
}

// Zoomed out over many reports, the answer is clusters: small, with counts that add up.
func TestViewportClusters(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	seed(t, e, 1500, 32.0, 34.0, "crack", hazard.Open, time.Now())
	seed(t, e, 400, 33.0, 35.5, "crack", hazard.Open, time.Now())
	_, fc, body := c.collection("bbox=33,31,37,34")
	total := 0
	for _, f := range fc.Features {
		if f.Properties["cluster"] != true {
			t.Fatalf("a point in a clustered answer: %+v", f)
		}
		total += int(f.Properties["count"].(float64))
	}
	if total != 1900 || len(fc.Features) > 24*24 || len(body) > 100_000 {
		t.Fatalf("clusters: %d features counting %d, %d bytes", len(fc.Features), total, len(body))
	}
	// Zoomed in on the smaller group: points again.
	if _, fc, _ := c.collection("bbox=35.4,32.9,35.6,33.1"); len(fc.Features) != 400 || fc.Features[0].Properties["cluster"] != nil {
		t.Fatalf("zoomed in: %d features", len(fc.Features))
	}
}

// appendDegrees must write what strconv writes for the rounded value (clients parse it as a
// number; the old output is the reference).
func TestAppendDegreesMatchesStrconv(t *testing.T) {
	vals := []float64{0, -0.0, 1, -1, 0.00001, -0.00001, 0.000004, -0.000004, 0.000005, 34.985, 32.78512, -122.41941,
		179.99999, -180, 90, -90, 12.3, 0.1, 0.10001, 51.500001}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		vals = append(vals, r.Float64()*360-180)
	}
	for _, f := range vals {
		want := strconv.AppendFloat(nil, math.Round(f*1e5)/1e5, 'f', -1, 64)
		if string(want) == "-0" {
			want = []byte("0") // a sign on zero was never meant
		}
		if got := appendDegrees(nil, f); string(got) != string(want) {
			t.Fatalf("appendDegrees(%v) = %s, want %s", f, got, want)
		}
	}
}
