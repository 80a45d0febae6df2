package handlers

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/views"
)

// userRow is a person as /admin lists them; bodies names every body by id (a staff member's body
// missing from it was deleted).
func userRow(c *fiber.Ctx, u *store.User, bodies map[string]string) views.UserRow {
	row := views.UserRow{ID: u.ID, Name: u.Name, Email: u.Email, Role: string(u.Role), Verified: u.EmailVerified,
		Disabled: u.Disabled, Created: u.CreatedAt.Format("2006-01-02"), Self: currentUser(c) != nil && currentUser(c).ID == u.ID}
	if u.Role == store.RoleStaff {
		if name, ok := bodies[u.Body]; ok {
			row.Body, row.BodyName = u.Body, name
		} else {
			row.BodyGone = true
		}
	}
	return row
}

// admin is /admin: find people by email, change roles, disable and enable accounts.
func (h *handler) admin(c *fiber.Ctx) error {
	v := views.AdminView{Query: strings.TrimSpace(strings.Clone(c.Query("email")))}
	bs, err := h.routing.Bodies(c.UserContext())
	if err != nil {
		return err
	}
	names := make(map[string]string, len(bs))
	for _, b := range bs {
		v.Bodies = append(v.Bodies, views.Option{Value: b.ID, Label: b.Name})
		names[b.ID] = b.Name
	}
	if v.Query != "" {
		u, err := h.store.UserByEmail(c.UserContext(), v.Query)
		switch {
		case errors.Is(err, store.ErrNotFound):
			v.NotFound = true
		case err != nil:
			return err
		default:
			v.Users = []views.UserRow{userRow(c, u, names)}
			res, err := h.store.List(c.UserContext(), store.ListQuery{Reporter: u.ID, Statuses: hazard.Statuses, Limit: 20})
			if err != nil {
				return err
			}
			for _, r := range res.Reports {
				v.Reports = append(v.Reports, h.card(c, r))
			}
		}
	} else {
		us, err := h.store.RecentUsers(c.UserContext(), 50)
		if err != nil {
			return err
		}
		for _, u := range us {
			v.Users = append(v.Users, userRow(c, u, names))
		}
	}
	for _, r := range store.Roles {
		v.Roles = append(v.Roles, views.Option{Value: string(r), Label: say(c, "account.role."+string(r))})
	}
	return render(c, fiber.StatusOK, views.AdminPage(h.page(c, say(c, "admin.people.title")), v))
}

// lastAdmin refuses to leave the system without an admin.
func (h *handler) lastAdmin(c *fiber.Ctx, u *store.User) error {
	if u.Role != store.RoleAdmin {
		return nil
	}
	n, err := h.store.AdminCount(c.UserContext())
	if err != nil {
		return err
	}
	if n <= 1 {
		return refuse(fiber.StatusConflict, "admin.people.last_admin")
	}
	return nil
}

func (h *handler) adminTarget(c *fiber.Ctx) (*store.User, error) {
	u, err := h.store.UserByID(c.UserContext(), strings.Clone(c.Params("id")))
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(fiber.StatusNotFound, "admin.people.no_user")
	}
	return u, err
}

func (h *handler) setUserRole(c *fiber.Ctx) error {
	u, err := h.adminTarget(c)
	if err != nil {
		return err
	}
	role, err := store.ParseRole(c.FormValue("role"))
	if err != nil {
		return refuse(fiber.StatusUnprocessableEntity, "admin.people.choose_role")
	}
	body := strings.TrimSpace(c.FormValue("body"))
	if role == store.RoleStaff && body == "" {
		return refuse(fiber.StatusUnprocessableEntity, "admin.people.choose_body")
	}
	if role != store.RoleAdmin {
		if err := h.lastAdmin(c, u); err != nil {
			return err
		}
	}
	err = h.store.SetRole(c.UserContext(), u.ID, role, body)
	if errors.Is(err, store.ErrNoBody) {
		return refuse(fiber.StatusUnprocessableEntity, "admin.people.unknown_body")
	} else if err != nil {
		return err
	}
	note, msg := string(u.Role)+" -> "+string(role), i18n.M("admin.people.role_set", "Name", u.Name, "Role", i18n.M("account.role."+string(role)))
	if role == store.RoleStaff {
		note += " (body " + body + ")"
		if b, err := h.store.Body(c.UserContext(), body); err == nil {
			msg = i18n.M("admin.people.staff_set", "Name", u.Name, "Body", b.Name)
		}
	}
	h.audit(c, "user.role", u.ID, note)
	h.setFlash(c, "success", msg)
	return redirect(c, "/admin?email="+url.QueryEscape(u.Email))
}

func (h *handler) setUserDisabled(disabled bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u, err := h.adminTarget(c)
		if err != nil {
			return err
		}
		if disabled {
			if err := h.lastAdmin(c, u); err != nil {
				return err
			}
		}
		if err := h.store.SetDisabled(c.UserContext(), u.ID, disabled); err != nil {
			return err
		}
		action, msg := "user.enable", i18n.M("admin.people.enabled", "Name", u.Name)
		if disabled {
			action, msg = "user.disable", i18n.M("admin.people.disabled", "Name", u.Name)
		}
		h.audit(c, action, u.ID, "")
		h.setFlash(c, "success", msg)
		return redirect(c, "/admin?email="+url.QueryEscape(u.Email))
	}
}
