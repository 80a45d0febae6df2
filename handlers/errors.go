package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// problem is a refusal for people: a status and a catalog message, said in the request's
// language when errorHandler renders it.
type problem struct {
	status int
	msg    i18n.Msg
}

func (p *problem) Error() string { return p.msg.String() }

// Unwrap lets code that knows only Fiber's errors (its default handler, middleware) read the
// status; the message there is English.
func (p *problem) Unwrap() error { return fiber.NewError(p.status, p.msg.String()) }

// refuse answers status with catalog message id (data as i18n.M pairs).
func refuse(status int, id string, pairs ...any) error {
	return &problem{status: status, msg: i18n.M(id, pairs...)}
}

// refuseMsg answers status with m.
func refuseMsg(status int, m i18n.Msg) error { return &problem{status: status, msg: m} }

// errorHandler is the one place errors become responses: JSON under /api and for machine
// endpoints, an error fragment in the flash area for htmx, a full page for browsers; every
// message in the request's language.
func (h *handler) errorHandler(c *fiber.Ctx, err error) error {
	ctx := c.UserContext()
	status, msg := fiber.StatusInternalServerError, i18n.T(ctx, "errors.internal")
	var fe *fiber.Error
	var le *lifecycle.Error
	var pe *problem
	switch {
	case errors.As(err, &pe):
		status, msg = pe.status, i18n.Say(ctx, pe.msg)
	case errors.As(err, &fe):
		status, msg = fe.Code, publicMessage(c, fe)
	case errors.As(err, &le):
		status, msg = lifecycleStatus(le.Kind), i18n.Say(ctx, le.Msg)
	case store.IsUnavailable(err):
		status, msg = fiber.StatusServiceUnavailable, i18n.T(ctx, "errors.unavailable")
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	if status >= 500 {
		h.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", status,
			"request_id", requestID(c), "err", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")

	if strings.HasPrefix(c.Path(), open311Prefix) {
		return open311ErrorResponse(c, status, msg)
	}
	if wantsJSON(c) {
		return c.Status(status).JSON(fiber.Map{"error": msg})
	}
	if isPartial(c) {
		c.Set(hxRetarget, "#flash")
		c.Set(hxReswap, "innerHTML")
		return render(c, status, views.FlashMessage(views.Flash{Kind: "error", Message: msg}))
	}
	c.Locals(errorPage, true)
	p := h.page(c, i18n.T(ctx, "errors.title"))
	return render(c, status, views.ErrorPage(p, status, msg))
}

// publicMessage turns Fiber's errors (texts written for developers) into sentences for people,
// in the request's language. Handlers refuse with catalog messages (refuse), not fiber.Error.
func publicMessage(c *fiber.Ctx, fe *fiber.Error) string {
	ctx := c.UserContext()
	switch fe.Code {
	case fiber.StatusNotFound:
		if wantsJSON(c) || strings.HasPrefix(c.Path(), open311Prefix) {
			return i18n.T(ctx, "errors.api_not_found", map[string]any{"Method": c.Method(), "Path": c.Path()})
		}
		return i18n.T(ctx, "errors.not_found")
	case fiber.StatusMethodNotAllowed:
		return i18n.T(ctx, "errors.method")
	case fiber.StatusRequestEntityTooLarge:
		return i18n.T(ctx, "errors.too_large")
	case fiber.StatusBadRequest:
		return i18n.T(ctx, "errors.bad_request")
	case fiber.StatusRequestTimeout:
		return i18n.T(ctx, "errors.timeout")
	}
	if fe.Code >= 500 {
		return i18n.T(ctx, "errors.internal")
	}
	return i18n.T(ctx, "errors.refused")
}

// lifecycleStatus is the HTTP status of a refusal by the report rules.
func lifecycleStatus(k lifecycle.Kind) int {
	switch k {
	case lifecycle.NotFound:
		return fiber.StatusNotFound
	case lifecycle.Forbidden:
		return fiber.StatusForbidden
	case lifecycle.Conflict:
		return fiber.StatusConflict
	}
	return fiber.StatusUnprocessableEntity
}

func wantsJSON(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/api/") || p == "/readyz" || p == "/healthz"
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}
