// Package handlers turns HTTP requests into store calls and rendered views. Handlers stay thin:
// parse and validate input, call the store, render. Routing is in one block (routes.go) so the
// whole surface of the app can be read at once.
package handlers

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"

	"hazardwatch/config"
	"hazardwatch/geocode"
	"hazardwatch/mail"
	"hazardwatch/store"
)

// Deps is what the handlers need from the outside.
type Deps struct {
	Config *config.Config
	Store  *store.Store
	Log    *slog.Logger
	Mailer *mail.Mailer
	// Geocoder answers address searches and reverse lookups (cached).
	Geocoder geocode.Provider
	// GoogleClient reaches Google's token and profile endpoints; nil means http.DefaultClient.
	// Tests point it at a fake provider.
	GoogleClient *http.Client
}

type handler struct {
	cfg      *config.Config
	store    *store.Store
	log      *slog.Logger
	mailer   *mail.Mailer
	sessions *session.Store
	google   *googleAuth
	geo      geocode.Provider
	csp      string
}

// maxBody bounds every request body. Routes that accept uploads will raise their own limit.
const maxBody = 1 << 20

// New builds the Fiber app with every route and middleware. main and the tests use the same
// constructor, so tests exercise what ships.
func New(d Deps) *fiber.App {
	h := &handler{
		cfg: d.Config, store: d.Store, log: d.Log, mailer: d.Mailer, geo: d.Geocoder,
		google: newGoogle(d.Config, d.GoogleClient), csp: contentSecurityPolicy(d.Config),
	}
	h.sessions = newSessionStore(h)
	app := fiber.New(fiber.Config{
		AppName:               "hazardwatch",
		ErrorHandler:          h.errorHandler,
		BodyLimit:             maxBody,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 << 10, // room for cookies and htmx headers
		DisableStartupMessage: true,
	})
	h.routes(app)
	return app
}
