package mapview

import (
	"context"
	"testing"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// BenchmarkHarnessCity is the side-by-side harness's whole-city box (no zoom, not aligned to the
// grid) over 100,000 reports: go test ./mapview -run x -bench HarnessCity -cpuprofile cpu.out
func BenchmarkHarnessCity(b *testing.B) {
	m, st := newMap(b)
	city(b, st, 100_000, 9)
	q := Query{Box: store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, Statuses: hazard.ActiveStatuses}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Features(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}
