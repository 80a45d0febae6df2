package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store/redistest"
)

func benchStore(b *testing.B) (*Store, *redistest.Server) {
	srv := redistest.Start(b)
	rdb, err := Dial(configFor(srv))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	return New(rdb), srv
}

func seedReports(b *testing.B, s *Store, n int) []string {
	ctx := context.Background()
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		r := newReport(fmt.Sprint("user", i%100), []string{"pothole", "crack", "debris"}[i%3], 32.7+rand.Float64()*0.2, 34.9+rand.Float64()*0.2)
		r.Description = strings.Repeat("Deep pothole in the right lane. ", 4)
		r.Photos = []string{"0123456789abcdef0123456789abcdef"}
		if _, _, err := s.CreateReport(ctx, r); err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	return ids
}

func BenchmarkCreateReport(b *testing.B) {
	s, _ := benchStore(b)
	b.ResetTimer()
	seedReports(b, s, b.N)
}

func BenchmarkGetReport(b *testing.B) {
	s, _ := benchStore(b)
	ids := seedReports(b, s, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Report(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListReports(b *testing.B) {
	s, _ := benchStore(b)
	seedReports(b, s, 10000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.List(ctx, ListQuery{Statuses: hazard.ActiveStatuses, Skip: (i % 10) * 20, Limit: 20})
		if err != nil || len(res.Reports) != 20 {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPerReport reports Redis memory per report, document and every index entry
// included, from INFO's used_memory before and after 10,000 reports.
func BenchmarkMemoryPerReport(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s, srv := benchStore(b)
		c := srv.Client(b)
		before := usedMemory(b, c.Info(context.Background(), "memory").Val())
		seedReports(b, s, 10000)
		time.Sleep(10 * time.Millisecond)
		after := usedMemory(b, c.Info(context.Background(), "memory").Val())
		b.ReportMetric(float64(after-before)/10000, "bytes/report")
	}
}

func usedMemory(b *testing.B, info string) int64 {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}
