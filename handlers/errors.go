package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// errorHandler is the one place errors become responses: JSON under /api and for machine
// endpoints, an error fragment in the flash area for htmx, a full page for browsers.
func (h *handler) errorHandler(c *fiber.Ctx, err error) error {
	status, msg := fiber.StatusInternalServerError, "Something went wrong on our side. Please try again."
	var fe *fiber.Error
	var le *lifecycle.Error
	switch {
	case errors.As(err, &fe):
		status, msg = fe.Code, publicMessage(c, fe)
	case errors.As(err, &le):
		status, msg = lifecycleStatus(le.Kind), le.Msg
	case store.IsUnavailable(err):
		status, msg = fiber.StatusServiceUnavailable, "The service is briefly unavailable. Please try again in a few seconds."
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
	p := h.page(c, "Error")
	return render(c, status, views.ErrorPage(p, status, msg))
}

// publicMessage turns Fiber's built-in error texts (written for developers) into sentences for
// people; messages our handlers write are already meant for them.
func publicMessage(c *fiber.Ctx, fe *fiber.Error) string {
	switch {
	case fe.Code == fiber.StatusNotFound && (strings.HasPrefix(fe.Message, "Cannot ") || fe.Message == "Not Found"):
		if wantsJSON(c) || strings.HasPrefix(c.Path(), open311Prefix) {
			return "not found: " + c.Method() + " " + c.Path()
		}
		return "We could not find that page."
	case fe.Code == fiber.StatusMethodNotAllowed:
		return "That action is not allowed here."
	case fe.Code == fiber.StatusRequestEntityTooLarge:
		return "The request is too large."
	}
	return fe.Message
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
