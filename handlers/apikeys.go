package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/views"
)

func (h *handler) apiKeysView(c *fiber.Ctx, f *form, newKey string) (views.APIKeysView, error) {
	keys, err := h.store.APIKeys(c.UserContext())
	if err != nil {
		return views.APIKeysView{}, err
	}
	v := views.APIKeysView{NewKey: newKey}
	if f != nil {
		v.Form = f.Form
	} else {
		v.Form = views.Form{Values: map[string]string{"per_hour": strconv.Itoa(defaultPerHour)}}
	}
	for _, k := range keys {
		v.Keys = append(v.Keys, views.APIKeyRow{ID: k.ID, Name: k.Name, PerHour: k.PerHour, Created: k.CreatedAt.Format("2006-01-02"), Revoked: k.Revoked})
	}
	return v, nil
}

// defaultPerHour is a new key's hourly limit unless the admin gives another.
const defaultPerHour = 100

// apiKeys is /admin/api-keys: Open311 clients' keys.
func (h *handler) apiKeys(c *fiber.Ctx) error {
	v, err := h.apiKeysView(c, nil, "")
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.APIKeysPage(h.page(c, say(c, "admin.keys.title")), v))
}

// createAPIKey makes a key and shows it once; only its hash is kept.
func (h *handler) createAPIKey(c *fiber.Ctx) error {
	f := newForm(c, "name", "per_hour")
	name := store.CleanName(f.Values["name"])
	f.Values["name"] = name
	if n := len([]rune(name)); n == 0 || n > 80 {
		f.fail("name", i18n.M("admin.keys.name_invalid"))
	}
	per, err := defaultPerHour, error(nil)
	if v := strings.TrimSpace(f.Values["per_hour"]); v != "" {
		per, err = strconv.Atoi(v)
	}
	if err != nil || per < 1 || per > 100000 {
		f.fail("per_hour", i18n.M("admin.keys.per_hour_invalid"))
	}
	if !f.ok() {
		v, err := h.apiKeysView(c, f, "")
		if err != nil {
			return err
		}
		return render(c, fiber.StatusUnprocessableEntity, views.APIKeysPage(h.page(c, say(c, "admin.keys.title")), v))
	}
	key, k, err := h.store.CreateAPIKey(c.UserContext(), name, per)
	if err != nil {
		return err
	}
	h.audit(c, "apikey.create", k.ID, name)
	v, err := h.apiKeysView(c, nil, key)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusCreated, views.APIKeysPage(h.page(c, say(c, "admin.keys.title")), v))
}

func (h *handler) revokeAPIKey(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if err := h.store.RevokeAPIKey(c.UserContext(), id); errors.Is(err, store.ErrNotFound) {
		return refuse(fiber.StatusNotFound, "admin.keys.no_key")
	} else if err != nil {
		return err
	}
	h.audit(c, "apikey.revoke", id, "")
	h.setFlash(c, "success", i18n.M("admin.keys.revoked"))
	return redirect(c, "/admin/api-keys")
}
