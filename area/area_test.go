package area

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

const square = `{"type":"Polygon","coordinates":[[[34.9,32.7],[35.1,32.7],[35.1,32.9],[34.9,32.9],[34.9,32.7]]]}`

func mustParse(t *testing.T, s string) *Area {
	t.Helper()
	a, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return a
}

func wantError(t *testing.T, s, key string) {
	t.Helper()
	_, err := Parse([]byte(s))
	var e *Error
	if !errors.As(err, &e) || e.Key != "bodies.area."+key {
		t.Fatalf("want %s, got %v", key, err)
	}
}

func TestParseShapes(t *testing.T) {
	a := mustParse(t, square)
	if !a.Contains(32.8, 35.0) || a.Contains(32.8, 35.2) || a.Contains(33, 35) {
		t.Fatal("square contains")
	}
	if a.BBox() != [4]float64{34.9, 32.7, 35.1, 32.9} || a.Vertices != 5 {
		t.Fatalf("bbox %v vertices %d", a.BBox(), a.Vertices)
	}
	// A hole is outside.
	holed := mustParse(t, `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]}`)
	if !holed.Contains(2, 2) || holed.Contains(5, 5) {
		t.Fatal("hole")
	}
	// Features, collections and multipolygons all become one area.
	fc := mustParse(t, `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"name":"a"},"geometry":`+square+`},
		{"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}}]}`)
	if len(fc.MP) != 2 || !fc.Contains(0.2, 0.8) || !fc.Contains(32.8, 35) || fc.Contains(20, 20) {
		t.Fatalf("collection: %d polygons", len(fc.MP))
	}
	// What is stored reads back the same.
	again := mustParse(t, string(fc.GeoJSON()))
	if len(again.MP) != 2 || again.Vertices != fc.Vertices || again.BBox() != fc.BBox() {
		t.Fatal("GeoJSON round trip")
	}
	// Counter-clockwise or clockwise, both fine; a third coordinate (altitude) is ignored.
	mustParse(t, `{"type":"Polygon","coordinates":[[[0,0,5],[0,1,5],[1,1,5],[1,0,5],[0,0,5]]]}`)
}

func TestParseRefusesBadAreas(t *testing.T) {
	wantError(t, ``, "empty")
	wantError(t, `{"type":`, "not_json")
	wantError(t, `{"coordinates":[]}`, "no_type")
	wantError(t, `{"type":"Point","coordinates":[1,2]}`, "wrong_type")
	wantError(t, `{"type":"LineString","coordinates":[[1,2],[3,4]]}`, "wrong_type")
	wantError(t, `{"type":"FeatureCollection","features":[]}`, "no_polygon")
	wantError(t, `{"type":"Polygon","coordinates":"x"}`, "bad_coordinates")
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, "short_ring")
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`, "not_closed")
	// A ring with no area folds back over itself.
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}`, "crosses")
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[200,0],[1,1],[0,0]]]}`, "out_of_range")
	// Latitude and longitude swapped, a common mistake, lands outside the range here.
	wantError(t, `{"type":"Polygon","coordinates":[[[32,100],[32,101],[33,101],[32,100]]]}`, "out_of_range")
	// A bow tie crosses itself.
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}`, "crosses")
	// A ring touching itself at a vertex.
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[2,0],[1,1],[2,2],[0,2],[1,1],[0,0]]]}`, "crosses")
	// A spike folding back along its own edge.
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[2,0],[1,0],[1,1],[0,0]]]}`, "crosses")
	// A hole that crosses the outer ring.
	wantError(t, `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[8,8],[12,8],[12,9],[8,9],[8,8]]]}`, "crosses")
	wantError(t, strings.Repeat(" ", MaxBytes+1), "too_big")
	// Many vertices in few bytes (coordinates rounded to whole degrees repeat, so no crossing test runs).
	var b strings.Builder
	b.WriteString(`{"type":"Polygon","coordinates":[[[0,0]`)
	for range MaxVertices {
		b.WriteString(`,[1,0]`)
	}
	b.WriteString(`,[1,1],[0,0]]]}`)
	wantError(t, b.String(), "too_many_vertices")
}

// circle is a polygon of n vertices round a point: a large, valid boundary.
func circle(n int, lat, lng, r float64) string {
	var b strings.Builder
	b.WriteString(`{"type":"Polygon","coordinates":[[`)
	for i := 0; i <= n; i++ {
		a := 2 * math.Pi * float64(i%n) / float64(n)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%.7f,%.7f]", lng+r*math.Cos(a), lat+r*math.Sin(a))
	}
	b.WriteString(`]]}`)
	return b.String()
}

func TestLargeBoundaryIsQuick(t *testing.T) {
	a := mustParse(t, circle(100_000, 32.8, 35, 0.1))
	if a.Vertices != 100_001 || !a.Contains(32.8, 35) || a.Contains(32.95, 35) {
		t.Fatal("circle")
	}
}

func BenchmarkParse100kVertices(b *testing.B) {
	s := []byte(circle(100_000, 32.8, 35, 0.1))
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContains(b *testing.B) {
	a, _ := Parse([]byte(circle(2_000, 32.8, 35, 0.1)))
	for b.Loop() {
		a.Contains(32.81, 35.01)
	}
}
