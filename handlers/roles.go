package handlers

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/store"
)

// requireRole lets a request through only for a signed-in user with at least role min.
// Signed-out visitors are sent to sign in (and back afterwards); others get 403.
func requireRole(min store.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u := currentUser(c)
		if u == nil {
			if wantsJSON(c) {
				return refuse(fiber.StatusUnauthorized, "errors.sign_in_first")
			}
			next := c.OriginalURL()
			if c.Method() != fiber.MethodGet {
				next = "/"
				if ref, err := url.Parse(c.Get(fiber.HeaderReferer)); err == nil && ref.Path != "" {
					next = ref.RequestURI()
				}
			}
			return redirect(c, "/login?next="+url.QueryEscape(localPath(next)))
		}
		if !u.Role.AtLeast(min) {
			return refuse(fiber.StatusForbidden, "errors.forbidden")
		}
		return c.Next()
	}
}

var (
	signedIn = requireRole(store.RoleCitizen) // any signed-in user
	// staffOnly lets a body's staff into the review queue beside moderators and admins; what
	// they may see and do there is limited to their body's reports by lifecycle.Authorise and
	// the queue's body filter.
	staffOnly     = requireRole(store.RoleStaff)
	moderatorOnly = requireRole(store.RoleModerator) // moderators and admins
	adminOnly     = requireRole(store.RoleAdmin)
)
