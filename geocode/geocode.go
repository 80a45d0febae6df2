// Package geocode turns addresses into places and places into readable names. Providers: a
// bundled offline gazetteer (default, no network) and Nominatim; a Redis cache sits in front of
// either. It is its own package because the report form, the map, the API and Open311 all use
// it, and none of handlers/store/views owns it.
package geocode

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"hazardwatch/i18n"
)

// Place is one answer: a readable label and a point. Approximate marks answers from the offline
// fallback when the configured provider failed.
type Place struct {
	Label       string  `json:"label"`
	Lat         float64 `json:"lat"`
	Lng         float64 `json:"lng"`
	Approximate bool    `json:"approximate,omitempty"`
	Lang        string  `json:"lang,omitempty"` // the language Label is in (BCP 47), as far as the provider says
}

// Point is a position, such as the centre of the map someone searches from.
type Point struct{ Lat, Lng float64 }

// Provider is a geocoding service.
type Provider interface {
	// Search finds up to limit places matching free text, best first. With a near point (at most
	// one is used), places close to it rank first and labels leave out its country.
	Search(ctx context.Context, q string, limit int, near ...Point) ([]Place, error)
	// Reverse names the place at a point. ErrNoResult when there is nothing to say.
	Reverse(ctx context.Context, lat, lng float64) (Place, error)
}

// ErrNoResult means the provider knows nothing there.
var ErrNoResult = errors.New("geocode: no result")

// Query limits, shared by the API and the UI.
const (
	MinQuery = 2
	MaxQuery = 200
	Limit    = 8
)

// NormalizeQuery is the form queries are cached under: trimmed, lower-cased, white space folded.
func NormalizeQuery(q string) string { return strings.ToLower(strings.Join(strings.Fields(q), " ")) }

// CheckQuery says what is wrong with a search text (the zero Msg: nothing).
func CheckQuery(q string) i18n.Msg {
	n := len([]rune(strings.TrimSpace(q)))
	switch {
	case n < MinQuery:
		return i18n.M("errors.geo.query_short", "Min", MinQuery)
	case n > MaxQuery:
		return i18n.M("errors.geo.query_long", "Max", MaxQuery)
	}
	return i18n.Msg{}
}

// CheckPoint says what is wrong with coordinates (the zero Msg: nothing).
func CheckPoint(lat, lng float64) i18n.Msg {
	switch {
	case math.IsNaN(lat) || math.IsNaN(lng) || math.IsInf(lat, 0) || math.IsInf(lng, 0):
		return i18n.M("errors.geo.not_numbers")
	case lat < -90 || lat > 90:
		return i18n.M("errors.geo.latitude")
	case lng < -180 || lng > 180:
		return i18n.M("errors.geo.longitude")
	}
	return i18n.Msg{}
}

// ParsePoint reads "lat,lng" (the near= parameter), or says what is wrong with it.
func ParsePoint(s string) (Point, i18n.Msg) {
	la, ln, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(la), 64)
	lng, err2 := strconv.ParseFloat(strings.TrimSpace(ln), 64)
	if !ok || err1 != nil || err2 != nil {
		return Point{}, i18n.M("errors.geo.point_format")
	}
	return Point{lat, lng}, CheckPoint(lat, lng)
}

// distanceKm is the great-circle distance between two points.
func distanceKm(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371.0
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := (lat2-lat1)*math.Pi/180, (lng2-lng1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
