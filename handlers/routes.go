package handlers

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"hazardwatch/i18n"
	"hazardwatch/static"
)

// routes is the whole URL surface of the app (CONTRACT.md).
func (h *handler) routes(app *fiber.App) {
	app.Use(h.clientAddr) // first: everything after it sees the client's address (clientip.go)
	app.Use(requestid.New())
	app.Use(h.logRequests)
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: h.logPanic}))
	app.Use(h.securityHeaders)
	app.Use(h.language)

	// Machine endpoints and assets: no cookies, no CSRF, no session.
	app.Get("/healthz", h.healthz)
	app.Get("/readyz", h.readyz)
	app.Get("/metrics", h.metricsText)
	app.Get("/events", h.events)
	app.Get(static.Prefix+"*", static.Handler)
	app.Get("/manifest.webmanifest", h.manifest)
	app.Get("/sw.js", h.serviceWorker)
	app.Get(i18n.ScriptPrefix+":file", i18nScript)
	app.Get("/feeds/reports.atom", h.reportsFeed)
	app.Get("/feeds/reports/:id.atom", h.reportFeed)
	// One-click unsubscribe (RFC 8058): mail clients POST without cookies; the signed token is
	// the authority, so no CSRF token.
	app.Post("/alerts/unsubscribe", h.unsubscribe)

	// Open311 (API-key clients, no cookies): before the session and CSRF middleware.
	o := app.Group("/open311/v2")
	o.Get("/discovery.:fmt", h.open311Discovery)
	o.Get("/services.:fmt", h.open311Services)
	o.Get("/services/:code.:fmt", h.open311ServiceDefinition)
	o.Get("/requests.:fmt", h.open311Requests)
	o.Post("/requests.:fmt", h.open311Create)
	o.Get("/requests/:id.:fmt", h.open311Request)

	app.Use(h.csrf, h.loadUser, h.accountLanguage)

	// Photos: after the session, since who asks decides whether a photo is visible.
	app.Get("/photos/:name", h.servePhoto)

	app.Get("/", h.home)
	app.Get("/geocode/suggest", h.suggest)
	app.Get("/api/geocode", h.apiGeocode)
	app.Get("/api/reverse", h.apiReverse)
	app.Get("/api/reports", h.apiReports)
	app.Get("/api/reports/:id", h.apiReport)

	app.Get("/reports", h.listReports)
	app.Get("/reports/new", h.newReport)
	app.Get("/reports/nearby", h.nearbyReports)
	app.Get("/reports/in-view", h.inView)
	app.Post("/reports", h.createReport)
	app.Post("/reports/draft", h.saveDraft)
	app.Get("/reports/sent", h.reportSentPage)
	app.Get("/reports/confirm", h.confirmForm)
	app.Post("/reports/confirm", h.confirm)
	app.Get("/reports/waiting", h.waitingReports)
	app.Get("/reports/:id", h.showReport)
	app.Post("/reports/:id/confirm", signedIn, h.confirmReport)
	app.Post("/reports/:id/edit", signedIn, h.editReport)
	app.Post("/reports/:id/withdraw", signedIn, h.withdrawReport)
	app.Post("/reports/:id/follow", signedIn, h.follow)
	app.Post("/reports/:id/updates", signedIn, h.addUpdate)
	app.Post("/reports/:id/updates/:uid/hide", moderatorOnly, h.hideUpdate)
	app.Get("/reports/:id/still-there", h.stillThereStep(false))
	app.Post("/reports/:id/still-there", h.stillThereStep(true))
	app.Get("/questionnaire/:token", h.questionnaire)
	app.Post("/questionnaire/:token", h.answerQuestionnaire)
	app.Get("/alerts", signedIn, h.alerts)
	app.Post("/alerts", signedIn, h.createAlert)
	app.Get("/alerts/unsubscribe", h.unsubscribeForm)
	app.Post("/alerts/:id/delete", signedIn, h.deleteAlert)

	app.Get("/register", h.registerForm)
	app.Post("/register", h.register)
	app.Get("/login", h.loginForm)
	app.Post("/login", h.login)
	app.Post("/logout", h.logout)
	app.Get("/verify-email", h.verifyEmail)
	app.Get("/password/forgot", h.forgotForm)
	app.Post("/password/forgot", h.forgot)
	app.Get("/password/reset", h.resetForm)
	app.Post("/password/reset", h.reset)
	app.Get("/auth/google", h.googleStart)
	app.Get("/auth/google/callback", h.googleCallback)

	app.Get("/moderation", moderatorOnly, h.moderation)
	app.Post("/moderation/reports/:id", moderatorOnly, h.moderate)
	app.Get("/moderation/export.csv", moderatorOnly, h.exportCSV)
	app.Get("/moderation/export.geojson", moderatorOnly, h.exportGeoJSON)
	app.Get("/admin/stats", moderatorOnly, h.stats)
	app.Get("/admin/system", adminOnly, h.system)
	app.Post("/admin/system/dead-letters/:id/retry", adminOnly, h.retryDeadLetter)
	app.Get("/admin/mail-preview", adminOnly, h.mailPreview)
	app.Get("/admin/mail-preview/:kind", adminOnly, h.mailPreviewHTML)
	app.Get("/admin", adminOnly, h.admin)
	app.Post("/admin/users/:id/role", adminOnly, h.setUserRole)
	app.Post("/admin/users/:id/disable", adminOnly, h.setUserDisabled(true))
	app.Post("/admin/users/:id/enable", adminOnly, h.setUserDisabled(false))
	app.Get("/admin/audit", adminOnly, h.auditLog)
	app.Get("/admin/api-keys", adminOnly, h.apiKeys)
	app.Post("/admin/api-keys", adminOnly, h.createAPIKey)
	app.Post("/admin/api-keys/:id/revoke", adminOnly, h.revokeAPIKey)

	app.Get("/account", signedIn, h.account)
	app.Post("/account/password", signedIn, h.changePassword)
	app.Post("/account/notifications", signedIn, h.setNotifications)
	app.Post("/account/language", signedIn, h.setLanguage)
	app.Post("/account/sessions/:id/revoke", signedIn, h.revokeSession)
}
