package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/mapview"
	"hazardwatch/store"
	"hazardwatch/views"
)

// parseBBox reads minLng,minLat,maxLng,maxLat.
func parseBBox(s string) (store.BBox, i18n.Msg) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return store.BBox{}, i18n.M("errors.bbox.four")
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return store.BBox{}, i18n.M("errors.bbox.number", "Value", strconv.Quote(p))
		}
		v[i] = f
	}
	b := store.BBox{MinLng: v[0], MinLat: v[1], MaxLng: v[2], MaxLat: v[3]}
	switch {
	case b.MinLng < -180 || b.MaxLng > 180:
		return b, i18n.M("errors.bbox.longitudes")
	case b.MinLat < -90 || b.MaxLat > 90:
		return b, i18n.M("errors.bbox.latitudes")
	case b.MinLng >= b.MaxLng || b.MinLat >= b.MaxLat:
		return b, i18n.M("errors.bbox.order")
	}
	return b, i18n.Msg{}
}

// parseViewport reads bbox, zoom and the map filters into a map query for the current viewer,
// or says what is wrong with them (400).
func (h *handler) parseViewport(c *fiber.Ctx) (mapview.Query, error) {
	b, msg := parseBBox(c.Query("bbox"))
	var f mapFilter
	if msg.IsZero() {
		f, msg = parseMapFilter(c)
	}
	q := h.mapQuery(c, b, f)
	if z := c.Query("zoom"); z != "" && msg.IsZero() {
		v, err := strconv.ParseFloat(z, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 22 {
			msg = i18n.M("errors.zoom")
		} else {
			q.Zoom, q.HasZoom = int(v), true
		}
	}
	if !msg.IsZero() {
		return q, refuseMsg(fiber.StatusBadRequest, msg)
	}
	return q, nil
}

// mapQuery is a box and filters as the current viewer may see them.
func (h *handler) mapQuery(c *fiber.Ctx, b store.BBox, f mapFilter) mapview.Query {
	return mapview.Query{Box: b, Statuses: h.life.VisibleStatuses(currentUser(c), f.Statuses), Types: f.Types, Since: f.Since}
}

// mapFilter is the type/status/since part of a map query.
type mapFilter struct {
	Types    []string
	Statuses []hazard.Status
	Since    time.Time
}

// parseMapFilter reads type= and status= (comma lists) and since= (a duration such as 24h or 7d,
// or a date). Resolved and expired hazards are hidden unless asked for.
func parseMapFilter(c *fiber.Ctx) (mapFilter, i18n.Msg) {
	var f mapFilter
	for _, t := range queryList(c, "type") {
		if _, ok := hazard.TypeByCode(t); !ok {
			return f, i18n.M("errors.unknown_type", "Type", t)
		}
		f.Types = append(f.Types, t)
	}
	for _, s := range queryList(c, "status") {
		if !hazard.Status(s).Valid() {
			return f, i18n.M("errors.unknown_status", "Status", s)
		}
		f.Statuses = append(f.Statuses, hazard.Status(s))
	}
	if len(f.Statuses) == 0 {
		f.Statuses = hazard.ActiveStatuses
	}
	if s := strings.TrimSpace(c.Query("since")); s != "" && s != "all" {
		if d, err := parseSince(s); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse("2006-01-02", s); err == nil {
			f.Since = t
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			f.Since = t
		} else {
			return f, i18n.M("errors.since")
		}
	}
	return f, i18n.Msg{}
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

// apiReports is GET /api/reports?bbox=&zoom=&type=&status=&since=: a GeoJSON FeatureCollection
// of what to draw, markers carrying only what drawing needs (CONTRACT.md). It is the hottest path
// of the app, so the JSON is written by hand.
func (h *handler) apiReports(c *fiber.Ctx) error {
	q, err := h.parseViewport(c)
	if err != nil {
		return err
	}
	ans, err := h.maps.Features(c.UserContext(), q)
	if errors.Is(err, mapview.ErrSinceTooOld) {
		return refuse(fiber.StatusBadRequest, "errors.since_too_old", "Days", store.GridDays-1)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	buf := jsonBuffers.Get().(*[]byte)
	*buf = featureCollection((*buf)[:0], ans)
	c.Response().SetBody(*buf) // a copy into the response's own pooled buffer (c.Send would keep buf)
	jsonBuffers.Put(buf)
	return nil
}

// jsonBuffers hold the viewport answers while they are written: a street view's 26 KB, fresh for
// each request, was a third of what the app allocated under load.
var jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}

// featureCollection appends an answer as GeoJSON to b.
func featureCollection(b []byte, ans mapview.Answer) []byte {
	b = slices.Grow(b, 64+len(ans.Features)*220) // a marker takes about 195 bytes
	b = append(b, `{"type":"FeatureCollection","total":`...)
	b = strconv.AppendInt(b, ans.Total, 10)
	b = append(b, `,"features":[`...)
	for i, f := range ans.Features {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature",`...)
		if !f.Cluster {
			b = append(b, `"id":`...)
			b = appendJSONString(b, f.ID)
			b = append(b, ',')
		}
		b = append(b, `"geometry":{"type":"Point","coordinates":[`...)
		b = appendDegrees(b, f.Lng)
		b = append(b, ',')
		b = appendDegrees(b, f.Lat)
		b = append(b, `]},"properties":{`...)
		if f.Cluster {
			b = append(b, `"cluster":true,"count":`...)
			b = strconv.AppendInt(b, f.Count, 10)
		} else {
			b = append(b, `"id":`...)
			b = appendJSONString(b, f.ID)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, f.Type)
			b = append(b, `,"status":`...)
			b = appendJSONString(b, string(f.Status))
		}
		b = append(b, `,"severity":`...)
		b = appendJSONString(b, f.Severity)
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

// appendDegrees writes a coordinate to five decimals (about a metre: enough to draw), trailing
// zeros dropped: the same text as strconv.AppendFloat of the rounded value, written from an
// integer because the shortest-float formatting was a twelfth of a street view's CPU.
func appendDegrees(b []byte, f float64) []byte {
	n := int64(math.Round(f * 1e5))
	if n < 0 {
		b, n = append(b, '-'), -n
	}
	b = strconv.AppendInt(b, n/1e5, 10)
	frac := n % 1e5
	if frac == 0 {
		return b
	}
	digits := 5
	for frac%10 == 0 {
		frac, digits = frac/10, digits-1
	}
	b = append(b, '.')
	for d := digits - 1; d >= 0; d-- { // zero-padded to its digits
		b = append(b, byte('0'+frac/pow10[d]%10))
	}
	return b
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000}

// appendJSONString quotes s for JSON. Ids and codes are plain ASCII letters, digits, '-' and '_',
// copied as they are (strconv.AppendQuote checks every rune, a tenth of a street view's CPU);
// anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// inViewLimit is how many reports the list beside the map shows.
const inViewLimit = 50

// inView is the list beside the map (GET /reports/in-view, htmx): the newest reports in the box,
// so keyboard and screen-reader users reach every report the map shows.
func (h *handler) inView(c *fiber.Ctx) error {
	q, err := h.parseViewport(c)
	if err != nil {
		return err
	}
	v, err := h.inViewList(c, q)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.InViewList(v))
}

func (h *handler) inViewList(c *fiber.Ctx, q mapview.Query) (views.InView, error) {
	ctx := c.UserContext()
	ids, total, err := h.maps.Newest(ctx, q, inViewLimit)
	if errors.Is(err, mapview.ErrSinceTooOld) {
		return views.InView{}, refuse(fiber.StatusBadRequest, "errors.since_too_old", "Days", store.GridDays-1)
	}
	if err != nil {
		return views.InView{}, err
	}
	rs, err := h.store.ReportsByID(ctx, ids)
	if err != nil {
		return views.InView{}, err
	}
	v := views.InView{Total: int(total)}
	for _, r := range rs {
		v.Reports = append(v.Reports, h.card(c, r))
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
