package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// BBox is a map viewport in degrees.
type BBox struct{ MinLng, MinLat, MaxLng, MaxLat float64 }

// Contains reports whether a point lies in the box: its minimum edges are in it, its maximum
// edges are not (so boxes side by side count every point once, and a box aligned to the map's
// grid holds exactly its cells' reports).
func (b BBox) Contains(lat, lng float64) bool {
	return lat >= b.MinLat && lat < b.MaxLat && lng >= b.MinLng && lng < b.MaxLng
}

// GeoPoint is one report as the GEO index knows it: no document read.
type GeoPoint struct {
	ID, Type, Severity string
	Status             hazard.Status
	Lat, Lng           float64
}

// InBox lists the reports of the given statuses inside b, straight from the GEO sets
// (GEOSEARCH BYBOX, one per status, pipelined). Redis measures its box in kilometres around the
// centre, so the search box is drawn wide enough to cover b and the exact degree bounds are
// checked here. Its cost grows with the points in the box: callers use it for small views, or
// give a limit (> 0): each status's search then stops at limit points (COUNT ANY), and complete
// says whether every search ended before it.
func (s *Store) InBox(ctx context.Context, b BBox, statuses []hazard.Status, limit int64) (pts []GeoPoint, complete bool, err error) {
	b = b.clampGeo()
	clat, clng := (b.MinLat+b.MaxLat)/2, (b.MinLng+b.MaxLng)/2
	width, height := b.searchKm()
	classes := geoClasses(statuses)
	cmds := make([]*redis.GeoSearchLocationCmd, len(classes))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, class := range classes {
			cmds[i] = p.GeoSearchLocation(ctx, geoKey(class), &redis.GeoSearchLocationQuery{
				GeoSearchQuery: redis.GeoSearchQuery{
					Longitude: clng, Latitude: clat,
					BoxWidth: width, BoxHeight: height, BoxUnit: "km",
					Count: int(limit), CountAny: limit > 0,
				},
				WithHash: true, // decoded here: cheaper for Redis and for us than formatted coordinates
			})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, fmt.Errorf("store: unable to search the map: %w", err)
	}
	n := 0
	for _, cmd := range cmds {
		n += len(cmd.Val())
	}
	out := make([]GeoPoint, 0, n)
	complete = true
	for i := range classes {
		if limit > 0 && int64(len(cmds[i].Val())) >= limit {
			complete = false
		}
		for _, l := range cmds[i].Val() {
			lat, lng := geoDecode(uint64(l.GeoHash))
			st, typ, sev, id, ok := parseGeoMember(l.Name)
			if !ok || !b.Contains(lat, lng) || !slices.Contains(statuses, st) {
				continue
			}
			out = append(out, GeoPoint{ID: id, Type: typ, Severity: sev, Status: st, Lat: lat, Lng: lng})
		}
	}
	return out, complete, nil
}

// searchKm is the size of a GEOSEARCH box round b's centre that covers b: Redis measures its box
// in kilometres, so it is drawn a little wider, and callers check the exact degree bounds.
func (b BBox) searchKm() (width, height float64) {
	const kmPerDeg = 111.32
	height = (b.MaxLat - b.MinLat) * kmPerDeg
	// Widest at the latitude nearest the equator within the box.
	nearEq := 0.0
	if b.MinLat > 0 {
		nearEq = b.MinLat
	} else if b.MaxLat < 0 {
		nearEq = b.MaxLat
	}
	width = (b.MaxLng - b.MinLng) * kmPerDeg * math.Cos(nearEq*math.Pi/180)
	return width*1.02 + 0.01, height*1.02 + 0.01
}

// CellPoints lists the reports in finest-level cells (GridMaxLevel) that keep accepts, with their
// creation times: one HMGET per block, whatever the number of cells. It is how a view reads
// exactly the cells on its edges, so it parses in place and builds only the points kept (a city
// view's edges hold thousands).
func (s *Store) CellPoints(ctx context.Context, cells []Cell, keep func(GeoPoint, time.Time) bool) ([]GeoPoint, []time.Time, error) {
	byTag := map[string][]string{}
	for _, c := range cells {
		if c.P != GridMaxLevel {
			return nil, nil, fmt.Errorf("store: cell points are kept at level %d, not %d", GridMaxLevel, c.P)
		}
		tag, field := block(c)
		byTag[tag] = append(byTag[tag], field)
	}
	cmds := make([]*redis.SliceCmd, 0, len(byTag))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for tag, fields := range byTag {
			cmds = append(cmds, p.HMGet(ctx, gridPointsKey(tag), fields...))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to read map cells: %w", err)
	}
	var pts []GeoPoint
	var times []time.Time
	for _, cmd := range cmds {
		for _, v := range cmd.Val() {
			str, _ := v.(string)
			for str != "" {
				var entry string
				entry, str, _ = strings.Cut(str, "|")
				p, created, ok := parseCellEntry(entry)
				if ok && (keep == nil || keep(p, created)) {
					pts = append(pts, p)
					times = append(times, created)
				}
			}
		}
	}
	return pts, times, nil
}

// parseCellEntry reads "id,lat,lng,type,severity,status,created-ms" (an id and Marker.String's
// form).
func parseCellEntry(entry string) (GeoPoint, time.Time, bool) {
	id, rest, ok := strings.Cut(entry, ",")
	m, okm := parseMarker(rest)
	if !ok || !okm {
		return GeoPoint{}, time.Time{}, false
	}
	return GeoPoint{ID: id, Type: m.Type, Severity: m.Severity, Status: m.Status, Lat: m.Lat, Lng: m.Lng}, m.Created, true
}

// Markers reads reports' markers from the position index (one HMGET per shard, pipelined); ids
// without an entry (not on the map) are left out.
func (s *Store) Markers(ctx context.Context, ids []string) (map[string]Marker, error) {
	byShard := map[string][]string{}
	for _, id := range ids {
		if validID(id) {
			byShard[posShard(id)] = append(byShard[posShard(id)], id)
		}
	}
	cmds := map[string]*redis.SliceCmd{}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard, list := range byShard {
			cmds[shard] = p.HMGet(ctx, posKey(shard), list...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read report positions: %w", err)
	}
	out := make(map[string]Marker, len(ids))
	for shard, cmd := range cmds {
		for i, v := range cmd.Val() {
			if str, ok := v.(string); ok {
				if m, err := ParseMarker(str); err == nil {
					out[byShard[shard][i]] = m
				}
			}
		}
	}
	return out, nil
}

// CountSince counts the reports created at or after since (one ZCOUNT on the time index).
func (s *Store) CountSince(ctx context.Context, since time.Time) (int64, error) {
	n, err := s.rdb.ZCount(ctx, reportsByTimeKey, strconv.FormatInt(since.UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("store: unable to count recent reports: %w", err)
	}
	return n, nil
}

// CreatedBetween lists the ids of reports created in [from, to), oldest first, at most limit.
func (s *Store) CreatedBetween(ctx context.Context, from, to time.Time, limit int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, reportsByTimeKey, &redis.ZRangeBy{
		Min: strconv.FormatInt(from.UnixMilli(), 10), Max: "(" + strconv.FormatInt(to.UnixMilli(), 10), Count: limit,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list recent reports: %w", err)
	}
	return ids, nil
}

// Newest lists report ids newest first from the time index, with their creation times.
func (s *Store) Newest(ctx context.Context, offset, count int64) ([]string, []time.Time, error) {
	zs, err := s.rdb.ZRevRangeWithScores(ctx, reportsByTimeKey, offset, offset+count-1).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to list reports: %w", err)
	}
	ids, times := make([]string, len(zs)), make([]time.Time, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
		times[i] = time.UnixMilli(int64(z.Score)).UTC()
	}
	return ids, times, nil
}

// CreatedTimes reads reports' creation times (one ZMSCORE); missing ids get the zero time.
func (s *Store) CreatedTimes(ctx context.Context, ids []string) ([]time.Time, error) {
	out := make([]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	scores, err := s.rdb.ZMScore(ctx, reportsByTimeKey, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read report times: %w", err)
	}
	for i, sc := range scores {
		if sc != 0 {
			out[i] = time.UnixMilli(int64(sc)).UTC()
		}
	}
	return out, nil
}

// ReportsByID loads documents for ids (missing ones skipped), in order.
func (s *Store) ReportsByID(ctx context.Context, ids []string) ([]*Report, error) {
	return s.reports(ctx, ids)
}
