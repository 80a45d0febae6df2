package handlers

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// BenchmarkViewport measures GET /api/reports through the real HTTP stack (loopback) with 10,000
// and 100,000 reports spread over a city (10 km radius): a street-level view (about 1 km across,
// points) and the whole city (clusters). It reports p50/p99 latency and the answer size.
func BenchmarkViewport(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		e := newEnv(b, "RATE_LIMITS", "off")
		seedCity(b, e, n)
		for _, v := range []struct {
			name string
			bbox string
		}{
			{"street", "34.995,32.795,35.005,32.805"},
			{"city", "34.89,32.71,35.11,32.89"},
		} {
			b.Run(fmt.Sprintf("%dk/%s", n/1000, v.name), func(b *testing.B) {
				url := e.base + "/api/reports?bbox=" + v.bbox
				lat := make([]time.Duration, 0, b.N)
				var size int
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
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(size)/1024, "KB")
			})
		}
	}
}

func seedCity(b *testing.B, e *env, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	for done := 0; done < n; done += 1000 {
		rs := make([]*store.Report, 1000)
		for i := range rs {
			r := 10 * math.Sqrt(rng.Float64())
			th := rng.Float64() * 2 * math.Pi
			rs[i] = &store.Report{
				ID: store.NewReportID(), Type: hazard.Types[rng.IntN(len(hazard.Types))].Code, Severity: "medium",
				Description: "Seeded for the benchmark", Lat: 32.8 + r*math.Cos(th)/111.32, Lng: 35.0 + r*math.Sin(th)/93.5,
				Status: hazard.Open, ReporterID: "bench00000000000", Photos: []string{}, CreatedAt: now, UpdatedAt: now,
			}
		}
		if err := e.store.SeedReports(b.Context(), rs); err != nil {
			b.Fatal(err)
		}
	}
}
