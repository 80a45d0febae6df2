package handlers

import (
	"github.com/gofiber/fiber/v2"

	"hazardwatch/views"
)

// home serves the hazard map.
func (h *handler) home(c *fiber.Ctx) error {
	p := h.page(c, "Hazard map")
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/map.js"}
	m := views.MapView{
		TileURL:     h.cfg.MapTileURL,
		Attribution: h.cfg.MapAttribution,
		Lat:         h.cfg.MapLat,
		Lng:         h.cfg.MapLng,
		Zoom:        h.cfg.MapZoom,
	}
	return render(c, fiber.StatusOK, views.Home(p, m))
}
