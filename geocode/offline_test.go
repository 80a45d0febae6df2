package geocode

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"testing"

	"hazardwatch/i18n"
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
		{"Haifa", "Haifa, Israel"},
		{"haif", "Haifa, Israel"},
		{"sao paulo", "São Paulo, Brazil"}, // diacritics folded
		{"SÃO PAULO", "São Paulo, Brazil"}, // and case
		{"zurich", "Zürich, Switzerland"},
		{"new york", "New York City, NY, United States"},
		{"york, gb", "York, United Kingdom"},             // a country filter
		{"york, united kingdom", "York, United Kingdom"}, // by name too
		{"springfield, il", "Springfield, IL, United States"},
		{"camden town, london", "Camden Town, London, United Kingdom"}, // a label read back
		{"francisco", "San Francisco"},                                 // a later word of the name
		{"muenchen", ""},                                               // no transliteration beyond folding: no result is fine
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
	if len(got) != 3 || got[0].Label != "London, United Kingdom" {
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
		{32.8190, 34.9990, "near Haifa, Israel"},          // central Haifa
		{51.5074, -0.1278, "near London, United Kingdom"}, // Charing Cross... or a smaller neighbour
		{-33.8688, 151.2093, "near Sydney, Australia"},
		{64.1466, -21.9426, "near Reykjavík, Iceland"},
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
		if p.Label != "near "+englishLabel(o, want, "") {
			t.Errorf("Reverse(%v,%v) = %q, linear scan says %q", tc.lat, tc.lng, p.Label, englishLabel(o, want, ""))
		}
	}
	// Far from everything (mid-Pacific, near the pole, across the date line) still answers.
	for _, pt := range [][2]float64{{-48.9, -123.4}, {89.9, 0}, {-10, 179.99}} {
		p, err := o.Reverse(ctx, pt[0], pt[1])
		want := linearNearest(o, pt[0], pt[1])
		if err != nil || p.Label != "near "+englishLabel(o, want, "") {
			t.Errorf("Reverse(%v) = %q %v, linear scan says %q", pt, p.Label, err, englishLabel(o, want, ""))
		}
	}
}

// Search ranks by population and distance from the map's centre, and names places the way
// someone there reads them (issue 12: "Camden" from London flew people to New Jersey).
func TestOfflineSearchNear(t *testing.T) {
	o := mustOffline(t)
	ctx := context.Background()
	london, philadelphia := Point{51.5074, -0.1278}, Point{39.9526, -75.1652}
	cases := []struct {
		q    string
		near []Point
		want string
	}{
		{"camden", []Point{london}, "Camden Town, London"},
		{"camden", []Point{philadelphia}, "Camden, NJ"},
		{"camden", nil, "Camden, NJ, United States"}, // no view: the most populous
		{"croydon", []Point{london}, "Croydon, London"},
		{"paris", []Point{london}, "Paris, France"},
		{"paris", []Point{{32.7767, -96.7970}}, "Paris, TX"}, // from Dallas
		{"springfield", []Point{{42.3601, -71.0589}}, "Springfield, MA"},
		{"springfield", []Point{{38.6270, -90.1994}}, "Springfield, IL"},
		{"cambridge", []Point{london}, "Cambridge"},
		{"cambridge", []Point{{42.3601, -71.0589}}, "Cambridge, Boston, MA"}, // GeoNames files it like a neighbourhood
		{"haifa", []Point{london}, "Haifa, Israel"},                          // far away, still found
	}
	for _, tc := range cases {
		got, err := o.Search(ctx, tc.q, Limit, tc.near...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Label != tc.want {
			t.Errorf("Search(%q near %v) = %v, want first %q", tc.q, tc.near, got, tc.want)
		}
	}
}

// The top-k scan gives exactly what scoring every place would: same places, same order.
func TestOfflineSearchMatchesLinearScan(t *testing.T) {
	o := mustOffline(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 34))
	for _, q := range []string{"ca", "camden", "san", "new", "spring", "lon", "be", "st"} {
		for range 5 {
			near := Point{rng.Float64()*140 - 60, rng.Float64()*360 - 180}
			got, err := o.Search(ctx, q, Limit, near)
			if err != nil {
				t.Fatal(err)
			}
			want := linearSearch(o, q, near, Limit)
			if len(got) != len(want) {
				t.Fatalf("Search(%q near %v): %d results, linear scan %d", q, near, len(got), len(want))
			}
			for i := range got {
				if got[i].Label != want[i].Label || got[i].Lat != want[i].Lat {
					t.Errorf("Search(%q near %v)[%d] = %v, linear scan %v", q, near, i, got[i], want[i])
				}
			}
		}
	}
}

func linearSearch(o *Offline, q string, near Point, limit int) []Place {
	prefix := fold(q)
	home := linearNearest(o, near.Lat, near.Lng).country
	type scored struct {
		s   float64
		idx int
	}
	var all []scored
	for i := range o.cities {
		c := &o.cities[i]
		f := fold(c.name)
		if !strings.HasPrefix(f, prefix) && !strings.Contains(f, " "+prefix) {
			continue
		}
		d := distanceKm(near.Lat, near.Lng, float64(c.lat), float64(c.lng))
		all = append(all, scored{float64(c.weight) - 2*math.Log10(1+d/10), i})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s || (all[i].s == all[j].s && all[i].idx < all[j].idx) })
	var out []Place
	for _, a := range all[:min(limit, len(all))] {
		c := &o.cities[a.idx]
		out = append(out, Place{Label: englishLabel(o, c, home), Lat: round5(float64(c.lat)), Lng: round5(float64(c.lng))})
	}
	return out
}

func (o *Offline) namesOf(c *city) []name {
	if c.names < 0 {
		return nil
	}
	return o.names[c.names]
}

func englishLabel(o *Offline, c *city, home string) string {
	l, _ := o.label(c, home, "en")
	return l
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
		"יְרוּשָׁלַיִם": "ירושלימ", "תֵּל־אָבִיב–יָפוֹ": "תל אביב יפו", // points dropped, final letters as usual ones
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// Issue 19 point 5: the gazetteer keeps Hebrew names, searches them, and answers a Hebrew
// reader in Hebrew where the place has a Hebrew name, saying so (Lang); English otherwise.
func TestOfflineHebrew(t *testing.T) {
	o := mustOffline(t)
	he := i18n.With(context.Background(), i18n.For("he"))
	en := i18n.With(context.Background(), i18n.For("en"))
	london := Point{51.5074, -0.1278}
	cases := []struct {
		ctx         context.Context
		q           string
		near        []Point
		label, lang string
	}{
		{he, "חיפה", nil, "חיפה, ישראל", "he"},
		{he, "חיפ", nil, "חיפה, ישראל", "he"},                                     // a prefix, as in English
		{he, "haifa", nil, "חיפה, ישראל", "he"},                                   // an English query, a Hebrew reader
		{en, "חיפה", nil, "Haifa, Israel", "en"},                                  // and the other way round
		{he, "תל אבי", nil, "תל אביב, ישראל", "he"},                               // the name people use; "תל אביב-יפו" is searched too
		{he, "יְרוּשָׁלַיִם", nil, "ירושלים, ישראל", "he"},                        // vowel points typed or not
		{he, "לונדון", nil, "לונדון, הממלכה המאוחדת", "he"},                       // beyond Israel too
		{he, "camden", []Point{london}, "קמדן טאון, לונדון", "he"},                // the enclosing city in Hebrew too
		{he, "קמדן טאון, לונדון", nil, "קמדן טאון, לונדון, הממלכה המאוחדת", "he"}, // a label read back
		{he, "חיפה, ישראל", nil, "חיפה, ישראל", "he"},
		{he, "yehud monosson", nil, "Yehud-Monosson, Israel", "en"}, // no Hebrew name in GeoNames: all English
	}
	for _, tc := range cases {
		got, err := o.Search(tc.ctx, tc.q, 3, tc.near...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Label != tc.label || got[0].Lang != tc.lang {
			t.Errorf("Search(%q) for %s = %v, want first %q in %s", tc.q, i18n.From(tc.ctx).Lang().Tag, got, tc.label, tc.lang)
		}
	}

	// The reverse label's words come from the catalog, in the language of the place's name.
	for _, tc := range []struct {
		ctx         context.Context
		lat, lng    float64
		label, lang string
	}{
		{he, 32.8191, 34.9983, "ליד חיפה, ישראל", "he"},
		{en, 32.8191, 34.9983, "near Haifa, Israel", "en"},
		{he, 39.8, -89.6, "near Grandview, Springfield, IL, United States", "en"}, // Grandview has no Hebrew name
	} {
		p, err := o.Reverse(tc.ctx, tc.lat, tc.lng)
		if err != nil || p.Label != tc.label || p.Lang != tc.lang {
			t.Errorf("Reverse(%v,%v) for %s = %+v %v, want %q in %s", tc.lat, tc.lng, i18n.From(tc.ctx).Lang().Tag, p, err, tc.label, tc.lang)
		}
	}
}

// The generator keeps names only in the site's other languages, and Hebrew ones for Israel's
// towns: a newer GeoNames file or a changed filter that loses them fails here.
func TestGazetteerNames(t *testing.T) {
	o := mustOffline(t)
	var il, ilHebrew, hebrew int
	for i := range o.cities {
		c := &o.cities[i]
		for _, n := range o.namesOf(c) {
			if l, ok := i18n.ByTag(n.lang); !ok || l.Tag == i18n.Languages[0].Tag || n.text == "" {
				t.Fatalf("%s: a name in %q: %q", c.name, n.lang, n.text)
			}
			if n.lang == "he" {
				hebrew++
			}
		}
		if c.country == "IL" && c.weight >= 4 { // 10,000 people or more
			il++
			if _, in := o.nameIn(c, "he"); in == "he" {
				ilHebrew++
			}
		}
	}
	if hebrew < 3000 || ilHebrew < il*9/10 {
		t.Fatalf("%d places with Hebrew names; %d of %d Israeli towns of 10,000 or more", hebrew, ilHebrew, il)
	}
}

func TestChecks(t *testing.T) {
	if CheckQuery("a").IsZero() || CheckQuery(strings.Repeat("x", 201)).IsZero() || !CheckQuery("ab").IsZero() {
		t.Error("query limits")
	}
	if CheckPoint(91, 0).IsZero() || CheckPoint(0, -181).IsZero() || CheckPoint(math.NaN(), 0).IsZero() || !CheckPoint(45, 90).IsZero() {
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

// BenchmarkOfflineSearchNear is the search the map makes: every prefix match scored by distance.
func BenchmarkOfflineSearchNear(b *testing.B) {
	o := mustOffline(b)
	qs := []string{"lon", "haifa", "san fr", "new y", "sao p", "be", "camden"}
	near := []Point{{51.5, -0.1}, {40.7, -74.0}, {32.8, 35.0}, {-33.9, 151.2}, {35.7, 139.7}}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = o.Search(ctx, qs[i%len(qs)], Limit, near[i%len(near)])
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
