package handlers

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/geocode"
	"hazardwatch/views"
)

// home serves the hazard map. ?lat=&lng=&z= sets the view (shared links); ?q= searches places,
// which is how the address box works without JavaScript.
func (h *handler) home(c *fiber.Ctx) error {
	p := h.page(c, "Hazard map")
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/map.js", "js/search.js"}
	m := views.MapView{
		TileURL:     h.cfg.MapTileURL,
		Attribution: h.cfg.MapAttribution,
		Lat:         h.cfg.MapLat,
		Lng:         h.cfg.MapLng,
		Zoom:        h.cfg.MapZoom,
	}
	if c.Query("lat") != "" || c.Query("lng") != "" {
		lat, lng, msg := parsePoint(c)
		zoom, err := strconv.Atoi(c.Query("z", "14"))
		if msg == "" && (err != nil || zoom < 1 || zoom > 19) {
			msg = "The zoom level must be a whole number from 1 to 19."
		}
		if msg != "" {
			p.Flashes = append(p.Flashes, views.Flash{Kind: "error", Message: "That map link is not valid (" + msg + ") Showing the default view."})
		} else {
			m.Lat, m.Lng, m.Zoom = lat, lng, zoom
		}
	}

	var search views.PlaceSearchView
	if _, ok := c.Queries()["q"]; ok {
		search.Query, search.Searched = strings.Clone(c.Query("q")), true
		if search.Error = geocode.CheckQuery(search.Query); search.Error == "" {
			if msg, err := h.overLimit(c, geocodeRule(c)); err != nil {
				return err
			} else if msg != "" {
				search.Error = msg
			} else {
				ctx, cancel := context.WithTimeout(c.UserContext(), 15*time.Second)
				defer cancel()
				places, err := h.geo.Search(ctx, search.Query, geocode.Limit)
				if err != nil {
					return err
				}
				search.Results = placeViews(places)
			}
		}
	}
	return render(c, fiber.StatusOK, views.Home(p, m, search))
}
