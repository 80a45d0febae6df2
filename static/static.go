// Package static embeds the front-end assets (built CSS, vendored htmx and Leaflet, our own small
// scripts) in the binary and serves them under /static/ with content-hashed URLs, so browsers
// may cache them forever and nothing is loaded from a CDN.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed dist js vendor
var files embed.FS

// Prefix is the URL path the assets are served under.
const Prefix = "/static/"

// hashes maps each embedded file's path to a short hash of its content, computed once.
var hashes = func() map[string]string {
	m := map[string]string{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		panic("static: " + err.Error())
	}
	return m
}()

// URL returns the cache-busting URL of an embedded file, e.g. URL("dist/app.css") is
// "/static/dist/app.css?v=1a2b3c4d5e6f". A name that is not embedded panics: that is a
// programming error a test catches, not a page that silently loses its stylesheet.
func URL(name string) string {
	h, ok := hashes[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return Prefix + name + "?v=" + h
}

// Handler serves embedded files. A request whose ?v= matches the content hash is cacheable for a
// year; any other request revalidates by ETag.
func Handler(c *fiber.Ctx) error {
	name := strings.TrimPrefix(c.Path(), Prefix)
	name = path.Clean("/" + name)[1:]
	h, ok := hashes[name]
	if !ok {
		return fiber.ErrNotFound
	}
	etag := `"` + h + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if c.Query("v") == h {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, no-cache")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	b, err := files.ReadFile(name)
	if err != nil {
		return err
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(b)
}

// Read is an embedded file's content (the service worker's source, served from the site's root).
func Read(name string) ([]byte, error) { return files.ReadFile(name) }

// Version is a short hash of every embedded file: it changes whenever any of them does (the
// service worker's cache name).
var Version = func() string {
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	slices.Sort(names)
	sum := sha256.New()
	for _, n := range names {
		sum.Write([]byte(n + "=" + hashes[n] + "\n"))
	}
	return hex.EncodeToString(sum.Sum(nil)[:6])
}()
