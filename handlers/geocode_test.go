package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type jsonPlace struct {
	Label string
	Lat   float64
	Lng   float64
	Lang  string
}

func TestAPIGeocode(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/api/geocode?q=" + url.QueryEscape("  haifa "))
	var places []jsonPlace
	if err := json.Unmarshal([]byte(body), &places); err != nil || resp.StatusCode != 200 {
		t.Fatalf("geocode: %d %s", resp.StatusCode, body)
	}
	if len(places) == 0 || places[0].Label != "Haifa, Israel" || places[0].Lat < 32 || places[0].Lat > 33.5 {
		t.Fatalf("geocode haifa: %+v", places)
	}
	resp, body = c.get("/api/geocode?q=qqqzzzxxx")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("no match should be an empty list: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"", "a", strings.Repeat("x", 201)} {
		resp, body := c.get("/api/geocode?q=" + url.QueryEscape(q))
		var e struct{ Error string }
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("q=%q: %d %s", q, resp.StatusCode, body)
		}
	}
}

func TestAPIReverse(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/api/reverse?lat=32.8191&lng=34.9983")
	var p jsonPlace
	if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != 200 || p.Label != "near Haifa, Israel" {
		t.Fatalf("reverse: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"lat=abc&lng=1", "lat=91&lng=0", "lat=0&lng=-180.5", "lat=NaN&lng=0", "lng=3", "lat=1&lng=1e999"} {
		resp, body := c.get("/api/reverse?" + q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

// A Hebrew reader searches in Hebrew and gets Hebrew names, marked as such (issue 19 point 5);
// the reverse label's words come from the catalog.
func TestGeocodeInHebrew(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/api/geocode?q="+url.QueryEscape("חיפ"), "Accept-Language", "he")
	var places []jsonPlace
	if err := json.Unmarshal([]byte(body), &places); err != nil || resp.StatusCode != 200 ||
		len(places) == 0 || places[0].Label != "חיפה, ישראל" || places[0].Lang != "he" || places[0].Lat < 32 || places[0].Lat > 33.5 {
		t.Fatalf("Hebrew search: %d %s", resp.StatusCode, body)
	}
	resp, body = c.get("/api/reverse?lat=32.8191&lng=34.9983", "Accept-Language", "he")
	var p jsonPlace
	if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != 200 || p.Label != "ליד חיפה, ישראל" || p.Lang != "he" {
		t.Fatalf("Hebrew reverse: %d %s", resp.StatusCode, body)
	}
	_, body = c.get("/geocode/suggest?q="+url.QueryEscape("haifa"), "Accept-Language", "he")
	if got := doc(t, "<ul>"+body+"</ul>").Find(`[role="option"]`).First().AttrOr("data-label", ""); got != "חיפה, ישראל" {
		t.Fatalf("Hebrew suggestions: %q", body)
	}
	// An English reader typing Hebrew gets the English name.
	_, body = c.get("/api/geocode?q=" + url.QueryEscape("חיפה"))
	if err := json.Unmarshal([]byte(body), &places); err != nil || len(places) == 0 || places[0].Label != "Haifa, Israel" || places[0].Lang != "en" {
		t.Fatalf("Hebrew query, English reader: %s", body)
	}
}

func TestGeocodeRateLimit(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	for i := 0; i < 120; i++ {
		if resp, _ := c.get("/api/reverse?lat=32.8&lng=35"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := c.get("/api/geocode?q=haifa")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "try again") {
		t.Fatalf("over the limit: %d %s", resp.StatusCode, body)
	}
}

func TestSuggestPartial(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/geocode/suggest?q=haif")
	d := doc(t, "<ul>"+body+"</ul>")
	opt := d.Find(`[role="option"]`).First()
	if resp.StatusCode != 200 || strings.Contains(body, "<html") || opt.AttrOr("data-label", "") != "Haifa, Israel" || opt.AttrOr("data-lat", "") == "" {
		t.Fatalf("suggest: %d %s", resp.StatusCode, body)
	}
	if _, body := c.get("/geocode/suggest?q=h"); strings.TrimSpace(body) != "" {
		t.Fatalf("a one-letter query should suggest nothing: %q", body)
	}
	// Nothing found: say why a street is not found, and offer the map.
	_, body = c.get("/geocode/suggest?q=" + url.QueryEscape("Baker Street"))
	d = doc(t, "<ul>"+body+"</ul>")
	if msg := d.Find(`[data-testid="no-places"]`).Text(); !strings.Contains(msg, "Street names and postcodes cannot be searched here") {
		t.Fatalf("no match: %q", body)
	}
	if d.Find(`[role="option"][data-action="map"]`).Length() != 1 {
		t.Fatalf("no match should offer the map: %q", body)
	}
}

// near= ranks places close to the map's centre first and names them as people there do; a bad
// near is a 400 that says why.
func TestGeocodeNear(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	first := func(path string) string {
		t.Helper()
		resp, body := c.get(path)
		var places []jsonPlace
		if err := json.Unmarshal([]byte(body), &places); err != nil || resp.StatusCode != 200 || len(places) == 0 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return places[0].Label
	}
	if got := first("/api/geocode?q=camden&near=51.5074,-0.1278"); got != "Camden Town, London" {
		t.Errorf("camden from London: %q", got)
	}
	if got := first("/api/geocode?q=camden&near=39.95,-75.16"); got != "Camden, NJ" {
		t.Errorf("camden from Philadelphia: %q", got)
	}
	if got := first("/api/geocode?q=camden"); got != "Camden, NJ, United States" {
		t.Errorf("camden from nowhere: %q", got)
	}
	_, body := c.get("/geocode/suggest?q=camden&near=51.5074,-0.1278")
	if got := doc(t, "<ul>"+body+"</ul>").Find(`[role="option"]`).First().AttrOr("data-label", ""); got != "Camden Town, London" {
		t.Errorf("suggestions from London: %q", got)
	}
	for _, near := range []string{"abc", "51.5", "91,0", "0,181", "NaN,1"} {
		for _, path := range []string{"/api/geocode", "/geocode/suggest"} {
			resp, body := c.get(path + "?q=camden&near=" + url.QueryEscape(near))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "near: ") {
				t.Errorf("%s near=%s: %d %s", path, near, resp.StatusCode, body)
			}
		}
	}
}

// Without JavaScript the address box submits to / and the answers come back as links that
// centre the map.
func TestHomeSearchWithoutJavaScript(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	_, body := c.get("/?q=haifa")
	link := doc(t, body).Find(`[data-testid="place-results"] a`).First()
	// The address box searches from the view it was shown with (here the default, London).
	if near, _ := doc(t, body).Find(`form[role="search"] input[name="near"]`).Attr("value"); near != "51.5074,-0.1278" {
		t.Fatalf("near field: %q", near)
	}
	href, _ := link.Attr("href")
	if link.Text() != "Haifa, Israel" || !strings.HasPrefix(href, "/?lat=32.8") || !strings.HasSuffix(href, "&z=14") {
		t.Fatalf("results: %q -> %q", link.Text(), href)
	}
	if v, _ := doc(t, body).Find(`#place-q`).Attr("value"); v != "haifa" {
		t.Fatalf("the query was not kept: %q", v)
	}
	_, body = c.get(href)
	m := doc(t, body).Find(`[data-testid="map"]`)
	if m.AttrOr("data-lat", "") != "32.81841" || m.AttrOr("data-zoom", "") != "14" {
		t.Fatalf("map view from the link: lat=%s zoom=%s", m.AttrOr("data-lat", ""), m.AttrOr("data-zoom", ""))
	}
	_, body = c.get("/?q=camden&near=51.5074,-0.1278")
	if got := doc(t, body).Find(`[data-testid="place-results"] a`).First().Text(); got != "Camden Town, London" {
		t.Fatalf("camden from London without JavaScript: %q", got)
	}
	_, body = c.get("/?q=x")
	if !strings.Contains(body, "at least 2 characters") {
		t.Fatal("a too-short search gives no message")
	}
	resp, body := c.get("/?lat=abc&lng=2")
	if resp.StatusCode != 200 || !strings.Contains(body, "That map link is not valid") {
		t.Fatalf("bad view: %d", resp.StatusCode)
	}
	if m := doc(t, body).Find(`[data-testid="map"]`); m.AttrOr("data-lat", "") != "51.5074" {
		t.Fatal("a bad link should show the default view")
	}
}
