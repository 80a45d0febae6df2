package store

import (
	"cmp"
	"context"
	"slices"

	"hazardwatch/hazard"
)

// feedScan bounds how many index entries one feed request walks (about 40 pipelined HMGETs).
const feedScan = 20_000

// NewestInBox lists up to n reports in statuses (and types, when given) newest first, inside b
// (nil: anywhere), for the Atom feed. A small box is read from the GEO sets (GEOSEARCH stopped
// at 5,000 points); a large one, where most new reports fall inside anyway, walks the time index
// newest first and tests each report's position from the position index, reading at most
// feedScan entries. Either way no document is read but the n returned.
func (s *Store) NewestInBox(ctx context.Context, b *BBox, statuses []hazard.Status, types []string, n int) ([]*Report, error) {
	keep := func(st hazard.Status, typ string) bool {
		return slices.Contains(statuses, st) && (len(types) == 0 || slices.Contains(types, typ))
	}
	if b != nil {
		pts, complete, err := s.InBox(ctx, *b, statuses, 5000)
		if err != nil {
			return nil, err
		}
		if complete {
			var ids []string
			for _, p := range pts {
				if keep(p.Status, p.Type) {
					ids = append(ids, p.ID)
				}
			}
			times, err := s.CreatedTimes(ctx, ids)
			if err != nil {
				return nil, err
			}
			order := make([]int, len(ids))
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, func(x, y int) int { return cmp.Or(times[y].Compare(times[x]), cmp.Compare(ids[x], ids[y])) })
			var newest []string
			for _, i := range order[:min(n, len(order))] {
				newest = append(newest, ids[i])
			}
			return s.reports(ctx, newest)
		}
	}
	var out []string
	const page = 500
	for offset := int64(0); offset < feedScan && len(out) < n; offset += page {
		ids, _, err := s.Newest(ctx, offset, page)
		if err != nil {
			return nil, err
		}
		ms, err := s.Markers(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			m, ok := ms[id]
			if ok && keep(m.Status, m.Type) && (b == nil || b.Contains(m.Lat, m.Lng)) && len(out) < n {
				out = append(out, id)
			}
		}
		if len(ids) < page {
			break
		}
	}
	return s.reports(ctx, out)
}
