package handlers

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"hazardwatch/static"
)

// routes is the whole URL surface of the app (CONTRACT.md).
func (h *handler) routes(app *fiber.App) {
	app.Use(requestid.New())
	app.Use(h.logRequests)
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: h.logPanic}))
	app.Use(h.securityHeaders)

	app.Get("/healthz", h.healthz)
	app.Get("/readyz", h.readyz)
	app.Get(static.Prefix+"*", static.Handler)

	app.Get("/", h.home)
}
