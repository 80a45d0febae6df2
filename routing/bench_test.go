package routing

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"hazardwatch/store"
)

// wobbly is a city-like boundary: n vertices round a centre, radius r degrees, never crossing.
func wobbly(lat, lng, r float64, n int, seed float64) string {
	var b strings.Builder
	b.WriteString(`{"type":"Polygon","coordinates":[[`)
	for i := 0; i <= n; i++ {
		a := 2 * math.Pi * float64(i%n) / float64(n)
		rr := r * (1 + 0.15*math.Sin(a*5+seed) + 0.05*math.Cos(a*13+seed))
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%.6f,%.6f]", lng+rr*math.Cos(a), lat+rr*math.Sin(a))
	}
	b.WriteString(`]]}`)
	return b.String()
}

// seedThousand stores 1,000 bodies over a 10 x 10 degree region: 900 cities of 200 vertices in a
// 30 x 30 grid, 90 regions and 10 national agencies covering large parts, all overlapping.
func seedThousand(b testing.TB, e *env) {
	n := 0
	add := func(name string, lat, lng, r float64, vertices int, types ...string) {
		n++
		e.body(b, &store.Body{Name: name, Lang: "en", Types: types, Method: store.ByEmail, Email: "x@x.test"}, wobbly(lat, lng, r, vertices, float64(n)))
	}
	for i := range 30 {
		for j := range 30 {
			add(fmt.Sprintf("City %d-%d", i, j), 30+float64(i)/3, 30+float64(j)/3, 0.15, 200, "pothole", "crack", "sign")
		}
	}
	for i := range 90 {
		add(fmt.Sprintf("Region %d", i), 30+float64(i%9)*1.1, 30+float64(i/9), 0.7, 400, "manhole", "flooding")
	}
	for i := range 10 {
		add(fmt.Sprintf("Agency %d", i), 35, 35, 5, 1000, "signal")
	}
}

// BenchmarkMatch1000Bodies: which of 1,000 overlapping bodies take a pothole at a random point of
// the region (cell index in Redis, then exact tests in Go on the candidates; areas parsed once).
func BenchmarkMatch1000Bodies(b *testing.B) {
	e := newEnv(b, Config{})
	seedThousand(b, e)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	// How many bodies a point's cells name, and how many take a pothole there (not timed).
	cands, found := 0, 0
	for range 200 {
		lat, lng := 30+rng.Float64()*10, 30+rng.Float64()*10
		near, err := e.st.BodiesNear(ctx, lat, lng)
		if err != nil {
			b.Fatal(err)
		}
		bs, err := e.svc.Match(ctx, lat, lng, "pothole")
		if err != nil {
			b.Fatal(err)
		}
		cands += len(near)
		found += len(bs)
	}
	for b.Loop() {
		if _, err := e.svc.Match(ctx, 30+rng.Float64()*10, 30+rng.Float64()*10, "pothole"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cands)/200, "candidates/op")
	b.ReportMetric(float64(found)/200, "matches/op")
}

// BenchmarkScan1000Bodies is the alternative the index avoids: read every body, test each (with
// every area already parsed in memory, the scan's best case).
func BenchmarkScan1000Bodies(b *testing.B) {
	e := newEnv(b, Config{})
	seedThousand(b, e)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		lat, lng := 30+rng.Float64()*10, 30+rng.Float64()*10
		all, err := e.st.Bodies(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, body := range all {
			if !body.Covers(lat, lng) || !body.Handles("pothole") {
				continue
			}
			a, err := e.svc.area(ctx, body)
			if err != nil {
				b.Fatal(err)
			}
			a.Contains(lat, lng)
		}
	}
}
