package mapview

import (
	"fmt"
	"strings"
	"syscall"
	"context"
	"os"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store"
)

func BenchmarkLocalCity(b *testing.B) {
	url := os.Getenv("LOCAL_REDIS")
	if url == "" {
		b.Skip()
	}
	rdb, err := store.Dial(config.Redis{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	m := New(store.New(rdb))
	q := Query{Box: store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, Statuses: hazard.ActiveStatuses}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := m.Features(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		_ = a
	}
}

func TestLocalCityShape(t *testing.T) {
	url := os.Getenv("LOCAL_REDIS")
	if url == "" {
		t.Skip()
	}
	rdb, _ := store.Dial(config.Redis{URL: url})
	m := New(store.New(rdb))
	q := Query{Box: store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, Statuses: hazard.ActiveStatuses}
	items, total, few, err := m.count(context.Background(), q, InferZoom(q.Box))
	pts := 0
	for _, it := range items {
		if it.single != nil {
			pts++
		}
	}
	pts2, _ := m.Points(context.Background(), q)
	t.Logf("truth %d", len(pts2))
	t.Logf("zoom %d level %d items %d singles %d total %d few %v err %v", InferZoom(q.Box), Level(InferZoom(q.Box)), len(items), pts, total, few, err)
}

func TestLocalCityTiming(t *testing.T) {
	url := os.Getenv("LOCAL_REDIS")
	if url == "" {
		t.Skip()
	}
	rdb, _ := store.Dial(config.Redis{URL: url})
	m := New(store.New(rdb))
	q := Query{Box: store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, Statuses: hazard.ActiveStatuses}
	z := InferZoom(q.Box)
	var tc, tm time.Duration
	for i := 0; i < 30; i++ {
		t0 := time.Now()
		items, _, _, _ := m.count(context.Background(), q, z)
		t1 := time.Now()
		merge(items, z)
		tc += t1.Sub(t0)
		tm += time.Since(t1)
	}
	t.Logf("count %v merge %v per op", tc/30, tm/30)
}

func TestLocalAB(t *testing.T) {
	url := os.Getenv("LOCAL_REDIS")
	if url == "" {
		t.Skip()
	}
	rdb, _ := store.Dial(config.Redis{URL: url})
	m := New(store.New(rdb))
	q := Query{Box: store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, Statuses: hazard.ActiveStatuses}
	redisUS := func() float64 {
		info := rdb.Info(context.Background(), "commandstats").Val()
		var tot float64
		for _, line := range strings.Split(info, "\n") {
			if i := strings.Index(line, "usec="); i >= 0 {
				var v float64
				fmt.Sscanf(line[i+5:], "%f", &v)
				tot += v
			}
		}
		return tot
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for round := 0; round < 3; round++ {
		for _, v := range []bool{true} {
			r0, c0 := redisUS(), cpu()
			for i := 0; i < 20; i++ {
				m.Features(context.Background(), q)
			}
			t.Logf("childCounts=%v redis %.2f ms/op app cpu %v/op", v, (redisUS()-r0)/20/1000, (cpu()-c0)/20)
		}
	}
}

func BenchmarkLocalStreet(b *testing.B) {
	url := os.Getenv("LOCAL_REDIS")
	if url == "" {
		b.Skip()
	}
	rdb, _ := store.Dial(config.Redis{URL: url})
	m := New(store.New(rdb))
	q := Query{Box: store.BBox{MinLng: 34.985, MinLat: 32.785, MaxLng: 34.995, MaxLat: 32.795}, Statuses: hazard.ActiveStatuses}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Features(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}
