package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// BBox is a map viewport in degrees.
type BBox struct{ MinLng, MinLat, MaxLng, MaxLat float64 }

// Contains reports whether a point lies in the box.
func (b BBox) Contains(lat, lng float64) bool {
	return lat >= b.MinLat && lat <= b.MaxLat && lng >= b.MinLng && lng <= b.MaxLng
}

// GeoPoint is one report as the GEO index knows it: no document read.
type GeoPoint struct {
	ID, Type string
	Status   hazard.Status
	Lat, Lng float64
}

// InBox lists the reports of the given statuses (and types, if any) inside b, straight from the
// GEO sets (GEOSEARCH BYBOX, one per status, pipelined). Redis measures its box in kilometres
// around the centre, so the search box is drawn wide enough to cover b and the exact degree
// bounds are checked here.
func (s *Store) InBox(ctx context.Context, b BBox, statuses []hazard.Status, types []string) ([]GeoPoint, error) {
	clat, clng := (b.MinLat+b.MaxLat)/2, (b.MinLng+b.MaxLng)/2
	const kmPerDeg = 111.32
	height := (b.MaxLat - b.MinLat) * kmPerDeg
	// Widest at the latitude nearest the equator within the box.
	nearEq := 0.0
	if b.MinLat > 0 {
		nearEq = b.MinLat
	} else if b.MaxLat < 0 {
		nearEq = b.MaxLat
	}
	width := (b.MaxLng - b.MinLng) * kmPerDeg * math.Cos(nearEq*math.Pi/180)
	cmds := make([]*redis.GeoSearchLocationCmd, len(statuses))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range statuses {
			cmds[i] = p.GeoSearchLocation(ctx, geoKey(string(st)), &redis.GeoSearchLocationQuery{
				GeoSearchQuery: redis.GeoSearchQuery{
					Longitude: clng, Latitude: clat,
					BoxWidth: width*1.02 + 0.01, BoxHeight: height*1.02 + 0.01, BoxUnit: "km",
				},
				WithCoord: true,
			})
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("store: unable to search the map: %w", err)
	}
	var out []GeoPoint
	for i, st := range statuses {
		for _, l := range cmds[i].Val() {
			typ, id, ok := strings.Cut(l.Name, ":")
			if !ok || (len(types) > 0 && !slices.Contains(types, typ)) || !b.Contains(l.Latitude, l.Longitude) {
				continue
			}
			out = append(out, GeoPoint{ID: id, Type: typ, Status: st, Lat: l.Latitude, Lng: l.Longitude})
		}
	}
	return out, nil
}

// SortByCreated keeps the points created at or after since and sorts them newest first, with
// one ZMSCORE on the time index.
func (s *Store) SortByCreated(ctx context.Context, pts []GeoPoint, since time.Time) ([]GeoPoint, error) {
	if len(pts) == 0 {
		return pts, nil
	}
	ids := make([]string, len(pts))
	for i, p := range pts {
		ids[i] = p.ID
	}
	scores, err := s.rdb.ZMScore(ctx, reportsByTimeKey, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read report times: %w", err)
	}
	min := float64(since.UnixMilli())
	type pt struct {
		p GeoPoint
		t float64
	}
	kept := make([]pt, 0, len(pts))
	for i, p := range pts {
		if scores[i] >= min {
			kept = append(kept, pt{p, scores[i]})
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].t > kept[j].t })
	out := make([]GeoPoint, len(kept))
	for i, k := range kept {
		out[i] = k.p
	}
	return out, nil
}

// ReportsByID loads documents for ids (missing ones skipped), in order.
func (s *Store) ReportsByID(ctx context.Context, ids []string) ([]*Report, error) {
	return s.reports(ctx, ids)
}

// NearbyCounts counts, for each report, the other active reports of its type within radius
// metres: one pipeline for the whole list (the review queue), reading no documents.
func (s *Store) NearbyCounts(ctx context.Context, rs []*Report, radius float64) (map[string]int, error) {
	active := []hazard.Status{hazard.Pending, hazard.Open, hazard.InProgress}
	cmds := make([][]*redis.StringSliceCmd, len(rs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range rs {
			for _, st := range active {
				cmds[i] = append(cmds[i], p.GeoSearch(ctx, geoKey(string(st)), &redis.GeoSearchQuery{
					Longitude: r.Lng, Latitude: r.Lat, Radius: radius, RadiusUnit: "m", Count: 50,
				}))
			}
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("store: unable to count nearby reports: %w", err)
	}
	out := make(map[string]int, len(rs))
	for i, r := range rs {
		for _, c := range cmds[i] {
			for _, name := range c.Val() {
				if typ, id, ok := strings.Cut(name, ":"); ok && typ == r.Type && id != r.ID {
					out[r.ID]++
				}
			}
		}
	}
	return out, nil
}
