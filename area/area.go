// Package area is the geometry of the bodies that fix hazards: reading an uploaded GeoJSON
// Polygon or MultiPolygon (bare, or inside a Feature or FeatureCollection), checking it (closed
// rings, no self-intersection, sane coordinates, bounded size), and answering whether a point lies
// inside. Geometry types and the point-in-polygon test are paulmach/orb's; reading is done here
// because orb's geojson package pulls in a database driver the app has no use for.
package area

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Limits on an uploaded area: a few MB of GeoJSON, enough for a city's boundary at street detail.
const (
	MaxBytes    = 4 << 20
	MaxVertices = 200_000
	MaxPolygons = 1_000
)

// Area is a checked MultiPolygon in longitude, latitude (WGS 84, as GeoJSON has it).
type Area struct {
	MP       orb.MultiPolygon
	Bound    orb.Bound
	Vertices int
}

// Error says what is wrong with an upload: Key is a message id of the bodies catalog and Data
// fills it, so the admin reads it in their language.
type Error struct {
	Key  string
	Data map[string]any
}

func (e *Error) Error() string { return e.Key }

func fail(key string, kv ...any) *Error {
	e := &Error{Key: key, Data: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Data[kv[i].(string)] = kv[i+1]
	}
	return e
}

// geometry is any GeoJSON object we accept: a geometry, a Feature or a FeatureCollection.
type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
	Geometry    *geometry       `json:"geometry"`
	Features    []geometry      `json:"features"`
}

// Parse reads and checks an area. Several polygons (a FeatureCollection, or a MultiPolygon)
// become one MultiPolygon.
func Parse(data []byte) (*Area, error) {
	if len(data) > MaxBytes {
		return nil, fail("bodies.area.too_big", "MB", MaxBytes>>20)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fail("bodies.area.empty")
	}
	var g geometry
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fail("bodies.area.not_json")
	}
	var mp orb.MultiPolygon
	if err := collect(&g, &mp, 0); err != nil {
		return nil, err
	}
	if len(mp) == 0 {
		return nil, fail("bodies.area.no_polygon")
	}
	if len(mp) > MaxPolygons {
		return nil, fail("bodies.area.too_many_polygons", "Max", MaxPolygons)
	}
	a := &Area{MP: mp, Bound: mp.Bound()}
	for i, p := range mp {
		for j, r := range p {
			a.Vertices += len(r)
			if err := checkRing(r, i+1, j); err != nil {
				return nil, err
			}
		}
	}
	if a.Vertices > MaxVertices {
		return nil, fail("bodies.area.too_many_vertices", "Count", a.Vertices, "Max", MaxVertices)
	}
	for i, p := range mp {
		if err := checkCrossings(p, i+1); err != nil {
			return nil, err
		}
		for _, r := range p {
			if planar.Area(r) == 0 {
				return nil, fail("bodies.area.flat_ring", "Polygon", i+1)
			}
		}
	}
	return a, nil
}

func collect(g *geometry, mp *orb.MultiPolygon, depth int) error {
	if depth > 3 {
		return fail("bodies.area.no_polygon")
	}
	switch g.Type {
	case "Polygon":
		var p [][][]float64
		if err := json.Unmarshal(g.Coordinates, &p); err != nil {
			return fail("bodies.area.bad_coordinates")
		}
		poly, err := polygon(p)
		if err != nil {
			return err
		}
		*mp = append(*mp, poly)
	case "MultiPolygon":
		var ps [][][][]float64
		if err := json.Unmarshal(g.Coordinates, &ps); err != nil {
			return fail("bodies.area.bad_coordinates")
		}
		for _, p := range ps {
			poly, err := polygon(p)
			if err != nil {
				return err
			}
			*mp = append(*mp, poly)
		}
	case "Feature":
		if g.Geometry == nil {
			return fail("bodies.area.no_polygon")
		}
		return collect(g.Geometry, mp, depth+1)
	case "FeatureCollection":
		for i := range g.Features {
			if err := collect(&g.Features[i], mp, depth+1); err != nil {
				return err
			}
		}
	case "":
		return fail("bodies.area.no_type")
	default:
		return fail("bodies.area.wrong_type", "Type", truncate(g.Type, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func polygon(p [][][]float64) (orb.Polygon, error) {
	if len(p) == 0 {
		return nil, fail("bodies.area.no_ring")
	}
	poly := make(orb.Polygon, len(p))
	for i, ring := range p {
		r := make(orb.Ring, len(ring))
		for j, c := range ring {
			if len(c) < 2 || len(c) > 3 {
				return nil, fail("bodies.area.bad_coordinates")
			}
			lng, lat := c[0], c[1]
			if math.IsNaN(lng) || math.IsNaN(lat) || lng < -180 || lng > 180 || lat < -90 || lat > 90 {
				return nil, fail("bodies.area.out_of_range", "Lng", lng, "Lat", lat)
			}
			r[j] = orb.Point{lng, lat}
		}
		poly[i] = r
	}
	return poly, nil
}

// checkRing: at least four positions, the last equal to the first (GeoJSON's closed ring).
func checkRing(r orb.Ring, poly, ring int) error {
	if len(r) < 4 {
		return fail("bodies.area.short_ring", "Polygon", poly)
	}
	if r[0] != r[len(r)-1] {
		return fail("bodies.area.not_closed", "Polygon", poly, "Lng", r[0][0], "Lat", r[0][1])
	}
	return nil
}

// Contains reports whether the point lies inside (or on the edge of) the area.
func (a *Area) Contains(lat, lng float64) bool {
	p := orb.Point{lng, lat}
	return a.Bound.Contains(p) && planar.MultiPolygonContains(a.MP, p)
}

// GeoJSON is the area as one GeoJSON MultiPolygon (what is stored and drawn).
func (a *Area) GeoJSON() []byte {
	coords := make([][][][2]float64, len(a.MP))
	for i, p := range a.MP {
		coords[i] = make([][][2]float64, len(p))
		for j, r := range p {
			coords[i][j] = make([][2]float64, len(r))
			for k, pt := range r {
				coords[i][j][k] = [2]float64{pt[0], pt[1]}
			}
		}
	}
	b, _ := json.Marshal(map[string]any{"type": "MultiPolygon", "coordinates": coords})
	return b
}

// BBox is the area's bounding box: min longitude, min latitude, max longitude, max latitude.
func (a *Area) BBox() [4]float64 {
	return [4]float64{a.Bound.Min[0], a.Bound.Min[1], a.Bound.Max[0], a.Bound.Max[1]}
}
