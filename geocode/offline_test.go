package geocode

import (
	"context"
	"math"
	"runtime"
	"strings"
	"testing"
)

func mustOffline(t testing.TB) *Offline {
	o, err := LoadOffline()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOfflineSearch(t *testing.T) {
	o := mustOffline(t)
	ctx := context.Background()
	cases := []struct{ q, want string }{
		{"Haifa", "Haifa, IL"},
		{"haif", "Haifa, IL"},
		{"sao paulo", "São Paulo, BR"}, // diacritics folded
		{"SÃO PAULO", "São Paulo, BR"}, // and case
		{"zurich", "Zürich, CH"},
		{"new york", "New York City, NY, US"},
		{"york, gb", "York, GB"},       // a country filter
		{"francisco", "San Francisco"}, // a later word of the name
		{"muenchen", ""},               // no transliteration beyond folding: no result is fine
	}
	for _, tc := range cases {
		got, err := o.Search(ctx, tc.q, 5)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			continue
		}
		if len(got) == 0 || !strings.HasPrefix(got[0].Label, tc.want) {
			t.Errorf("Search(%q) = %v, want first %q", tc.q, got, tc.want)
		}
	}
	// Ranked by population: "Lon" gives London before any smaller Lon... place.
	got, _ := o.Search(ctx, "lon", 3)
	if len(got) != 3 || got[0].Label != "London, GB" {
		t.Errorf("Search(lon) = %v", got)
	}
	if got, _ := o.Search(ctx, "  ", 5); len(got) != 0 {
		t.Errorf("blank query matched %v", got)
	}
}

func TestOfflineReverse(t *testing.T) {
	o := mustOffline(t)
	ctx := context.Background()
	cases := []struct {
		lat, lng float64
		want     string
	}{
		{32.8190, 34.9990, "near Haifa, IL"},  // central Haifa
		{51.5074, -0.1278, "near London, GB"}, // Charing Cross... or a smaller neighbour
		{-33.8688, 151.2093, "near Sydney, AU"},
		{64.1466, -21.9426, "near Reykjavík, IS"},
	}
	for _, tc := range cases {
		p, err := o.Reverse(ctx, tc.lat, tc.lng)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Label, "near ") {
			t.Errorf("Reverse(%v,%v) = %q", tc.lat, tc.lng, p.Label)
		}
		// The answer must be the true nearest place: compare with a linear scan.
		want := linearNearest(o, tc.lat, tc.lng)
		if p.Label != "near "+want.label() {
			t.Errorf("Reverse(%v,%v) = %q, linear scan says %q", tc.lat, tc.lng, p.Label, want.label())
		}
	}
	// Far from everything (mid-Pacific, near the pole, across the date line) still answers.
	for _, pt := range [][2]float64{{-48.9, -123.4}, {89.9, 0}, {-10, 179.99}} {
		p, err := o.Reverse(ctx, pt[0], pt[1])
		want := linearNearest(o, pt[0], pt[1])
		if err != nil || p.Label != "near "+want.label() {
			t.Errorf("Reverse(%v) = %q %v, linear scan says %q", pt, p.Label, err, want.label())
		}
	}
}

func linearNearest(o *Offline, lat, lng float64) *city {
	var best *city
	bestD := math.Inf(1)
	for i := range o.cities {
		c := &o.cities[i]
		if d := distanceKm(lat, lng, float64(c.lat), float64(c.lng)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"São Paulo": "sao paulo", "Zürich": "zurich", "Straße": "strasse", "Łódź": "lodz",
		"Saint-Étienne": "saint etienne", "  Tel  Aviv ": "tel aviv",
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChecks(t *testing.T) {
	if CheckQuery("a") == "" || CheckQuery(strings.Repeat("x", 201)) == "" || CheckQuery("ab") != "" {
		t.Error("query limits")
	}
	if CheckPoint(91, 0) == "" || CheckPoint(0, -181) == "" || CheckPoint(math.NaN(), 0) == "" || CheckPoint(45, 90) != "" {
		t.Error("point limits")
	}
	if NormalizeQuery("  Haifa   Port ") != "haifa port" {
		t.Error("normalize")
	}
}

func BenchmarkOfflineSearch(b *testing.B) {
	o := mustOffline(b)
	qs := []string{"lon", "haifa", "san fr", "new y", "sao p", "be"}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = o.Search(ctx, qs[i%len(qs)], Limit)
	}
}

func BenchmarkOfflineReverse(b *testing.B) {
	o := mustOffline(b)
	ctx := context.Background()
	pts := [][2]float64{{32.8, 35.0}, {51.5, -0.1}, {40.7, -74.0}, {-33.9, 151.2}, {35.7, 139.7}, {0, -160}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pts[i%len(pts)]
		_, _ = o.Reverse(ctx, p[0], p[1])
	}
}

// BenchmarkGazetteerLoad measures start-up (parsing and indexing the embedded file) and the
// heap the loaded gazetteer keeps.
func BenchmarkGazetteerLoad(b *testing.B) {
	b.ReportAllocs()
	var retained uint64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		o, err := parseGazetteer(gazetteer)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(o)
		retained = after.HeapAlloc - before.HeapAlloc
	}
	b.ReportMetric(float64(retained)/1e6, "MB-kept")
}
