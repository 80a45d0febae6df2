package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

const seedUsage = `usage: hazardwatch seed --reports N --area "lat,lng,km"`

// seedCmd fills Redis with realistic synthetic reports, for demos and benchmarks.
func seedCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("reports", 1000, "how many reports")
	area := fs.String("area", "32.8,35.0,10", "lat,lng,km: the centre and radius to scatter them in")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError{seedUsage}
	}
	lat, lng, km, err := parseArea(*area)
	if err != nil || *n <= 0 || *n > 10_000_000 {
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
