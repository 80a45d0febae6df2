package area

import (
	"slices"

	"github.com/paulmach/orb"
)

type segment struct {
	a, b       orb.Point
	ring, idx  int // which ring of the polygon, which edge of the ring
	ringEdges  int
	minX, maxX float64
}

// checkCrossings finds two edges of a polygon (its outer ring and holes together) that touch or
// cross, other than neighbours sharing their vertex. A sweep along longitude keeps only the edges
// whose span covers the current one: for real boundaries that is a handful, so a city's 100,000
// vertices take milliseconds, not the hours that testing every pair would.
func checkCrossings(p orb.Polygon, poly int) error {
	var segs []segment
	for ri, r := range p {
		n := len(r) - 1
		for i := 0; i < n; i++ {
			a, b := r[i], r[i+1]
			if a == b {
				continue // a repeated vertex is harmless
			}
			segs = append(segs, segment{a: a, b: b, ring: ri, idx: i, ringEdges: n, minX: min(a[0], b[0]), maxX: max(a[0], b[0])})
		}
	}
	slices.SortFunc(segs, func(x, y segment) int {
		switch {
		case x.minX < y.minX:
			return -1
		case x.minX > y.minX:
			return 1
		}
		return 0
	})
	var active []segment
	for _, s := range segs {
		keep := active[:0]
		for _, o := range active {
			if o.maxX >= s.minX {
				keep = append(keep, o)
			}
		}
		active = keep
		for _, o := range active {
			if neighbours(s, o) {
				continue
			}
			if intersects(s.a, s.b, o.a, o.b) {
				return fail("bodies.area.crosses", "Polygon", poly, "Lng", round6(s.a[0]), "Lat", round6(s.a[1]))
			}
		}
		active = append(active, s)
	}
	return nil
}

func round6(f float64) float64 { return float64(int64(f*1e6)) / 1e6 }

// neighbours are consecutive edges of one ring, which share a vertex by design; they still fail
// when they fold back over each other.
func neighbours(s, o segment) bool {
	if s.ring != o.ring {
		return false
	}
	d := s.idx - o.idx
	if d == 1 || d == -1 || d == s.ringEdges-1 || d == 1-s.ringEdges {
		// Sharing one vertex is fine; overlapping along a line (a spike) is not.
		return !collinearOverlap(s, o)
	}
	return false
}

func collinearOverlap(s, o segment) bool {
	if orient(s.a, s.b, o.a) != 0 || orient(s.a, s.b, o.b) != 0 {
		return false
	}
	// Collinear neighbours overlap when the shared vertex is not an end of the union.
	shared, x, y := s.b, s.a, o.b
	switch {
	case s.b == o.a:
		shared, x, y = s.b, s.a, o.b
	case s.a == o.b:
		shared, x, y = s.a, s.b, o.a
	default:
		return true
	}
	return dot(sub(x, shared), sub(y, shared)) > 0
}

func sub(a, b orb.Point) orb.Point { return orb.Point{a[0] - b[0], a[1] - b[1]} }
func dot(a, b orb.Point) float64   { return a[0]*b[0] + a[1]*b[1] }

func orient(a, b, c orb.Point) int {
	v := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func onSegment(a, b, p orb.Point) bool {
	return min(a[0], b[0]) <= p[0] && p[0] <= max(a[0], b[0]) && min(a[1], b[1]) <= p[1] && p[1] <= max(a[1], b[1])
}

// intersects reports whether segments ab and cd share any point.
func intersects(a, b, c, d orb.Point) bool {
	if max(a[1], b[1]) < min(c[1], d[1]) || max(c[1], d[1]) < min(a[1], b[1]) {
		return false
	}
	o1, o2, o3, o4 := orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
	if o1 != o2 && o3 != o4 {
		return true
	}
	return (o1 == 0 && onSegment(a, b, c)) || (o2 == 0 && onSegment(a, b, d)) ||
		(o3 == 0 && onSegment(c, d, a)) || (o4 == 0 && onSegment(c, d, b))
}
