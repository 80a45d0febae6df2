// Package handlers turns HTTP requests into store calls and rendered views. Handlers stay thin:
// parse and validate input, call the store, render. Routing is in one block (routes.go) so the
// whole surface of the app can be read at once.
package handlers

import (
	"cmp"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/valyala/fasthttp"

	"hazardwatch/config"
	"hazardwatch/geocode"
	"hazardwatch/lifecycle"
	"hazardwatch/links"
	"hazardwatch/live"
	"hazardwatch/mapview"
	"hazardwatch/metrics"
	"hazardwatch/photo"
	"hazardwatch/routing"
	"hazardwatch/store"
)

// Deps is what the handlers need from the outside.
type Deps struct {
	Config *config.Config
	Store  *store.Store
	Log    *slog.Logger
	// Life holds the rules of a report's life; Map answers the map.
	Life *lifecycle.Service
	Map  *mapview.Map
	// Geocoder answers address searches and reverse lookups (cached).
	Geocoder geocode.Provider
	// Live relays report events to browsers (GET /events); nil disables the endpoint.
	Live *live.Hub
	// Monitor reads server health for /admin/system.
	Monitor *store.Monitor
	// Routing finds the bodies a report goes to and sends it by hand.
	Routing *routing.Service
	// Decoders bounds concurrent photo decoding; nil means one slot per core.
	Decoders *photo.Gate
	// Metrics collects what /metrics shows; New adds the HTTP series.
	Metrics *metrics.Registry
	// GoogleClient reaches Google's token and profile endpoints; nil means a client with a 10 s
	// timeout. Tests point it at a fake provider.
	GoogleClient *http.Client
	// HeaderTimeout bounds how long a client may take to send a request's headers; 0 means
	// headerTimeout. Tests shorten it.
	HeaderTimeout time.Duration
}

type handler struct {
	cfg      *config.Config
	store    *store.Store
	life     *lifecycle.Service
	maps     *mapview.Map
	log      *slog.Logger
	sessions *session.Store
	google   *googleAuth
	geo      geocode.Provider
	live     *live.Hub
	monitor  *store.Monitor
	routing  *routing.Service
	metrics  *metrics.Registry
	requests *metrics.CounterVec
	latency  *metrics.HistogramVec
	csp      string
	decoders *photo.Gate  // bounds concurrent photo decoding (photos.go)
	links    *links.Links // signed links in mails (unsubscribe, still there)

	cookieKey cookieKey // see signedCookies
}

// A request's headers must arrive within headerTimeout (slow-header connections cannot be held
// open); its body then gets bodyTimeout, or uploadTimeout on the photo upload route (phones on
// slow networks).
const (
	headerTimeout = 10 * time.Second
	bodyTimeout   = 30 * time.Second
	uploadTimeout = 120 * time.Second
)

// maxBody bounds every request body except the report form's (maxUpload; see bodyLimit).
const maxBody = 1 << 20

// New builds the Fiber app with every route and middleware. main and the tests use the same
// constructor, so tests exercise what ships.
func New(d Deps) *fiber.App {
	h := &handler{
		cfg: d.Config, store: d.Store, life: d.Life, maps: d.Map, log: d.Log, geo: d.Geocoder, live: d.Live, monitor: d.Monitor, routing: d.Routing,
		google: newGoogle(d.Config, d.GoogleClient), csp: contentSecurityPolicy(d.Config), decoders: d.Decoders, links: links.New(d.Store),
	}
	if h.decoders == nil {
		h.decoders = photo.NewGate(0)
	}
	h.sessions = newSessionStore(h)
	h.metrics = d.Metrics
	if h.metrics == nil {
		h.metrics = &metrics.Registry{}
	}
	h.requests = h.metrics.NewCounter("hazardwatch_http_requests_total", "HTTP requests by method, route and status.", "method", "route", "status")
	h.latency = h.metrics.NewHistogram("hazardwatch_http_request_duration_seconds", "HTTP request durations by route.",
		[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, "route")
	app := fiber.New(fiber.Config{
		AppName:               "hazardwatch",
		ErrorHandler:          h.errorHandler,
		BodyLimit:             maxBody,                                // per route: see bodyLimit
		ReadTimeout:           cmp.Or(d.HeaderTimeout, headerTimeout), // then per route: HeaderReceived
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 << 10, // room for cookies and htmx headers
		WriteBufferSize:       64 << 10, // a street view (26 KB) leaves in one write, not two
		DisableStartupMessage: true,
	})
	// fasthttp reads the whole body before any handler runs, so a route's limit must be known from
	// the request line: it then refuses a body as soon as more than that has arrived, whether
	// announced by Content-Length or sent in chunks. The body's read deadline starts here too.
	app.Server().HeaderReceived = func(hdr *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if limit := bodyLimit(hdr); limit > maxBody {
			return fasthttp.RequestConfig{MaxRequestBodySize: limit, ReadTimeout: uploadTimeout}
		}
		return fasthttp.RequestConfig{MaxRequestBodySize: maxBody, ReadTimeout: bodyTimeout}
	}
	h.routes(app)
	return app
}

// bodyLimit is the largest body a request may send: maxUpload for the routes that take photos (the
// report form and its draft), maxBody for everything else. Paths are compared the way the router does (case-insensitive, an
// optional trailing slash).
func bodyLimit(hdr *fasthttp.RequestHeader) int {
	var u fasthttp.URI
	if err := u.Parse(nil, hdr.RequestURI()); err != nil {
		return maxBody
	}
	path := strings.TrimSuffix(string(u.PathOriginal()), "/")
	if string(hdr.Method()) == fiber.MethodPost && (strings.EqualFold(path, "/reports") || strings.EqualFold(path, "/reports/draft")) {
		return maxUpload
	}
	if string(hdr.Method()) == fiber.MethodPost && takesOnePhoto(path) {
		return photo.MaxBytes + 1<<20
	}
	if string(hdr.Method()) == fiber.MethodPost && len(path) >= len("/admin/bodies") && strings.EqualFold(path[:len("/admin/bodies")], "/admin/bodies") {
		return maxBodyUpload // an area file
	}
	return maxBody
}
