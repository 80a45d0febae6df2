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
}

func TestAPIGeocode(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/api/geocode?q=" + url.QueryEscape("  haifa "))
	var places []jsonPlace
	if err := json.Unmarshal([]byte(body), &places); err != nil || resp.StatusCode != 200 {
		t.Fatalf("geocode: %d %s", resp.StatusCode, body)
	}
	if len(places) == 0 || places[0].Label != "Haifa, IL" || places[0].Lat < 32 || places[0].Lat > 33.5 {
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
	if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != 200 || p.Label != "near Haifa, IL" {
		t.Fatalf("reverse: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"lat=abc&lng=1", "lat=91&lng=0", "lat=0&lng=-180.5", "lat=NaN&lng=0", "lng=3", "lat=1&lng=1e999"} {
		resp, body := c.get("/api/reverse?" + q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
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
	if resp.StatusCode != 200 || strings.Contains(body, "<html") || opt.AttrOr("data-label", "") != "Haifa, IL" || opt.AttrOr("data-lat", "") == "" {
		t.Fatalf("suggest: %d %s", resp.StatusCode, body)
	}
	if _, body := c.get("/geocode/suggest?q=h"); strings.TrimSpace(body) != "" {
		t.Fatalf("a one-letter query should suggest nothing: %q", body)
	}
	if _, body := c.get("/geocode/suggest?q=qqqzzzxxx"); !strings.Contains(body, "No places found") {
		t.Fatalf("no match: %q", body)
	}
}

// Without JavaScript the address box submits to / and the answers come back as links that
// centre the map.
func TestHomeSearchWithoutJavaScript(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	_, body := c.get("/?q=haifa")
	link := doc(t, body).Find(`[data-testid="place-results"] a`).First()
	href, _ := link.Attr("href")
	if link.Text() != "Haifa, IL" || !strings.HasPrefix(href, "/?lat=32.8") || !strings.HasSuffix(href, "&z=14") {
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
