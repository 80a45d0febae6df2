package handlers

import (
	"errors"
	"mime/multipart"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/photo"
	"hazardwatch/views"
)

// Photos: what an upload may cost, who may see a stored photo, and how a form keeps the photos
// of a submit that failed for another reason.

// decodeWait is how long a request waits for a decoding slot before it is told to come back.
const decodeWait = 5 * time.Second

// Per hour, how many photos one account and one address may have decoded, whether or not the
// form they came with went through (failed submits count too).
const (
	photosPerUser = 40
	photosPerIP   = 100
)

// errBusy means every decoding slot stayed taken: the form is shown again with 503.
var errBusy = errors.New("photo decoders busy")

// photoOwner names whose uploads a kept-photo reference may point at.
func (h *handler) photoOwner(c *fiber.Ctx) string {
	if u := currentUser(c); u != nil {
		return "u:" + u.ID
	}
	return "b:" + h.csrfToken(c) // a browser without an account
}

type keptRef struct {
	Hash  string `json:"h"`
	Owner string `json:"o"`
}

// keepRef signs "this browser's owner uploaded this photo" for KeepFor: a failed form carries
// it back, and nobody can attach a photo they did not upload themselves.
func (h *handler) keepRef(c *fiber.Ctx, hash string) (string, error) {
	sc, err := h.signedCookies(c.UserContext(), photo.KeepFor)
	if err != nil {
		return "", err
	}
	return sc.Encode("photo_keep", keptRef{Hash: hash, Owner: h.photoOwner(c)})
}

// keptHash is the photo a reference names, if it is this owner's, current, and still stored.
func (h *handler) keptHash(c *fiber.Ctx, ref string) (string, bool) {
	sc, err := h.signedCookies(c.UserContext(), photo.KeepFor)
	if err != nil || len(ref) > 500 {
		return "", false
	}
	var k keptRef
	if sc.Decode("photo_keep", ref, &k) != nil || k.Owner != h.photoOwner(c) || !photo.Exists(h.photoDir(), k.Hash) {
		return "", false
	}
	return k.Hash, true
}

// keptPhotos are the form's photos as the form shows them again.
func (h *handler) keptPhotos(c *fiber.Ctx, hashes []string) []views.KeptPhoto {
	var out []views.KeptPhoto
	for _, hash := range hashes {
		ref, err := h.keepRef(c, hash)
		if err != nil {
			h.log.Warn("kept photo reference not made", "err", err)
			continue
		}
		out = append(out, views.KeptPhoto{Ref: ref, Thumb: "/photos/" + hash + "_t.jpg?keep=" + ref})
	}
	return out
}

// formPhotos checks the kept references and the new uploads, then decodes the uploads: after
// the cheap checks (count, the hourly budget, each header's size and pixels, the request's total
// pixels), and inside a decoding slot. Good photos are saved at once, so a form that fails for
// another reason keeps them; the report only ever names saved files.
func (h *handler) formPhotos(c *fiber.Ctx, mf *multipart.Form, f *form) ([]string, *photo.Point, error) {
	var kept []string
	var files []*multipart.FileHeader
	if mf != nil {
		for _, ref := range mf.Value["photo_keep"] {
			if hash, ok := h.keptHash(c, ref); ok && !slices.Contains(kept, hash) {
				kept = append(kept, hash)
			}
		}
		for _, fh := range mf.File["photos"] {
			if fh.Size > 0 || fh.Filename != "" {
				files = append(files, fh)
			}
		}
	}
	if len(files) == 0 {
		return kept, nil, nil
	}
	if len(kept)+len(files) > hazard.MaxPhotos {
		f.fail("photos", lifecycle.TooManyPhotos(len(kept)+len(files)))
		return kept, nil, nil
	}
	saved, gps, err := h.decodeUploads(c, f, "photos", files)
	for _, hash := range saved {
		if !slices.Contains(kept, hash) {
			kept = append(kept, hash)
		}
	}
	return kept, gps, err
}

// decodeUploads is every photo upload's path, for reports and public updates alike: the hourly
// budget, each header's size and pixels and the request's total pixels first, then decoding
// inside a slot of the gate (errBusy when none frees up), and saving. Problems go on field.
func (h *handler) decodeUploads(c *fiber.Ctx, f *form, field string, files []*multipart.FileHeader) ([]string, *photo.Point, error) {
	var kept []string
	rules := []rule{{"photo-ip", c.IP(), photosPerIP, time.Hour}}
	if u := currentUser(c); u != nil {
		rules = append(rules, rule{"photo-user", u.ID, photosPerUser, time.Hour})
	}
	for range files {
		if msg, err := h.overLimit(c, rules...); err != nil {
			return kept, nil, err
		} else if !msg.IsZero() {
			f.failText(field, say(c, "errors.photo.budget")+" "+i18n.Say(c.UserContext(), msg))
			return kept, nil, nil
		}
	}
	var problems []string
	problem := func(name string, m i18n.Msg) {
		problems = append(problems, say(c, "reports.photo_problem", map[string]any{"File": displayName(name), "Problem": i18n.Say(c.UserContext(), m)}))
	}
	type upload struct {
		name string
		u    *photo.Upload
	}
	var ups []upload
	var pixels int64
	for _, fh := range files {
		file, err := fh.Open()
		if err != nil {
			problem(fh.Filename, i18n.M("errors.photo.unreadable"))
			continue
		}
		u, err := photo.Open(file)
		file.Close()
		var pe *photo.Error
		if errors.As(err, &pe) {
			problem(fh.Filename, pe.Msg)
			continue
		} else if err != nil {
			return kept, nil, err
		}
		if pixels += u.Pixels; pixels > photo.MaxRequestPixels {
			problem(fh.Filename, i18n.M("errors.photo.request_pixels", "Megapixels", photo.MaxRequestPixels/1_000_000))
			continue
		}
		ups = append(ups, upload{fh.Filename, u})
	}
	var gps *photo.Point
	if len(ups) > 0 {
		leave, ok := h.decoders.Enter(c.UserContext(), decodeWait)
		if !ok {
			return kept, nil, errBusy
		}
		defer leave()
	}
	for _, up := range ups {
		p, err := up.u.Process()
		var pe *photo.Error
		if errors.As(err, &pe) {
			problem(up.name, pe.Msg)
			continue
		} else if err != nil {
			problem(up.name, i18n.M("errors.photo.unprocessable"))
			h.log.Error("photo processing failed", "err", err)
			continue
		}
		if err := photo.Save(h.photoDir(), p); err != nil {
			h.log.Error("photo save failed", "err", err)
			problem(up.name, i18n.M("errors.photo.unstored"))
			continue
		}
		if gps == nil {
			gps = p.GPS
		}
		if !slices.Contains(kept, p.Hash) {
			kept = append(kept, p.Hash)
		}
	}
	if len(problems) > 0 {
		f.failText(field, strings.Join(problems, " "))
	}
	return kept, gps, nil
}

// servePhoto serves a stored photo only while one of the reports naming it is visible to the
// asker (or, before any report names it, to its uploader through their kept-photo reference).
// Public photos may be cached by anyone for an hour; the others only privately, never stored.
func (h *handler) servePhoto(c *fiber.Ctx) error {
	name := c.Params("name")
	hash, thumb := strings.TrimSuffix(name, ".jpg"), false
	if strings.HasSuffix(hash, "_t") {
		hash, thumb = strings.TrimSuffix(hash, "_t"), true
	}
	if !strings.HasSuffix(name, ".jpg") || !photo.ValidHash(hash) {
		return fiber.ErrNotFound
	}
	rs, err := h.store.PhotoReports(c.UserContext(), hash)
	if err != nil {
		return err
	}
	public, visible := false, false
	u := currentUser(c)
	for _, r := range rs {
		public = public || h.life.PhotoVisible(c.UserContext(), nil, r, hash)
		visible = visible || h.life.PhotoVisible(c.UserContext(), u, r, hash)
	}
	if !visible {
		if k, ok := h.keptHash(c, c.Query("keep")); !ok || k != hash {
			return fiber.ErrNotFound
		}
	}
	full, small := photo.Paths(h.photoDir(), hash)
	path := full
	if thumb {
		path = small
	}
	if public {
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	} else {
		c.Set(fiber.HeaderCacheControl, "private, no-store")
	}
	c.Vary(fiber.HeaderCookie)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentType, "image/jpeg")
	if err := c.SendFile(path, false); err != nil {
		return fiber.ErrNotFound
	}
	if c.Response().StatusCode() == fiber.StatusNotFound {
		return fiber.ErrNotFound
	}
	return nil
}
