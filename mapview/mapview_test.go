package mapview

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

func newMap(t testing.TB) (*Map, *store.Store) {
	t.Helper()
	cfg := config.Redis{}
	if os.Getenv("HW_TEST_REDIS") == "cluster" {
		c := redistest.StartCluster(t, 3)
		cfg.Addrs, cfg.Cluster = c.Addrs(), true
		cfg.Username, cfg.Password = "app", c.ACL.Passwords["app"] // as the app runs
	} else {
		cfg.URL = redistest.Start(t).URL()
	}
	rdb, err := store.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb)
	return New(st), st
}

// city seeds n reports round Haifa: a dense centre, a sparse rim, some on one spot, spread over
// the last 30 days, every status and type.
func city(t testing.TB, st *store.Store, n int, seed uint64) []*store.Report {
	rng := rand.New(rand.NewPCG(seed, 3))
	now := time.Now().UTC()
	var all []*store.Report
	for done := 0; done < n; {
		batch := make([]*store.Report, 0, 500)
		for ; len(batch) < 500 && done < n; done++ {
			km := 15 * math.Sqrt(rng.Float64())
			if rng.IntN(3) == 0 {
				km = rng.Float64() * 2 // the centre
			}
			th := rng.Float64() * 2 * math.Pi
			lat, lng := 32.79+km*math.Cos(th)/111.32, 34.99+km*math.Sin(th)/93.5
			if rng.IntN(50) == 0 {
				lat, lng = 32.8, 35.0 // the same spot, reported again and again
			}
			created := now.Add(-time.Duration(rng.Float64() * float64(30*24*time.Hour)))
			batch = append(batch, &store.Report{
				ID: store.NewReportID(), Type: hazard.Types[rng.IntN(len(hazard.Types))].Code, Severity: hazard.Severities[rng.IntN(3)].Code,
				Lat: lat, Lng: lng, Status: hazard.Statuses[1+rng.IntN(len(hazard.Statuses)-1)], ReporterID: "seed000000000000",
				Photos: []string{}, CreatedAt: created, UpdatedAt: created,
			})
		}
		if err := st.SeedReports(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	return all
}

// truth counts the seeded reports a query matches.
func truth(rs []*store.Report, q Query) int64 {
	var n int64
	for _, r := range rs {
		if q.Box.Contains(r.Lat, r.Lng) && slices.Contains(q.Statuses, r.Status) && (len(q.Types) == 0 || slices.Contains(q.Types, r.Type)) &&
			(q.Since.IsZero() || !r.CreatedAt.Before(q.Since)) {
			n++
		}
	}
	return n
}

// check asserts the contract of an answer: counts add up to the reports in the box, features come
// in a stable order, and with a zoom no two features are closer than ClusterPx pixels.
func check(t *testing.T, q Query, ans Answer, want int64) {
	t.Helper()
	var sum int64
	for _, f := range ans.Features {
		sum += f.Count
		if f.Cluster && f.Count < 2 || !f.Cluster && (f.ID == "" || f.Count != 1 || f.Type == "" || f.Status == "") {
			t.Fatalf("%+v: feature %+v", q, f)
		}
	}
	if sum != want || ans.Total != want {
		t.Fatalf("zoom %d box %+v types %v since %v: counts add up to %d (total %d), the box holds %d", q.Zoom, q.Box, q.Types, q.Since, sum, ans.Total, want)
	}
	if !slices.IsSortedFunc(ans.Features, func(a, b Feature) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Lat, b.Lat), cmp.Compare(a.Lng, b.Lng), cmp.Compare(a.ID, b.ID))
	}) {
		t.Fatalf("zoom %d box %+v: features are not fullest first, then south to north, west to east, then by id", q.Zoom, q.Box)
	}
	if !q.HasZoom {
		return
	}
	for i, a := range ans.Features {
		ax, ay := pixel(a.Lat, a.Lng, q.Zoom)
		for _, b := range ans.Features[i+1:] {
			bx, by := pixel(b.Lat, b.Lng, q.Zoom)
			if d := math.Hypot(ax-bx, ay-by); d < ClusterPx {
				t.Fatalf("zoom %d: features %+v and %+v are %.1f px apart", q.Zoom, a, b, d)
			}
		}
	}
}

// Every zoom level, on boxes aligned to the grid and not, with filters: the counts are exact and
// the 40-pixel rule holds.
func TestFeaturesAreExactAndApart(t *testing.T) {
	m, st := newMap(t)
	rs := city(t, st, 6000, 1)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 8))
	active := hazard.ActiveStatuses
	statusOf := map[string]hazard.Status{}
	for _, r := range rs {
		statusOf[r.ID] = r.Status
	}
	for z := 3; z <= 18; z++ {
		for i := 0; i < 4; i++ {
			// A phone-sized view (390 x 844 px) somewhere over the city at zoom z.
			w, h := 390*360/(256*math.Exp2(float64(z))), 844*360/(256*math.Exp2(float64(z)))*math.Cos(32.8*math.Pi/180)
			clat, clng := 32.79+(rng.Float64()-0.5)*0.2, 34.99+(rng.Float64()-0.5)*0.2
			box := store.BBox{MinLng: clng - w/2, MaxLng: clng + w/2, MinLat: clat - h/2, MaxLat: clat + h/2}
			if i%2 == 1 {
				box = store.Align(Level(z), box) // as the map asks
			}
			q := Query{Box: box, Zoom: z, HasZoom: true, Statuses: active}
			switch i {
			case 2:
				q.Types = []string{"pothole", "ice"}
			case 3:
				q.Statuses = []hazard.Status{hazard.Resolved, hazard.Open}
			}
			ans, err := m.Features(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			check(t, q, ans, truth(rs, q))
			for _, f := range ans.Features {
				// Markers from the summed active counts carry their report's own status.
				if !f.Cluster && f.Status != statusOf[f.ID] {
					t.Fatalf("zoom %d: marker %s says %q, the report is %q", z, f.ID, f.Status, statusOf[f.ID])
				}
			}
		}
	}
	// The whole city on a phone is a readable number of clusters, and small.
	q := Query{Box: store.BBox{MinLng: 34.82, MinLat: 32.65, MaxLng: 35.16, MaxLat: 32.93}, Zoom: 11, HasZoom: true, Statuses: active}
	ans, err := m.Features(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	check(t, q, ans, truth(rs, q))
	if len(ans.Features) > 150 {
		t.Fatalf("%d features for the whole city on a phone", len(ans.Features))
	}
}

// "Reported since": exact with the per-day counts (and the part-day from the time index), and
// with few recent reports from the time index alone.
func TestSinceIsExact(t *testing.T) {
	m, st := newMap(t)
	rs := city(t, st, 5000, 2)
	ctx := context.Background()
	now := time.Now()
	box := store.BBox{MinLng: 34.85, MinLat: 32.68, MaxLng: 35.13, MaxLat: 32.9}
	for _, since := range []time.Time{now.Add(-2 * time.Hour), now.Add(-24 * time.Hour), now.Add(-7 * 24 * time.Hour), now.Add(-29 * 24 * time.Hour),
		now.UTC().Truncate(24 * time.Hour).Add(-3 * 24 * time.Hour)} {
		for _, z := range []int{10, 13} {
			q := Query{Box: box, Zoom: z, HasZoom: true, Statuses: hazard.ActiveStatuses, Since: since}
			ans, err := m.Features(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			check(t, q, ans, truth(rs, q))
		}
	}
	if _, err := m.Features(ctx, Query{Box: box, Zoom: 10, HasZoom: true, Statuses: hazard.ActiveStatuses, Since: now.Add(-60 * 24 * time.Hour)}); err != ErrSinceTooOld {
		t.Fatalf("since 60 days: %v", err)
	}
}

// Without a zoom level the box alone decides: up to MaxPoints every report is a marker.
func TestWithoutZoom(t *testing.T) {
	m, st := newMap(t)
	rs := city(t, st, 3000, 3)
	ctx := context.Background()
	small := store.BBox{MinLng: 34.985, MinLat: 32.785, MaxLng: 34.995, MaxLat: 32.795}
	q := Query{Box: small, Statuses: hazard.ActiveStatuses}
	ans, err := m.Features(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := truth(rs, q)
	if want > MaxPoints || int64(len(ans.Features)) != want {
		t.Fatalf("%d markers for %d reports", len(ans.Features), want)
	}
	check(t, q, ans, want)
	big := Query{Box: store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, Statuses: hazard.ActiveStatuses}
	ans, err = m.Features(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	check(t, big, ans, truth(rs, big))
	if len(ans.Features) > 24*24 {
		t.Fatalf("%d features for a zoomed-out box", len(ans.Features))
	}
}

// The list beside the map: the newest reports in the box, newest first, both for a busy view (the
// time index walk) and a quiet one (sorted points).
func TestNewest(t *testing.T) {
	m, st := newMap(t)
	rs := city(t, st, 4000, 4)
	ctx := context.Background()
	for _, box := range []store.BBox{
		{MinLng: 34.8, MinLat: 32.6, MaxLng: 35.2, MaxLat: 33.0},         // the whole city
		{MinLng: 34.985, MinLat: 32.785, MaxLng: 34.995, MaxLat: 32.795}, // a street
	} {
		q := Query{Box: box, Statuses: hazard.ActiveStatuses}
		ids, total, err := m.Newest(ctx, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		var in []*store.Report
		for _, r := range rs {
			if truth([]*store.Report{r}, q) == 1 {
				in = append(in, r)
			}
		}
		slices.SortFunc(in, func(a, b *store.Report) int { return b.CreatedAt.Compare(a.CreatedAt) })
		if total != int64(len(in)) || len(ids) != min(20, len(in)) {
			t.Fatalf("total %d (want %d), %d ids", total, len(in), len(ids))
		}
		for i, id := range ids {
			if id != in[i].ID && !in[i].CreatedAt.Truncate(time.Millisecond).Equal(in[min(i+1, len(in)-1)].CreatedAt.Truncate(time.Millisecond)) {
				t.Fatalf("%d: %s, want %s", i, id, in[i].ID)
			}
		}
	}
}
