package mapview

import (
	"cmp"
	"context"
	"slices"

	"hazardwatch/store"
)

// inViewScan bounds how far back the list beside a busy view walks the time index.
const inViewScan = 5000

// Newest lists the ids of the n newest matching reports in the box, newest first, and how many
// match in all. A view holding few reports sorts them by creation time; a busy one walks the time
// index from the newest report and keeps those in the box, so it never reads every point.
func (m *Map) Newest(ctx context.Context, q Query, n int) ([]string, int64, error) {
	total, err := m.Count(ctx, q)
	if err != nil || total == 0 {
		return nil, total, err
	}
	if total <= MaxPoints*4 {
		pts, err := m.Points(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		ids := make([]string, len(pts))
		for i, p := range pts {
			ids[i] = p.ID
		}
		times, err := m.st.CreatedTimes(ctx, ids)
		if err != nil {
			return nil, 0, err
		}
		order := make([]int, len(ids))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Or(times[b].Compare(times[a]), cmp.Compare(ids[a], ids[b])) })
		out := make([]string, 0, n)
		for _, i := range order[:min(n, len(order))] {
			out = append(out, ids[i])
		}
		return out, total, nil
	}
	b := clampBox(q.Box)
	out := make([]string, 0, n)
	const chunk = 500
	for offset := int64(0); offset < inViewScan && len(out) < n; offset += chunk {
		ids, times, err := m.st.Newest(ctx, offset, chunk)
		if err != nil {
			return nil, 0, err
		}
		markers, err := m.st.Markers(ctx, ids)
		if err != nil {
			return nil, 0, err
		}
		for i, id := range ids {
			if !q.Since.IsZero() && times[i].Before(q.Since) {
				return out, total, nil // older than asked: the rest are older still
			}
			mk, ok := markers[id]
			if !ok {
				continue
			}
			pt := store.GeoPoint{ID: id, Type: mk.Type, Severity: mk.Severity, Status: mk.Status, Lat: mk.Lat, Lng: mk.Lng}
			if matches(pt, q, b) {
				out = append(out, id)
				if len(out) == n {
					break
				}
			}
		}
		if len(ids) < chunk {
			break
		}
	}
	return out, total, nil
}
