package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/geocode"
	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/views"
)

// home serves the hazard map. ?lat=&lng=&z= sets the view (shared links); ?q= searches places,
// which is how the address box works without JavaScript.
func (h *handler) home(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := h.page(c, say(c, "map.title"))
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet-heat.js", "js/map.js", "js/search.js"}
	m := views.MapView{
		TileURL:     h.cfg.MapTileURL,
		Attribution: h.cfg.MapAttribution,
		Lat:         h.cfg.MapLat,
		Lng:         h.cfg.MapLng,
		Zoom:        h.cfg.MapZoom,
		Labels:      mapLabelsJSON(ctx),
		Legend:      mapLegend(ctx),
	}
	if c.Query("lat") != "" || c.Query("lng") != "" {
		lat, lng, msg := parsePoint(c)
		zoom, err := strconv.Atoi(c.Query("z", "14"))
		if msg.IsZero() && (err != nil || zoom < 1 || zoom > 19) {
			msg = i18n.M("map.link.zoom")
		}
		if !msg.IsZero() {
			p.Flashes = append(p.Flashes, views.Flash{Kind: "error", Message: i18n.T(ctx, "map.link.invalid", map[string]any{"Problem": msg})})
		} else {
			m.Lat, m.Lng, m.Zoom, m.FromURL = lat, lng, zoom, true
		}
	}

	// Without JavaScript the address box sends the centre of the view it was shown with.
	search := views.PlaceSearchView{Near: fmt.Sprintf("%.4f,%.4f", m.Lat, m.Lng), TownsOnly: h.townsOnly()}
	if _, ok := c.Queries()["q"]; ok {
		search.Query, search.Searched = strings.Clone(c.Query("q")), true
		near, msg := nearParam(c)
		if near == nil {
			near = []geocode.Point{{Lat: m.Lat, Lng: m.Lng}}
		}
		search.Near = fmt.Sprintf("%.4f,%.4f", near[0].Lat, near[0].Lng)
		if msg.IsZero() {
			msg = geocode.CheckQuery(search.Query)
		}
		if search.Error = i18n.Say(ctx, msg); search.Error == "" {
			if msg, err := h.overLimit(c, geocodeRule(c)); err != nil {
				return err
			} else if !msg.IsZero() {
				search.Error = i18n.Say(ctx, msg)
			} else {
				places, err := h.searchPlaces(c, search.Query, near)
				if err != nil {
					return err
				}
				search.Results = placeViews(places)
			}
		}
	}
	f, msg := parseMapFilter(c)
	if !msg.IsZero() {
		p.Flashes = append(p.Flashes, views.Flash{Kind: "error", Message: i18n.T(ctx, "map.filter.invalid", map[string]any{"Problem": msg})})
		f = mapFilter{Statuses: hazard.ActiveStatuses}
	}
	inView, err := h.inViewList(c, h.mapQuery(c, viewBox(m.Lat, m.Lng, m.Zoom), f))
	if store.IsUnavailable(err) {
		// The map page still loads; the list says why it is empty and the map retries on move.
		h.log.Warn("home: reports unavailable", "err", err)
		inView, err = views.InView{Unavailable: true}, nil
	}
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Home(p, m, search, mapFilterView(c, f), inView))
}

// mapLabelsJSON gives map.js the words for markers and popups in ctx's language, so every screen
// says the same ("Unverified", never "pending"). Made once per language.
func mapLabelsJSON(ctx context.Context) string {
	return mapLabelsByLang(i18n.From(ctx).Lang().Tag)
}

var mapLabelsByLang = cachedByLang(func(ctx context.Context) string {
	type typ struct {
		Label string `json:"label"`
		Icon  string `json:"icon"`
	}
	v := struct {
		Types      map[string]typ    `json:"types"`
		Severities map[string]string `json:"severities"`
		Statuses   map[string]string `json:"statuses"`
	}{map[string]typ{}, map[string]string{}, map[string]string{}}
	for _, t := range hazard.Types {
		v.Types[t.Code] = typ{t.Label(ctx), t.Icon}
	}
	for _, s := range hazard.Severities {
		v.Severities[s.Code] = s.Words(ctx)
	}
	for _, s := range hazard.Statuses {
		v.Statuses[string(s)] = s.Label(ctx)
	}
	b, _ := json.Marshal(v)
	return string(b)
})

// cachedByLang computes make once for each language (the pseudo-locale included).
func cachedByLang[T any](make func(ctx context.Context) T) func(tag string) T {
	byLang := map[string]T{}
	for _, l := range append(slices.Clone(i18n.Languages), i18n.Pseudo) {
		byLang[l.Tag] = make(i18n.With(context.Background(), i18n.For(l.Tag)))
	}
	return func(tag string) T { return byLang[tag] }
}

// mapLegend explains the markers in ctx's language: colour by severity, ring by status, symbol by
// type.
func mapLegend(ctx context.Context) views.MapLegend {
	return mapLegendByLang(i18n.From(ctx).Lang().Tag)
}

var mapLegendByLang = cachedByLang(func(ctx context.Context) views.MapLegend {
	var l views.MapLegend
	for _, s := range hazard.Severities {
		l.Severities = append(l.Severities, views.Option{Value: s.Code, Label: s.Words(ctx)})
	}
	for _, s := range hazard.Statuses {
		if s.Public() {
			l.Statuses = append(l.Statuses, views.Option{Value: string(s), Label: s.Label(ctx)})
		}
	}
	for _, t := range hazard.Types {
		l.Types = append(l.Types, views.Option{Value: t.Icon, Label: t.Label(ctx)})
	}
	return l
})

// mapFilterView marks the checkboxes the current filter selects.
func mapFilterView(c *fiber.Ctx, f mapFilter) views.MapFilters {
	ctx := c.UserContext()
	var v views.MapFilters
	for _, t := range hazard.Types {
		v.Types = append(v.Types, views.CheckOption{Option: views.Option{Value: t.Code, Label: t.Label(ctx)}, Checked: slices.Contains(f.Types, t.Code)})
	}
	for _, s := range hazard.Statuses {
		if !s.Public() {
			continue
		}
		v.Statuses = append(v.Statuses, views.CheckOption{Option: views.Option{Value: string(s), Label: s.Label(ctx)}, Checked: slices.Contains(f.Statuses, s)})
	}
	switch s := c.Query("since"); s {
	case "24h", "7d", "30d":
		v.Since = s
	}
	return v
}
