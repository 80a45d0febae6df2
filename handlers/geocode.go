package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/geocode"
	"hazardwatch/i18n"
	"hazardwatch/views"
)

// geocodeRule limits address lookups per IP: generous for typing, tight enough to protect a
// paid or rate-limited upstream.
func geocodeRule(c *fiber.Ctx) rule { return rule{"geocode-ip", c.IP(), 120, time.Minute} }

func (h *handler) geoLimit(c *fiber.Ctx) error {
	msg, err := h.overLimit(c, geocodeRule(c))
	if err != nil {
		return err
	}
	if !msg.IsZero() {
		return refuseMsg(fiber.StatusTooManyRequests, msg)
	}
	return nil
}

// apiGeocode: GET /api/geocode?q=&near=lat,lng -> [{label, lat, lng}], places near `near` first.
func (h *handler) apiGeocode(c *fiber.Ctx) error {
	q := strings.Clone(c.Query("q"))
	if msg := geocode.CheckQuery(q); !msg.IsZero() {
		return refuseMsg(fiber.StatusBadRequest, msg)
	}
	near, msg := nearParam(c)
	if !msg.IsZero() {
		return refuseMsg(fiber.StatusBadRequest, msg)
	}
	if err := h.geoLimit(c); err != nil {
		return err
	}
	places, err := h.searchPlaces(c, q, near)
	if err != nil {
		return err
	}
	if places == nil {
		places = []geocode.Place{}
	}
	return c.JSON(places)
}

// nearParam reads near=lat,lng (the centre of the map the search comes from): none when absent,
// or what is wrong with it.
func nearParam(c *fiber.Ctx) ([]geocode.Point, i18n.Msg) {
	s := strings.TrimSpace(c.Query("near"))
	if s == "" {
		return nil, i18n.Msg{}
	}
	p, msg := geocode.ParsePoint(s)
	if !msg.IsZero() {
		return nil, i18n.M("errors.geo.near", "Problem", msg)
	}
	return []geocode.Point{p}, i18n.Msg{}
}

// searchPlaces asks the geocoder (with a bound on the wait) for up to geocode.Limit places.
func (h *handler) searchPlaces(c *fiber.Ctx, q string, near []geocode.Point) ([]geocode.Place, error) {
	ctx, cancel := context.WithTimeout(c.UserContext(), 15*time.Second)
	defer cancel()
	return h.geo.Search(ctx, q, geocode.Limit, near...)
}

// townsOnly says whether place search knows only towns and cities (the offline gazetteer), so
// the form can say why a street is not found and offer the map instead.
func (h *handler) townsOnly() bool { return h.cfg.Geocoder != "nominatim" }

// parsePoint reads lat and lng query parameters strictly.
func parsePoint(c *fiber.Ctx) (float64, float64, i18n.Msg) {
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(c.Query("lat")), 64)
	lng, err2 := strconv.ParseFloat(strings.TrimSpace(c.Query("lng")), 64)
	if err1 != nil || err2 != nil {
		return 0, 0, i18n.M("errors.geo.lat_lng")
	}
	return lat, lng, geocode.CheckPoint(lat, lng)
}

// apiReverse: GET /api/reverse?lat=&lng= -> {label, lat, lng}.
func (h *handler) apiReverse(c *fiber.Ctx) error {
	lat, lng, msg := parsePoint(c)
	if !msg.IsZero() {
		return refuseMsg(fiber.StatusBadRequest, msg)
	}
	if err := h.geoLimit(c); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 15*time.Second)
	defer cancel()
	p, err := h.geo.Reverse(ctx, lat, lng)
	if errors.Is(err, geocode.ErrNoResult) {
		return refuse(fiber.StatusNotFound, "errors.geo.no_place")
	} else if err != nil {
		return err
	}
	return c.JSON(p)
}

// suggest is the htmx partial behind the address box: a listbox of places.
func (h *handler) suggest(c *fiber.Ctx) error {
	q := strings.Clone(c.Query("q"))
	if !geocode.CheckQuery(q).IsZero() {
		return render(c, fiber.StatusOK, views.Suggestions(nil, q, h.townsOnly()))
	}
	near, msg := nearParam(c)
	if !msg.IsZero() {
		return refuseMsg(fiber.StatusBadRequest, msg)
	}
	if err := h.geoLimit(c); err != nil {
		return err
	}
	places, err := h.searchPlaces(c, q, near)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Suggestions(placeViews(places), q, h.townsOnly()))
}

func placeViews(places []geocode.Place) []views.PlaceView {
	out := make([]views.PlaceView, len(places))
	for i, p := range places {
		out[i] = views.PlaceView{Label: p.Label, Lat: p.Lat, Lng: p.Lng, Approximate: p.Approximate}
	}
	return out
}
