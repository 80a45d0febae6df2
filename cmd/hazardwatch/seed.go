package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"hazardwatch/area"
	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

const seedUsage = `usage: hazardwatch seed [--reports N] [--area "lat,lng,km"] [--bodies]`

// seedCmd fills Redis with realistic synthetic reports, for demos and benchmarks.
func seedCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("reports", 1000, "how many reports")
	area := fs.String("area", "32.8,35.0,10", "lat,lng,km: the centre and radius to scatter them in")
	bodies := fs.Bool("bodies", false, "also make a few demo bodies whose areas cover the seeded area")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError{seedUsage}
	}
	lat, lng, km, err := parseArea(*area)
	if err != nil || *n < 0 || *n > 10_000_000 || (*n == 0 && !*bodies) {
		return usageError{fmt.Sprintf("%v\n%s", err, seedUsage)}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	st, closeStore, err := openStore()
	if err != nil {
		return err
	}
	defer closeStore()
	life := lifecycle.New(st, nil, lifecycle.Config{Moderation: cfg.Moderation, ReportExpiry: cfg.ReportExpiry, TooCloseRadius: cfg.TooCloseRadius}, slog.Default())
	if *bodies {
		names, err := seedBodies(ctx, st, lat, lng, km)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "made %d demo bodies: %s\n", len(names), strings.Join(names, ", "))
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	start := time.Now()
	const batch = 500
	for done := 0; done < *n; {
		k := min(batch, *n-done)
		rs := make([]*store.Report, k)
		for i := range rs {
			rs[i] = synthetic(rng, lat, lng, km)
		}
		if err := life.Seed(ctx, rs); err != nil {
			return err
		}
		done += k
		if done%(batch*20) == 0 || done == *n {
			fmt.Fprintf(stdout, "seeded %d/%d reports (%.0f/s)\n", done, *n, float64(done)/time.Since(start).Seconds())
		}
	}
	return nil
}

func parseArea(s string) (lat, lng, km float64, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("--area wants lat,lng,km")
	}
	var v [3]float64
	for i, p := range parts {
		if v[i], err = strconv.ParseFloat(strings.TrimSpace(p), 64); err != nil {
			return 0, 0, 0, fmt.Errorf("--area: %q is not a number", p)
		}
	}
	if v[0] < -90 || v[0] > 90 || v[1] < -180 || v[1] > 180 || v[2] <= 0 || v[2] > 2000 {
		return 0, 0, 0, fmt.Errorf("--area: lat -90..90, lng -180..180, km 0..2000")
	}
	return v[0], v[1], v[2], nil
}

var seedNotes = []string{
	"Deep enough to damage a wheel.", "Cyclists swerve into traffic to avoid it.", "Getting bigger every week.",
	"Right by the bus stop.", "Hard to see at night.", "Water collects here after rain.", "Blocks half the pavement.",
}

// synthetic makes one plausible report: most open or unverified, some resolved, spread over the
// last 60 days, uniformly over a disc.
func synthetic(rng *rand.Rand, lat, lng, km float64) *store.Report {
	r := km * math.Sqrt(rng.Float64())
	theta := rng.Float64() * 2 * math.Pi
	dlat := r * math.Cos(theta) / 111.32
	dlng := r * math.Sin(theta) / (111.32 * math.Cos(lat*math.Pi/180))
	t := hazard.Types[rng.IntN(len(hazard.Types))]
	statuses := []hazard.Status{hazard.Pending, hazard.Pending, hazard.Open, hazard.Open, hazard.Open, hazard.InProgress, hazard.Resolved}
	created := time.Now().UTC().Add(-time.Duration(rng.Float64() * float64(60*24*time.Hour)))
	status := statuses[rng.IntN(len(statuses))]
	return &store.Report{
		ID: store.NewReportID(), Type: t.Code, Severity: hazard.Severities[rng.IntN(3)].Code,
		Description: t.Label(context.Background()) + ". " + seedNotes[rng.IntN(len(seedNotes))],
		Lat:         math.Round((lat+dlat)*1e6) / 1e6, Lng: math.Round((lng+dlng)*1e6) / 1e6,
		Status: status, ReporterID: fmt.Sprintf("seed%012d", rng.IntN(500)), Photos: []string{},
		CreatedAt: created, UpdatedAt: created,
		History: []store.Change{{At: created, By: "seed", To: status}},
	}
}

// seedBodies makes demo bodies round the seeded disc: two district councils splitting it north
// and south along a wavy line, a water utility for manholes and flooding over all of it, and a
// parks authority for fallen trees in a small park. Their boundaries wobble like real ones.
func seedBodies(ctx context.Context, st *store.Store, lat, lng, km float64) ([]string, error) {
	const steps = 48
	kmLat, kmLng := 1/111.32, 1/(111.32*math.Cos(lat*math.Pi/180))
	wobble := func(i int) float64 { return 1 + 0.06*math.Sin(float64(i)*0.9) + 0.04*math.Cos(float64(i)*2.3) }
	// A blob round (clat, clng) of radius r km; from and to (radians) cut out a sector's arc.
	blob := func(clat, clng, r, from, to float64, close bool) [][2]float64 {
		var ring [][2]float64
		for i := 0; i <= steps; i++ {
			a := from + (to-from)*float64(i)/steps
			rr := r * wobble(i)
			ring = append(ring, [2]float64{clng + rr*math.Cos(a)*kmLng, clat + rr*math.Sin(a)*kmLat})
		}
		if close {
			ring = append(ring[:len(ring)-1], ring[0])
		}
		return ring
	}
	// The two halves share the wavy east-west line through the centre.
	half := func(north bool) [][2]float64 {
		from, to := 0.0, math.Pi
		if !north {
			from, to = math.Pi, 2*math.Pi
		}
		arc := blob(lat, lng, km*1.15, from, to, false)
		// Back along the border from the arc's end to its start, wavy.
		start, end := arc[0], arc[len(arc)-1]
		var border [][2]float64
		for i := 1; i < steps; i++ {
			f := float64(i) / steps
			x := end[0] + (start[0]-end[0])*f
			border = append(border, [2]float64{x, lat + 0.03*km*kmLat*math.Sin(f*math.Pi*3)})
		}
		ring := append(arc, border...)
		return append(ring, ring[0])
	}
	type demo struct {
		name, email string
		types       []string
		ring        [][2]float64
	}
	all := []string{}
	for _, t := range hazard.Types {
		if t.Code != "manhole" {
			all = append(all, t.Code)
		}
	}
	demos := []demo{
		{"North District Council", "roads@north-district.example", all, half(true)},
		{"South District Council", "roads@south-district.example", all, half(false)},
		{"Regional Water Company", "faults@water.example", []string{"manhole", "flooding"}, blob(lat, lng, km*1.3, 0, 2*math.Pi, true)},
		{"Parks Authority", "parks@parks.example", []string{"tree"}, blob(lat+km*0.3*kmLat, lng-km*0.2*kmLng, km*0.15, 0, 2*math.Pi, true)},
	}
	var names []string
	for _, d := range demos {
		geo, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{d.ring}})
		a, err := area.Parse(geo)
		if err != nil {
			return nil, fmt.Errorf("demo body %s: %w", d.name, err)
		}
		b := &store.Body{ID: store.NewBodyID(), Name: d.name, Lang: "en", Types: d.types, Method: store.ByEmail, Email: d.email,
			BBox: a.BBox(), Vertices: a.Vertices}
		if err := st.SaveBody(ctx, b, a.GeoJSON()); err != nil {
			return nil, err
		}
		names = append(names, d.name)
	}
	return names, nil
}
