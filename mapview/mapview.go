// Package mapview answers the hazard map: what to draw for a box at a zoom level (markers, or
// clusters no closer than 40 pixels), counted exactly from the per-cell aggregates Redis keeps at
// write time instead of reading every point, and the newest reports in view for the list beside
// the map. It is its own package because this is neither HTTP (handlers) nor data access (store),
// and the map, the feeds and the staff tools share it.
package mapview

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

const (
	// MaxPoints is how many reports a view without a zoom level may hold before the answer is
	// clusters (the API's behaviour before zoom= existed).
	MaxPoints = 500
	// ClusterPx is the least distance, in screen pixels, between two features at the asked zoom.
	ClusterPx = 40
	// assumedWidth is the map width in pixels assumed when a request gives no zoom.
	assumedWidth = 1024
	// maxCells bounds the cells one answer reads: a box far larger than a screen at its zoom is
	// read at a coarser level.
	maxCells = 2500
	// sincePoints: when at most this many reports were made since the asked time, they are read
	// one by one from the time index instead of the per-day counts.
	sincePoints = 2000
)

// Query is one map request. Statuses are those the viewer may see (lifecycle decides).
type Query struct {
	Box      store.BBox
	Zoom     int
	HasZoom  bool
	Statuses []hazard.Status
	Types    []string // none: all
	Since    time.Time
}

// Feature is a marker (ID set) or a cluster (Cluster true) to draw.
type Feature struct {
	ID       string
	Cluster  bool
	Count    int64
	Lat, Lng float64
	Type     string // markers
	Severity string // a cluster's: the highest inside
	Status   hazard.Status
}

// Answer is what a view holds.
type Answer struct {
	Features []Feature
	Total    int64 // matching reports in the box: the Features' counts add up to it
}

// ErrSinceTooOld means since reaches further back than the per-day counts.
var ErrSinceTooOld = errors.New("mapview: since is too far back")

// Map answers map requests from the store.
type Map struct{ st *store.Store }

// New builds a Map.
func New(st *store.Store) *Map { return &Map{st: st} }

// Level is the kept grid level whose cells are 64 pixels wide at zoom z (32 where that level is
// not kept).
func Level(z int) uint8 { return store.GridLevel(z + 2) }

// InferZoom is the zoom level at which the box fills a map assumedWidth pixels wide.
func InferZoom(b store.BBox) int {
	span := max(b.MaxLng-b.MinLng, 1e-9)
	return min(max(int(math.Floor(math.Log2(assumedWidth*360/(256*span)))), 0), 22)
}

// Features answers a view: every matching report in the box, as markers when they are few
// (without a zoom level: up to MaxPoints) and otherwise grouped so that no two features are
// closer than ClusterPx at the zoom level.
func (m *Map) Features(ctx context.Context, q Query) (Answer, error) {
	zoom := q.Zoom
	if !q.HasZoom {
		zoom = InferZoom(q.Box)
	}
	// A small view is read point by point in one round trip when it holds few reports.
	pts, few, err := m.probe(ctx, q, zoom)
	if err != nil {
		return Answer{}, err
	}
	var items []item
	var total int64
	if !few {
		if items, total, few, err = m.count(ctx, q, zoom); err != nil {
			return Answer{}, err
		}
		if few {
			if pts, err = m.Points(ctx, q); err != nil {
				return Answer{}, err
			}
		}
	}
	if few {
		// Exact positions, every report its own marker (merged only where a zoom asks for it).
		total = int64(len(pts))
		if !q.HasZoom {
			return Answer{Features: pointFeatures(pts), Total: total}, nil
		}
		items = make([]item, 0, len(pts))
		for i := range pts {
			items = append(items, pointItem(&pts[i]))
		}
	}
	fs := features(merge(items, zoom))
	return Answer{Features: fs, Total: total}, m.settleStatuses(ctx, fs)
}

// settleStatuses looks up the status of markers drawn from the summed active counts, which name
// a cell's one report but not its status: one read for the few such markers merging leaves. A
// report that changed meanwhile is drawn as a cluster of one, so the counts still add up.
func (m *Map) settleStatuses(ctx context.Context, fs []Feature) error {
	var ids []string
	for _, f := range fs {
		if !f.Cluster && f.Status == store.AnyActive {
			ids = append(ids, f.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	known, err := m.st.Markers(ctx, ids)
	if err != nil {
		return err
	}
	for i := range fs {
		if f := &fs[i]; !f.Cluster && f.Status == store.AnyActive {
			if mk, ok := known[f.ID]; ok && mk.Status.Active() {
				f.Status = mk.Status
			} else {
				*f = Feature{Cluster: true, Count: 1, Lat: f.Lat, Lng: f.Lng, Severity: f.Severity}
			}
		}
	}
	return nil
}

// probeZoom is the zoom from which a view is first tried point by point: street level, where
// most views hold fewer than MaxPoints reports.
const probeZoom = 14

// probe reads a street-level view's reports one by one, stopping early when there are more
// than MaxPoints; few says whether it got them all.
func (m *Map) probe(ctx context.Context, q Query, zoom int) ([]store.GeoPoint, bool, error) {
	if zoom < probeZoom || !q.Since.IsZero() {
		return nil, false, nil
	}
	b := clampBox(q.Box)
	pts, complete, err := m.st.InBox(ctx, b, q.Statuses, MaxPoints+1)
	if err != nil || !complete {
		return nil, false, err
	}
	pts = filter(pts, q, b)
	return pts, len(pts) <= MaxPoints, nil
}

// Count is how many matching reports the box holds.
func (m *Map) Count(ctx context.Context, q Query) (int64, error) {
	zoom := q.Zoom
	if !q.HasZoom {
		zoom = InferZoom(q.Box)
	}
	items, total, few, err := m.count(ctx, q, zoom)
	if err != nil || !few {
		return total, err
	}
	_ = items
	pts, err := m.Points(ctx, q)
	return int64(len(pts)), err
}

// item is something to draw before merging: a cell's aggregate, or one report.
type item struct {
	x, y           float64 // pixels at the zoom level
	n              int64
	sumLat, sumLng float64 // coordinates times count
	sev            [3]int64
	single         *store.GeoPoint // the report, when the item is exactly one known report
}

// pointItem points into the caller's slice of points, which outlives the items.
func pointItem(p *store.GeoPoint) item {
	it := item{n: 1, sumLat: p.Lat, sumLng: p.Lng, single: p}
	it.sev[severityIndex(p.Severity)] = 1
	return it
}

func cellItem(t store.CellTotal) item {
	it := item{n: t.N(), sumLat: float64(t.SumLat) / 1e5, sumLng: float64(t.SumLng) / 1e5, sev: t.BySeverity}
	if rid, typ, ok := t.CellCount.Single(); ok && t.Single != "" {
		it.single = &store.GeoPoint{ID: rid, Type: typ, Severity: t.Severity(), Status: t.Single, Lat: it.sumLat, Lng: it.sumLng}
	}
	return it
}

func severityIndex(code string) int {
	for i, s := range hazard.Severities {
		if s.Code == code {
			return i
		}
	}
	return 0
}

// count reads the aggregates of the cells covering the box at zoom's level: whole cells inside
// the box count as they are; cells on its edge are split, and read point by point where few
// reports remain, so the total is exact for the box asked. When the cells meeting the box hold
// at most MaxPoints reports in all, it stops there and says few: reading the points is cheaper.
func (m *Map) count(ctx context.Context, q Query, zoom int) ([]item, int64, bool, error) {
	b := clampBox(q.Box)
	if len(q.Statuses) == 0 || b.MinLat >= b.MaxLat {
		return nil, 0, true, nil
	}
	p := Level(zoom)
	for p > store.GridMinLevel && cellCount(p, b) > maxCells {
		p = store.GridLevel(int(p) - 2)
	}
	gq := store.GridQuery{Statuses: q.Statuses, Types: q.Types}
	keep := func(store.GeoPoint, time.Time) bool { return true }
	var extra []store.GeoPoint
	if !q.Since.IsZero() {
		n, err := m.st.CountSince(ctx, q.Since)
		if err != nil {
			return nil, 0, false, err
		}
		if n <= sincePoints {
			pts, err := m.recent(ctx, q, q.Since, time.Now().Add(time.Hour))
			if err != nil {
				return nil, 0, false, err
			}
			items := make([]item, len(pts))
			for i := range pts {
				items[i] = pointItem(&pts[i])
			}
			return items, int64(len(pts)), len(pts) <= MaxPoints, nil
		}
		days, partial, err := store.GridDaysSince(q.Since, time.Now())
		if err != nil {
			return nil, 0, false, ErrSinceTooOld
		}
		from := q.Since
		if partial {
			// The first day only in part: its reports since the hour asked come from the time index.
			days = days[1:]
			from = q.Since.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
			if extra, err = m.recent(ctx, q, q.Since, from); err != nil {
				return nil, 0, false, err
			}
		}
		if len(days) == 0 { // no whole day since: the time index said it all
			items := make([]item, len(extra))
			for i := range extra {
				items[i] = pointItem(&extra[i])
			}
			return items, int64(len(extra)), len(extra) <= MaxPoints, nil
		}
		gq.Days = days
		keep = func(_ store.GeoPoint, created time.Time) bool { return !created.Before(from) }
	}

	cells, inside := store.CellsIn(p, b)
	counts, err := m.st.GridTotals(ctx, cells, gq)
	if err != nil {
		return nil, 0, false, err
	}
	if q.Since.IsZero() {
		var upper int64
		for _, cc := range counts {
			upper += cc.N()
		}
		if upper <= MaxPoints {
			return nil, upper, true, nil
		}
	}
	items := make([]item, 0, len(cells))
	var total int64
	var edge []store.Cell
	// take counts the cells wholly inside the box as they are and keeps the others for the edge.
	take := func(cells []store.Cell, counts []store.CellTotal, whole func(i int) bool) {
		for i, c := range cells {
			if counts[i].N() <= 0 {
				continue
			}
			if whole(i) {
				it := cellItem(counts[i])
				items = append(items, it)
				total += it.n
			} else {
				edge = append(edge, c)
			}
		}
	}
	take(cells, counts, func(i int) bool { return inside[i] })
	// The edge: split its cells into their children. Children wholly inside the box count as
	// cells; the finest children the box's edge crosses are read point by point (one HMGET per
	// block) and their reports kept if inside.
	for len(edge) > 0 {
		var fetch, read []store.Cell
		for _, c := range edge {
			if c.P >= store.GridMaxLevel {
				fetch = append(fetch, c)
				continue
			}
			for _, ch := range c.Children() {
				switch {
				case !intersects(ch.Bounds(), b):
				case b.ContainsBox(ch.Bounds()) || ch.P < store.GridMaxLevel:
					read = append(read, ch)
				default:
					fetch = append(fetch, ch)
				}
			}
		}
		pts, err := m.inCells(ctx, fetch, q, b, keep)
		if err != nil {
			return nil, 0, false, err
		}
		for i := range pts {
			items = append(items, pointItem(&pts[i]))
		}
		total += int64(len(pts))
		edge = edge[:0]
		if len(read) == 0 {
			break
		}
		if counts, err = m.st.GridTotals(ctx, read, gq); err != nil {
			return nil, 0, false, err
		}
		take(read, counts, func(i int) bool { return b.ContainsBox(read[i].Bounds()) })
	}
	for i := range extra {
		items = append(items, pointItem(&extra[i]))
	}
	total += int64(len(extra))
	return items, total, total <= MaxPoints, nil
}

// inCells reads the matching reports of finest cells point by point, keeping those in the box.
func (m *Map) inCells(ctx context.Context, cells []store.Cell, q Query, b store.BBox, keep func(store.GeoPoint, time.Time) bool) ([]store.GeoPoint, error) {
	if len(cells) == 0 {
		return nil, nil
	}
	pts, _, err := m.st.CellPoints(ctx, cells, func(p store.GeoPoint, created time.Time) bool {
		return matches(p, q, b) && keep(p, created)
	})
	return pts, err
}

// bornSince keeps the points keep accepts given their creation times.
func (m *Map) bornSince(ctx context.Context, pts []store.GeoPoint, keep func(store.GeoPoint, time.Time) bool) ([]store.GeoPoint, error) {
	ids := make([]string, len(pts))
	for i, p := range pts {
		ids[i] = p.ID
	}
	times, err := m.st.CreatedTimes(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := pts[:0]
	for i, p := range pts {
		if !times[i].IsZero() && keep(p, times[i]) {
			out = append(out, p)
		}
	}
	return out, nil
}

// recent reads the matching reports in the box created in [from, to) from the time index.
func (m *Map) recent(ctx context.Context, q Query, from, to time.Time) ([]store.GeoPoint, error) {
	ids, err := m.st.CreatedBetween(ctx, from, to, sincePoints*4)
	if err != nil {
		return nil, err
	}
	markers, err := m.st.Markers(ctx, ids)
	if err != nil {
		return nil, err
	}
	var pts []store.GeoPoint
	for _, id := range ids {
		mk, ok := markers[id]
		if !ok {
			continue
		}
		pts = append(pts, store.GeoPoint{ID: id, Type: mk.Type, Severity: mk.Severity, Status: mk.Status, Lat: mk.Lat, Lng: mk.Lng})
	}
	return filter(pts, q, clampBox(q.Box)), nil
}

// Points reads every matching report in the box one by one: for views known to hold few.
func (m *Map) Points(ctx context.Context, q Query) ([]store.GeoPoint, error) {
	b := clampBox(q.Box)
	if !q.Since.IsZero() {
		if n, err := m.st.CountSince(ctx, q.Since); err == nil && n <= sincePoints {
			return m.recent(ctx, q, q.Since, time.Now().Add(time.Hour))
		}
	}
	pts, _, err := m.st.InBox(ctx, b, q.Statuses, 0)
	if err != nil {
		return nil, err
	}
	pts = filter(pts, q, b)
	if q.Since.IsZero() {
		return pts, nil
	}
	return m.bornSince(ctx, pts, func(_ store.GeoPoint, t time.Time) bool { return !t.Before(q.Since) })
}

// filter keeps the points in the box of the query's statuses and types.
func filter(pts []store.GeoPoint, q Query, b store.BBox) []store.GeoPoint {
	out := pts[:0]
	for _, p := range pts {
		if matches(p, q, b) {
			out = append(out, p)
		}
	}
	return out
}

// matches reports whether a point is in the box and of the query's statuses and types.
func matches(p store.GeoPoint, q Query, b store.BBox) bool {
	return b.Contains(p.Lat, p.Lng) && slices.Contains(q.Statuses, p.Status) && (len(q.Types) == 0 || slices.Contains(q.Types, p.Type))
}

func clampBox(b store.BBox) store.BBox {
	const maxLat = 85.05112878
	b.MinLat, b.MaxLat = max(b.MinLat, -maxLat), min(b.MaxLat, maxLat)
	return b
}

func intersects(a, b store.BBox) bool {
	return a.MinLng < b.MaxLng && a.MaxLng > b.MinLng && a.MinLat < b.MaxLat && a.MaxLat > b.MinLat
}

func cellCount(p uint8, b store.BBox) int {
	lo, hi := store.CellOf(p, b.MinLat, b.MinLng), store.CellOf(p, b.MaxLat, b.MaxLng)
	return int(hi.X-lo.X+1) * int(hi.Y-lo.Y+1)
}

// --- pixels and merging ---

// pixel is a point's Web-Mercator position in pixels at zoom z.
func pixel(lat, lng float64, z int) (x, y float64) {
	scale := 256 * math.Exp2(float64(z))
	s := math.Sin(lat * math.Pi / 180)
	return (lng + 180) / 360 * scale, (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * scale
}

// merge groups items until no two are closer than ClusterPx at zoom z: each pass lets the
// fullest item take in its neighbours within the radius (a grid of radius-sized buckets finds
// them), and passes repeat until one merges nothing, which leaves every pair at least the radius
// apart.
func merge(items []item, z int) []item {
	for i := range items {
		it := &items[i]
		it.x, it.y = pixel(it.sumLat/float64(it.n), it.sumLng/float64(it.n), z)
	}
	const r = ClusterPx
	items = premerge(items, r/2, z)
	// The grid: per bucket the last item in it, and per item the one before it in its bucket.
	// Buffers live across passes; the answer does not depend on the order neighbours are met.
	type key struct{ x, y int }
	bucket := func(it item) key { return key{int(math.Floor(it.x / r)), int(math.Floor(it.y / r))} }
	last := make(map[key]int32, len(items))
	prev := make([]int32, len(items))
	taken := make([]bool, len(items))
	spare := make([]item, 0, len(items))
	for {
		slices.SortFunc(items, func(a, b item) int {
			return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.x, b.x), cmp.Compare(a.y, b.y))
		})
		clear(last)
		prev, taken = prev[:len(items)], taken[:len(items)]
		clear(taken)
		for i, it := range items {
			k := bucket(it)
			prev[i] = -1
			if j, ok := last[k]; ok {
				prev[i] = j
			}
			last[k] = int32(i)
		}
		out := spare[:0]
		merged := false
		for i := range items {
			if taken[i] {
				continue
			}
			taken[i] = true
			c := items[i]
			k := bucket(c)
			for dx := -1; dx <= 1; dx++ {
				for dy := -1; dy <= 1; dy++ {
					j, ok := last[key{k.x + dx, k.y + dy}]
					for ; ok && j >= 0; j = prev[j] {
						o := &items[j]
						if taken[j] || math.Hypot(o.x-items[i].x, o.y-items[i].y) >= r {
							continue
						}
						taken[j], merged = true, true
						c.n += o.n
						c.sumLat += o.sumLat
						c.sumLng += o.sumLng
						for s := range c.sev {
							c.sev[s] += o.sev[s]
						}
						c.single = nil
					}
				}
			}
			if c.n != items[i].n {
				c.x, c.y = pixel(c.sumLat/float64(c.n), c.sumLng/float64(c.n), z)
			}
			out = append(out, c)
		}
		spare, items = items, out
		if !merged {
			return items
		}
	}
}

// premerge joins the items that share a square of side px (any two are closer than the merge
// radius when px is half of it, so merge would join them anyway): a city view's thousands of
// cells and edge reports become at most one item per square before the passes that sort.
func premerge(items []item, px float64, z int) []item {
	if len(items) < 64 {
		return items
	}
	type key struct{ x, y int }
	at := make(map[key]int, len(items)/4)
	out := items[:0]
	for _, it := range items {
		k := key{int(math.Floor(it.x / px)), int(math.Floor(it.y / px))}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, it)
			continue
		}
		c := &out[i]
		c.n += it.n
		c.sumLat += it.sumLat
		c.sumLng += it.sumLng
		for s := range c.sev {
			c.sev[s] += it.sev[s]
		}
		c.single = nil
	}
	for i := range out {
		if c := &out[i]; c.single == nil && c.n > 0 {
			c.x, c.y = pixel(c.sumLat/float64(c.n), c.sumLng/float64(c.n), z)
		}
	}
	return out
}

// features turns items into what the API draws, in a stable order.
func features(items []item) []Feature {
	order := make([]place, 0, len(items))
	for i, it := range items {
		switch {
		case it.n <= 0:
		case it.n == 1 && it.single != nil:
			order = append(order, place{1, it.single.Lat, it.single.Lng, int32(i)})
		default:
			order = append(order, place{it.n, round6(it.sumLat / float64(it.n)), round6(it.sumLng / float64(it.n)), int32(i)})
		}
	}
	sortPlaces(order, func(i int32) string {
		if it := &items[i]; it.n == 1 && it.single != nil {
			return it.single.ID
		}
		return ""
	})
	out := make([]Feature, len(order))
	for k, pl := range order {
		it := &items[pl.i]
		if p := it.single; pl.count == 1 && p != nil {
			out[k] = Feature{ID: p.ID, Count: 1, Lat: p.Lat, Lng: p.Lng, Type: p.Type, Severity: p.Severity, Status: p.Status}
			continue
		}
		sev := ""
		for s := 2; s >= 0; s-- {
			if it.sev[s] > 0 {
				sev = hazard.Severities[s].Code
				break
			}
		}
		out[k] = Feature{Cluster: true, Count: pl.count, Lat: pl.lat, Lng: pl.lng, Severity: sev}
	}
	return out
}

// pointFeatures is features for reports that are each their own marker (a view without a zoom
// level), built straight from the points: a street view's hot path.
func pointFeatures(pts []store.GeoPoint) []Feature {
	order := make([]place, len(pts))
	for i, p := range pts {
		order[i] = place{1, p.Lat, p.Lng, int32(i)}
	}
	sortPlaces(order, func(i int32) string { return pts[i].ID })
	out := make([]Feature, len(order))
	for k, pl := range order {
		p := &pts[pl.i]
		out[k] = Feature{ID: p.ID, Count: 1, Lat: p.Lat, Lng: p.Lng, Type: p.Type, Severity: p.Severity, Status: p.Status}
	}
	return out
}

// place is where a feature goes in the answer: fullest first, then south to north, west to east,
// then by id. It holds no pointers, so sorting it costs the collector nothing (sorting the
// Features themselves moved pointers under write barriers: a tenth of a street view's CPU under
// load).
type place struct {
	count    int64
	lat, lng float64
	i        int32
}

func sortPlaces(order []place, id func(int32) string) {
	slices.SortFunc(order, func(a, b place) int {
		if a.count != b.count {
			return cmp.Compare(b.count, a.count)
		}
		if c := cmp.Compare(a.lat, b.lat); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lng, b.lng); c != 0 {
			return c
		}
		return strings.Compare(id(a.i), id(b.i))
	})
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }
