package store

// The map's aggregates are kept on the same grid Redis's GEO sets use: a GEO set is a sorted set
// whose score is a 52-bit geohash (26 bits of longitude and 26 of latitude, interleaved, longitude
// first). A grid cell of p bits per axis is then one contiguous score range, so the reports of any
// cell can be read exactly with ZRANGEBYSCORE, and counts kept per cell agree with the GEO set
// about which cell a point is in. The arithmetic below is Redis's own (geohash.c), in the same
// IEEE double operations, so Go and Redis put every point in the same cell.

const (
	geoLatMin  = -85.05112878
	geoLatMax  = 85.05112878
	geoLngMin  = -180.0
	geoLngMax  = 180.0
	geoStepMax = 26
)

// geoBits returns the 26-bit longitude and latitude offsets Redis computes for a point.
func geoBits(lat, lng float64) (x, y uint32) {
	lat = min(max(lat, geoLatMin), geoLatMax)
	lng = min(max(lng, geoLngMin), geoLngMax)
	latOff := (lat - geoLatMin) / (geoLatMax - geoLatMin)
	lngOff := (lng - geoLngMin) / (geoLngMax - geoLngMin)
	latOff *= float64(uint64(1) << geoStepMax)
	lngOff *= float64(uint64(1) << geoStepMax)
	const top = 1<<geoStepMax - 1 // the northern and eastern limits belong to the last cell
	return min(uint32(lngOff), top), min(uint32(latOff), top)
}

// spread puts the bits of v in the even positions of the result.
func spread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000FFFF0000FFFF
	x = (x | x<<8) & 0x00FF00FF00FF00FF
	x = (x | x<<4) & 0x0F0F0F0F0F0F0F0F
	x = (x | x<<2) & 0x3333333333333333
	x = (x | x<<1) & 0x5555555555555555
	return x
}

// squash is spread's inverse.
func squash(x uint64) uint32 {
	x &= 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0F0F0F0F0F0F0F0F
	x = (x | x>>4) & 0x00FF00FF00FF00FF
	x = (x | x>>8) & 0x0000FFFF0000FFFF
	x = (x | x>>16) & 0x00000000FFFFFFFF
	return uint32(x)
}

// geoScore is the score GEOADD gives a point (latitude bits even, longitude bits odd).
func geoScore(lat, lng float64) uint64 {
	x, y := geoBits(lat, lng)
	return spread(y) | spread(x)<<1
}

// geoDecode turns a GEO score back into the centre of its 26-bit cell, as GEOPOS does.
func geoDecode(score uint64) (lat, lng float64) {
	y, x := squash(score), squash(score>>1)
	cell := float64(uint64(1) << geoStepMax)
	lat = geoLatMin + (float64(y)+0.5)*(geoLatMax-geoLatMin)/cell
	lng = geoLngMin + (float64(x)+0.5)*(geoLngMax-geoLngMin)/cell
	return lat, lng
}

// Cell is one grid cell: P bits per axis (the level), X counting eastwards from -180 and Y
// northwards from the GEO set's southern limit.
type Cell struct {
	P    uint8
	X, Y uint32
}

// CellOf is the level-p cell holding a point.
func CellOf(p uint8, lat, lng float64) Cell {
	x, y := geoBits(lat, lng)
	return Cell{P: p, X: x >> (geoStepMax - p), Y: y >> (geoStepMax - p)}
}

// Bounds is the cell's extent in degrees.
func (c Cell) Bounds() BBox {
	n := float64(uint64(1) << c.P)
	w, h := (geoLngMax-geoLngMin)/n, (geoLatMax-geoLatMin)/n
	return BBox{
		MinLng: geoLngMin + float64(c.X)*w, MaxLng: geoLngMin + float64(c.X+1)*w,
		MinLat: geoLatMin + float64(c.Y)*h, MaxLat: geoLatMin + float64(c.Y+1)*h,
	}
}

// scoreRange is the half-open range of GEO scores inside the cell.
func (c Cell) scoreRange() (lo, hi uint64) {
	prefix := spread(c.Y) | spread(c.X)<<1
	shift := uint(2 * (geoStepMax - c.P))
	return prefix << shift, (prefix + 1) << shift
}

// Children are the cells of the next kept grid level inside c (16: two levels down).
func (c Cell) Children() []Cell {
	out := make([]Cell, 0, 16)
	for dy := uint32(0); dy < 4; dy++ {
		for dx := uint32(0); dx < 4; dx++ {
			out = append(out, Cell{P: c.P + gridStep, X: c.X*4 + dx, Y: c.Y*4 + dy})
		}
	}
	return out
}

// CellsIn lists the level-p cells that meet b, and for each whether it lies wholly inside b.
// The caller bounds the number of cells by choosing p for the box's size.
func CellsIn(p uint8, b BBox) (cells []Cell, inside []bool) {
	b = b.clampGeo()
	lo, hi := cellSpan(p, b)
	for y := lo.Y; y <= hi.Y; y++ {
		for x := lo.X; x <= hi.X; x++ {
			c := Cell{P: p, X: x, Y: y}
			cells = append(cells, c)
			inside = append(inside, b.ContainsBox(c.Bounds()))
		}
	}
	return cells, inside
}

// cellSpan is the first and last cell a box meets. A box is half open (its maximum edges are
// not in it), so a maximum edge on a cell border does not reach into the next cell: a box
// aligned to the grid meets exactly the cells it covers.
//
// Cell borders are computed (Bounds), and a point exactly on one can round into either cell;
// a box edge within edgeSlack of a border counts as on it (far below the GEO sets' 0.6 m).
func cellSpan(p uint8, b BBox) (lo, hi Cell) {
	lo, hi = CellOf(p, b.MinLat, b.MinLng), CellOf(p, b.MaxLat, b.MaxLng)
	if lb := lo.Bounds(); lb.MaxLng-b.MinLng <= edgeSlack && lo.X < hi.X {
		lo.X++
	}
	if lb := lo.Bounds(); lb.MaxLat-b.MinLat <= edgeSlack && lo.Y < hi.Y {
		lo.Y++
	}
	if hb := hi.Bounds(); b.MaxLng-hb.MinLng <= edgeSlack && hi.X > lo.X {
		hi.X--
	}
	if hb := hi.Bounds(); b.MaxLat-hb.MinLat <= edgeSlack && hi.Y > lo.Y {
		hi.Y--
	}
	return lo, hi
}

const edgeSlack = 1e-9 // degrees: about 0.1 mm

// ContainsBox reports whether o lies wholly inside b (to within edgeSlack).
func (b BBox) ContainsBox(o BBox) bool {
	return o.MinLat >= b.MinLat-edgeSlack && o.MaxLat <= b.MaxLat+edgeSlack && o.MinLng >= b.MinLng-edgeSlack && o.MaxLng <= b.MaxLng+edgeSlack
}

// clampGeo keeps a box within the latitudes GEO sets can hold.
func (b BBox) clampGeo() BBox {
	b.MinLat, b.MaxLat = max(b.MinLat, geoLatMin), min(b.MaxLat, geoLatMax)
	return b
}

// Align widens b to whole level-p cells: a box the map asks for this way has no cell on its edge
// that must be read point by point.
func Align(p uint8, b BBox) BBox {
	b = b.clampGeo()
	lo, hi := cellSpan(p, b)
	l, h := lo.Bounds(), hi.Bounds()
	return BBox{MinLng: l.MinLng, MinLat: l.MinLat, MaxLng: h.MaxLng, MaxLat: h.MaxLat}
}
