package handlers

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/store"
	"hazardwatch/views"
)

// maxPoints is how many reports a viewport may hold before the answer is clusters instead.
const maxPoints = 500

// clusterGrid is the number of cells per side when clustering: at most 24 x 24 clusters keeps
// the answer far below 100 KB however many reports the view holds.
const clusterGrid = 24

// parseBBox reads minLng,minLat,maxLng,maxLat.
func parseBBox(s string) (store.BBox, string) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return store.BBox{}, "bbox must be four numbers: minLng,minLat,maxLng,maxLat."
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return store.BBox{}, fmt.Sprintf("bbox value %q is not a number.", p)
		}
		v[i] = f
	}
	b := store.BBox{MinLng: v[0], MinLat: v[1], MaxLng: v[2], MaxLat: v[3]}
	switch {
	case b.MinLng < -180 || b.MaxLng > 180:
		return b, "bbox longitudes must be between -180 and 180."
	case b.MinLat < -90 || b.MaxLat > 90:
		return b, "bbox latitudes must be between -90 and 90."
	case b.MinLng >= b.MaxLng || b.MinLat >= b.MaxLat:
		return b, "bbox must be minLng,minLat,maxLng,maxLat with each minimum below its maximum."
	}
	return b, ""
}

// parseViewport reads bbox and the map filters, or says what is wrong with them (400).
func parseViewport(c *fiber.Ctx) (store.BBox, mapFilter, error) {
	b, msg := parseBBox(c.Query("bbox"))
	if msg == "" {
		var f mapFilter
		if f, msg = parseMapFilter(c); msg == "" {
			return b, f, nil
		}
	}
	return store.BBox{}, mapFilter{}, fiber.NewError(fiber.StatusBadRequest, msg)
}

// mapFilter is the type/status/since part of a map query.
type mapFilter struct {
	Types    []string
	Statuses []hazard.Status
	Since    time.Time
}

// parseMapFilter reads type= and status= (comma lists) and since= (a duration such as 24h or 7d,
// or a date). Resolved and expired hazards are hidden unless asked for.
func parseMapFilter(c *fiber.Ctx) (mapFilter, string) {
	var f mapFilter
	for _, t := range queryList(c, "type") {
		if _, ok := hazard.TypeByCode(t); !ok {
			return f, fmt.Sprintf("Unknown hazard type %q.", t)
		}
		f.Types = append(f.Types, t)
	}
	for _, s := range queryList(c, "status") {
		if !hazard.Status(s).Valid() {
			return f, fmt.Sprintf("Unknown status %q.", s)
		}
		f.Statuses = append(f.Statuses, hazard.Status(s))
	}
	if len(f.Statuses) == 0 {
		f.Statuses = []hazard.Status{hazard.Pending, hazard.Open, hazard.InProgress}
	}
	if s := strings.TrimSpace(c.Query("since")); s != "" && s != "all" {
		if d, err := parseSince(s); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse("2006-01-02", s); err == nil {
			f.Since = t
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			f.Since = t
		} else {
			return f, "since must be a duration such as 24h or 7d, or a date such as 2026-11-01."
		}
	}
	return f, ""
}

func parseSince(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration")
	}
	return d, nil
}

// queryList reads a list parameter given as a comma list (type=a,b), repeated (type=a&type=b,
// as checkboxes send it), or both.
func queryList(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(name) {
		for _, p := range strings.Split(string(v), ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// visibleStatuses drops statuses the viewer may not see as a whole (moderators see all; others
// not rejected or withdrawn reports, nor pending ones under pre-moderation). A reporter's own
// hidden reports appear on their report list, not on the public map.
func (h *handler) visibleStatuses(u *store.User, want []hazard.Status) []hazard.Status {
	if u != nil && u.Role.AtLeast(store.RoleModerator) {
		return want
	}
	var out []hazard.Status
	for _, s := range want {
		if !s.Public() || (h.cfg.Moderation == "pre" && s == hazard.Pending) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// apiReports is GET /api/reports?bbox=&type=&status=&since=: a GeoJSON FeatureCollection of the
// reports in view, or of clusters when there are more than maxPoints.
func (h *handler) apiReports(c *fiber.Ctx) error {
	b, f, err := parseViewport(c)
	if err != nil {
		return err
	}
	pts, err := h.store.InBox(c.UserContext(), b, h.visibleStatuses(currentUser(c), f.Statuses), f.Types)
	if err != nil {
		return err
	}
	if !f.Since.IsZero() {
		if pts, err = h.store.SortByCreated(c.UserContext(), pts, f.Since); err != nil {
			return err
		}
	}
	features := make([]fiber.Map, 0, min(len(pts), maxPoints))
	if len(pts) > maxPoints {
		for _, cl := range cluster(pts, b) {
			features = append(features, fiber.Map{
				"type":       "Feature",
				"geometry":   fiber.Map{"type": "Point", "coordinates": []float64{cl.lng, cl.lat}},
				"properties": fiber.Map{"cluster": true, "count": cl.count},
			})
		}
	} else {
		ids := make([]string, len(pts))
		for i, p := range pts {
			ids[i] = p.ID
		}
		rs, err := h.store.ReportsByID(c.UserContext(), ids)
		if err != nil {
			return err
		}
		for _, r := range rs {
			features = append(features, h.feature(r))
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"type": "FeatureCollection", "features": features})
}

type clusterCell struct {
	lat, lng float64
	count    int
}

// cluster groups points into a clusterGrid x clusterGrid grid over the box; each cluster sits at
// the mean position of its points.
func cluster(pts []store.GeoPoint, b store.BBox) []clusterCell {
	cells := map[int]*clusterCell{}
	order := []int{}
	w, hgt := (b.MaxLng-b.MinLng)/clusterGrid, (b.MaxLat-b.MinLat)/clusterGrid
	for _, p := range pts {
		x := min(int((p.Lng-b.MinLng)/w), clusterGrid-1)
		y := min(int((p.Lat-b.MinLat)/hgt), clusterGrid-1)
		k := y*clusterGrid + x
		cell, ok := cells[k]
		if !ok {
			cell = &clusterCell{}
			cells[k] = cell
			order = append(order, k)
		}
		cell.lat += p.Lat
		cell.lng += p.Lng
		cell.count++
	}
	out := make([]clusterCell, 0, len(cells))
	for _, k := range order {
		cell := cells[k]
		n := float64(cell.count)
		out = append(out, clusterCell{lat: round6(cell.lat / n), lng: round6(cell.lng / n), count: cell.count})
	}
	return out
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// inViewLimit is how many reports the list beside the map shows.
const inViewLimit = 50

// inView is the list beside the map (GET /reports/in-view, htmx): the newest reports in the box,
// so keyboard and screen-reader users reach every report the map shows.
func (h *handler) inView(c *fiber.Ctx) error {
	b, f, err := parseViewport(c)
	if err != nil {
		return err
	}
	v, err := h.inViewList(c, b, f)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.InViewList(v))
}

func (h *handler) inViewList(c *fiber.Ctx, b store.BBox, f mapFilter) (views.InView, error) {
	ctx := c.UserContext()
	pts, err := h.store.InBox(ctx, b, h.visibleStatuses(currentUser(c), f.Statuses), f.Types)
	if err != nil {
		return views.InView{}, err
	}
	since := f.Since
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	// Newest first: one ZMSCORE gives every point's creation time.
	pts, err = h.store.SortByCreated(ctx, pts, since)
	if err != nil {
		return views.InView{}, err
	}
	v := views.InView{Total: len(pts)}
	ids := make([]string, 0, inViewLimit)
	for _, p := range pts[:min(len(pts), inViewLimit)] {
		ids = append(ids, p.ID)
	}
	rs, err := h.store.ReportsByID(ctx, ids)
	if err != nil {
		return views.InView{}, err
	}
	for _, r := range rs {
		v.Reports = append(v.Reports, h.card(r))
	}
	return v, nil
}

// viewBox is the area a map of about 900 x 600 pixels shows at a centre and zoom (for the list
// rendered without JavaScript).
func viewBox(lat, lng float64, zoom int) store.BBox {
	degPerPx := 360 / (256 * math.Pow(2, float64(zoom)))
	dx, dy := 450*degPerPx, 300*degPerPx*math.Cos(lat*math.Pi/180)
	return store.BBox{
		MinLng: math.Max(-180, lng-dx), MaxLng: math.Min(180, lng+dx),
		MinLat: math.Max(-90, lat-dy), MaxLat: math.Min(90, lat+dy),
	}
}
