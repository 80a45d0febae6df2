package handlers

import (
	"errors"
	"io"
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/area"
	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/views"
)

// /admin/bodies: the bodies reports are sent to (issue 15). Admins upload an area as GeoJSON,
// choose the hazard types and one way of delivery.

// maxBodyUpload bounds the body forms: the area file and the fields.
const maxBodyUpload = area.MaxBytes + 1<<20

func (h *handler) bodyForm(c *fiber.Ctx, f *form, b *store.Body) views.BodyFormView {
	ctx := c.UserContext()
	v := views.BodyFormView{Form: f.Form, Map: views.MapView{TileURL: h.cfg.MapTileURL, Attribution: h.cfg.MapAttribution}}
	chosen := map[string]bool{}
	for _, t := range strings.Split(f.Values["types"], ",") {
		chosen[t] = true
	}
	for _, t := range hazard.Types {
		label := i18n.T(ctx, "bodies.types."+t.Code)
		v.Types = append(v.Types, views.CheckOption{Option: views.Option{Value: t.Code, Label: label}, Checked: chosen[t.Code]})
		v.Codes = append(v.Codes, views.Option{Value: t.Code, Label: i18n.T(ctx, "bodies.form.code_for", map[string]any{"Type": label}), Help: f.Values["code_"+t.Code]})
	}
	for _, l := range i18n.Languages {
		v.Langs = append(v.Langs, views.Option{Value: l.Tag, Label: l.Name})
	}
	if b != nil {
		v.ID, v.Vertices, v.AreaURL = b.ID, b.Vertices, "/admin/bodies/"+b.ID+"/area.geojson"
		v.HasAPIKey = b.Open311 != nil && b.Open311.APIKey != ""
	}
	return v
}

// bodyValues fills a form from a stored body (the API key is never shown).
func bodyValues(c *fiber.Ctx, b *store.Body) *form {
	f := emptyForm(c)
	f.Values["name"], f.Values["lang"], f.Values["types"] = b.Name, b.Lang, strings.Join(b.Types, ",")
	f.Values["method"], f.Values["email"] = b.Method, b.Email
	if o := b.Open311; o != nil {
		f.Values["endpoint"], f.Values["jurisdiction"] = o.Endpoint, o.Jurisdiction
		for t, code := range o.ServiceCodes {
			f.Values["code_"+t] = code
		}
	}
	return f
}

func (h *handler) bodiesView(c *fiber.Ctx, newForm *form) (views.BodiesView, error) {
	bs, err := h.store.Bodies(c.UserContext())
	if err != nil {
		return views.BodiesView{}, err
	}
	v := views.BodiesView{New: h.bodyForm(c, newForm, nil)}
	for _, b := range bs {
		v.Rows = append(v.Rows, views.BodyRow{ID: b.ID, Name: b.Name, Method: i18n.T(c.UserContext(), "bodies.method."+b.Method),
			Types: h.typeNames(c, b.Types), Reports: b.Extra.Reports})
	}
	return v, nil
}

func (h *handler) typeNames(c *fiber.Ctx, types []string) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = i18n.T(c.UserContext(), "bodies.types."+t)
	}
	return strings.Join(names, ", ")
}

func (h *handler) bodiesPage(c *fiber.Ctx) views.Page {
	p := h.page(c, i18n.T(c.UserContext(), "bodies.admin.title"))
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/bodies.js"}
	return p
}

// bodies is GET /admin/bodies.
func (h *handler) bodies(c *fiber.Ctx) error {
	f := emptyForm(c)
	f.Values["lang"], f.Values["method"] = lang(c).Tag, store.ByEmail
	v, err := h.bodiesView(c, f)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.BodiesPage(h.bodiesPage(c), v))
}

// createBody is POST /admin/bodies.
func (h *handler) createBody(c *fiber.Ctx) error {
	b := &store.Body{ID: store.NewBodyID()}
	f, geo := h.readBody(c, b, true)
	if !f.ok() {
		v, err := h.bodiesView(c, f)
		if err != nil {
			return err
		}
		return render(c, fiber.StatusUnprocessableEntity, views.BodiesPage(h.bodiesPage(c), v))
	}
	if err := h.store.SaveBody(c.UserContext(), b, geo); err != nil {
		return err
	}
	h.audit(c, "body.create", b.ID, b.Name)
	h.setFlash(c, "success", i18n.M("bodies.admin.created", "Name", b.Name))
	return redirect(c, "/admin/bodies/"+b.ID)
}

func (h *handler) loadBody(c *fiber.Ctx) (*store.Body, error) {
	b, err := h.store.Body(c.UserContext(), strings.Clone(c.Params("id")))
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(fiber.StatusNotFound, "bodies.admin.not_found")
	}
	return b, err
}

// body is GET /admin/bodies/{id}.
func (h *handler) body(c *fiber.Ctx) error {
	b, err := h.loadBody(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.BodyPage(h.bodiesPage(c), h.bodyForm(c, bodyValues(c, b), b)))
}

// updateBody is POST /admin/bodies/{id}: an area file replaces the area, none keeps it.
func (h *handler) updateBody(c *fiber.Ctx) error {
	prev, err := h.loadBody(c)
	if err != nil {
		return err
	}
	b := *prev
	f, geo := h.readBody(c, &b, false)
	if !f.ok() {
		return render(c, fiber.StatusUnprocessableEntity, views.BodyPage(h.bodiesPage(c), h.bodyForm(c, f, prev)))
	}
	if err := h.store.SaveBody(c.UserContext(), &b, geo); err != nil {
		return err
	}
	h.audit(c, "body.update", b.ID, b.Name)
	h.setFlash(c, "success", i18n.M("bodies.admin.saved"))
	return redirect(c, "/admin/bodies/"+b.ID)
}

// deleteBody is POST /admin/bodies/{id}/delete. Sends still queued for it fail with a message
// moderators see; reports keep the record of what was sent.
func (h *handler) deleteBody(c *fiber.Ctx) error {
	b, err := h.loadBody(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteBody(c.UserContext(), b.ID); err != nil {
		return err
	}
	h.audit(c, "body.delete", b.ID, b.Name)
	h.setFlash(c, "success", i18n.M("bodies.admin.deleted", "Name", b.Name))
	return redirect(c, "/admin/bodies")
}

// bodyArea is GET /admin/bodies/{id}/area.geojson, drawn on the body's map.
func (h *handler) bodyArea(c *fiber.Ctx) error {
	b, err := h.loadBody(c)
	if err != nil {
		return err
	}
	geo, err := h.store.BodyArea(c.UserContext(), b.ID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/geo+json")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(geo)
}

// readBody reads and checks the form into b and returns the new area's GeoJSON (nil: keep the
// stored one). A new body must bring an area.
func (h *handler) readBody(c *fiber.Ctx, b *store.Body, isNew bool) (*form, []byte) {
	ctx := c.UserContext()
	t := func(key string, data ...any) string { return i18n.T(ctx, key, data...) }
	f := newForm(c, "name", "lang", "method", "email", "endpoint", "api_key", "jurisdiction")
	mf, _ := c.MultipartForm()
	var types []string
	if mf != nil {
		for _, v := range mf.Value["types"] {
			if _, ok := hazard.TypeByCode(v); ok && !slices.Contains(types, v) {
				types = append(types, v)
			}
		}
	}
	f.Values["types"] = strings.Join(types, ",")
	codes := map[string]string{}
	for _, ty := range hazard.Types {
		v := strings.TrimSpace(strings.Clone(c.FormValue("code_" + ty.Code)))
		f.Values["code_"+ty.Code] = v
		if v != "" {
			codes[ty.Code] = v
		}
	}
	name := store.CleanName(f.Values["name"])
	f.Values["name"] = name
	if n := len([]rune(name)); n == 0 || n > 120 {
		f.fail("name", i18n.M("bodies.form.err_name"))
	}
	if _, ok := i18n.ByTag(f.Values["lang"]); !ok {
		f.Values["lang"] = i18n.Languages[0].Tag
	}
	if len(types) == 0 {
		f.fail("types", i18n.M("bodies.form.err_types"))
	}
	b.Name, b.Lang, b.Types = name, f.Values["lang"], types
	switch b.Method = f.Values["method"]; b.Method {
	case store.ByEmail:
		email := strings.TrimSpace(f.Values["email"])
		f.Values["email"] = email
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
			f.fail("email", i18n.M("bodies.form.err_email"))
		}
		b.Email, b.Open311 = email, nil
	case store.ByOpen311:
		endpoint := strings.TrimRight(strings.TrimSpace(f.Values["endpoint"]), "/")
		f.Values["endpoint"] = endpoint
		if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || len(endpoint) > 500 {
			f.fail("endpoint", i18n.M("bodies.form.err_endpoint"))
		}
		key := f.Values["api_key"]
		f.Values["api_key"] = ""
		if key == "" && b.Open311 != nil {
			key = b.Open311.APIKey // blank keeps the stored key
		}
		if len(key) > 500 || len(f.Values["jurisdiction"]) > 200 {
			f.fail("api_key", i18n.M("bodies.form.err_long"))
		}
		var missing []string
		for _, ty := range types {
			if codes[ty] == "" {
				missing = append(missing, t("bodies.types."+ty))
			}
		}
		if len(missing) > 0 {
			f.fail("codes", i18n.M("bodies.form.err_codes", "Types", strings.Join(missing, ", ")))
		}
		b.Email = ""
		b.Open311 = &store.Open311{Endpoint: endpoint, APIKey: key, Jurisdiction: strings.TrimSpace(f.Values["jurisdiction"]), ServiceCodes: codes}
	default:
		f.Values["method"] = store.ByEmail
		f.fail("", i18n.M("bodies.form.err_method"))
	}
	var geo []byte
	if mf != nil && len(mf.File["area"]) > 0 && mf.File["area"][0].Size > 0 {
		fh := mf.File["area"][0]
		if fh.Size > area.MaxBytes {
			f.fail("area", i18n.M("bodies.area.too_big", "MB", area.MaxBytes>>20))
			return f, nil
		}
		file, err := fh.Open()
		if err == nil {
			var raw []byte
			raw, err = io.ReadAll(io.LimitReader(file, area.MaxBytes+1))
			file.Close()
			if err == nil {
				a, perr := area.Parse(raw)
				var ae *area.Error
				switch {
				case errors.As(perr, &ae):
					f.fail("area", i18n.Msg{ID: ae.Key, Data: ae.Data})
				case perr != nil:
					f.fail("area", i18n.M("bodies.area.not_json"))
				default:
					geo, b.BBox, b.Vertices = a.GeoJSON(), a.BBox(), a.Vertices
				}
			}
		}
		if err != nil {
			f.fail("area", i18n.M("bodies.area.unreadable"))
		}
	} else if isNew {
		f.fail("area", i18n.M("bodies.area.missing"))
	}
	return f, geo
}
