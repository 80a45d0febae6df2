package handlers

import "github.com/gofiber/fiber/v2"

// htmx request and response headers, in one place (https://htmx.org/reference/#headers).
const (
	hxRequest        = "HX-Request"
	hxBoosted        = "HX-Boosted"
	hxHistoryRestore = "HX-History-Restore-Request"
	hxRedirect       = "HX-Redirect"
	hxRetarget       = "HX-Retarget"
	hxReswap         = "HX-Reswap"
)

// isPartial reports whether the request wants a fragment: an htmx request that is neither boosted
// (a whole-page navigation) nor a history restore (which needs the full page).
func isPartial(c *fiber.Ctx) bool {
	return c.Get(hxRequest) == "true" && c.Get(hxBoosted) != "true" && c.Get(hxHistoryRestore) != "true"
}

// redirect sends the browser to url after an unsafe request: 303 for plain forms, HX-Redirect for
// htmx (a 3xx would be followed inside the XHR and land the next page in a fragment).
func redirect(c *fiber.Ctx, url string) error {
	if c.Get(hxRequest) == "true" {
		c.Set(hxRedirect, url)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}
