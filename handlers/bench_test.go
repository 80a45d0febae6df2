package handlers

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
	"hazardwatch/mapview"
	"hazardwatch/store"
)

// BenchmarkViewport measures GET /api/reports through the real HTTP stack (loopback) with 100,000
// reports spread over a 15 km-radius city round Haifa (as ../shared/perf seeds them): the street
// and whole-city boxes of the side-by-side harness (no zoom), and a phone-sized view (390 x 844
// px) of the whole city and of a street as the map asks for them (zoom, grid-aligned box). It
// reports p50/p99 latency, the answer size and the Redis CPU time each request cost (from INFO
// commandstats).
//
//	go test ./handlers -run x -bench Viewport -benchtime 400x
func BenchmarkViewport(b *testing.B) {
	e := newEnv(b, "RATE_LIMITS", "off", "WORKERS", "off")
	seedCity(b, e, 100_000)
	rdb := e.redis.Client(b)
	phone := func(lat, lng float64, z int) string {
		w, h := 390*360/(256*math.Exp2(float64(z))), 844*360/(256*math.Exp2(float64(z)))*math.Cos(lat*math.Pi/180)
		box := store.Align(mapview.Level(z), store.BBox{MinLng: lng - w/2, MaxLng: lng + w/2, MinLat: lat - h/2, MaxLat: lat + h/2})
		return fmt.Sprintf("bbox=%.6f,%.6f,%.6f,%.6f&zoom=%d", box.MinLng, box.MinLat, box.MaxLng, box.MaxLat, z)
	}
	for _, v := range []struct{ name, query string }{
		{"harness-street", "bbox=34.985,32.785,34.995,32.795"},
		{"harness-city", "bbox=34.9,32.7,35.1,32.9"},
		{"phone-city-z10", phone(32.79, 34.99, 10)},
		{"phone-street-z16", phone(32.79, 34.99, 16)},
	} {
		b.Run(v.name, func(b *testing.B) {
			url := e.base + "/api/reports?" + v.query
			lat := make([]time.Duration, 0, b.N)
			var size int
			before := redisUsec(b, rdb)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				resp, err := http.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%d %s", resp.StatusCode, body)
				}
				lat = append(lat, time.Since(start))
				size = len(body)
			}
			b.StopTimer()
			used := redisUsec(b, rdb) - before
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(size)/1024, "KB")
			b.ReportMetric(float64(used)/float64(b.N)/1000, "redis-ms/op")
		})
	}
}

// redisUsec is the CPU time Redis has spent in commands (INFO commandstats), in microseconds.
func redisUsec(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, line := range strings.Split(info, "\n") {
		if i := strings.Index(line, "usec="); i >= 0 && strings.HasPrefix(line, "cmdstat_") && !strings.HasPrefix(line, "cmdstat_info") {
			v := line[i+5:]
			n, _ := strconv.ParseInt(v[:strings.IndexByte(v, ',')], 10, 64)
			total += n
		}
	}
	return total
}

// seedCity seeds n reports as `hazardwatch seed --area 32.79,34.99,15` does: uniform over a
// 15 km-radius disc, most active.
func seedCity(b *testing.B, e *env, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	statuses := []hazard.Status{hazard.Pending, hazard.Pending, hazard.Open, hazard.Open, hazard.Open, hazard.InProgress, hazard.Resolved}
	for done := 0; done < n; done += 1000 {
		rs := make([]*store.Report, 1000)
		for i := range rs {
			r := 15 * math.Sqrt(rng.Float64())
			th := rng.Float64() * 2 * math.Pi
			created := now.Add(-time.Duration(rng.Float64() * float64(60*24*time.Hour)))
			rs[i] = &store.Report{
				ID: store.NewReportID(), Type: hazard.Types[rng.IntN(len(hazard.Types))].Code, Severity: hazard.Severities[rng.IntN(3)].Code,
				Description: "Seeded for the benchmark", Lat: 32.79 + r*math.Cos(th)/111.32, Lng: 34.99 + r*math.Sin(th)/(111.32*math.Cos(32.79*math.Pi/180)),
				Status: statuses[rng.IntN(len(statuses))], ReporterID: "bench00000000000", Photos: []string{}, CreatedAt: created, UpdatedAt: created,
			}
		}
		if err := e.store.SeedReports(b.Context(), rs); err != nil {
			b.Fatal(err)
		}
	}
}
