// Package photo turns an uploaded picture into what Hazard Watch stores: type checked by content,
// size and pixel count checked before decoding (a decompression bomb is refused from its header),
// turned upright by its EXIF orientation, shrunk, re-encoded as JPEG with no metadata at all (no
// GPS, no camera serial) plus a thumbnail, and named by the hash of the result. It is its own
// package because image handling is a concern of its own with its own tests.
package photo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // decoders by registration
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/rwcarlsen/goexif/exif"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"

	"hazardwatch/i18n"
)

// Limits (issue 4). MaxRequestPixels bounds what one request may make the server decode (issue
// 13: five 40-megapixel bombs in one form took about 950 MB).
const (
	MaxBytes         = 10 << 20
	MaxPixels        = 40_000_000
	MaxRequestPixels = 60_000_000
	FullSize         = 2048 // longest side of the stored photo
	ThumbSize        = 400
	quality          = 85
)

// Error is a problem with the upload itself, worded for the person who sent it.
type Error struct{ Msg i18n.Msg }

func (e *Error) Error() string { return e.Msg.String() }

// Processed is a photo ready to store.
type Processed struct {
	Hash          string // hex SHA-256 (first 128 bits) of Full: the file name
	Full, Thumb   []byte // JPEG, no metadata
	Width, Height int    // of Full
	// GPS is where the camera says the photo was taken, if it says; offered to place the pin
	// (never stored).
	GPS *Point
}

// Point is a latitude/longitude pair.
type Point struct{ Lat, Lng float64 }

var allowed = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// Upload is an upload read and checked from its header only: type, size and pixel count are
// known before anything is decoded.
type Upload struct {
	raw    []byte
	Pixels int64
}

// Process reads, checks and processes one upload.
func Process(r io.Reader) (*Processed, error) {
	u, err := Open(r)
	if err != nil {
		return nil, err
	}
	return u.Process()
}

// Open reads one upload and checks it without decoding it.
func Open(r io.Reader) (*Upload, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("photo: read: %w", err)
	}
	if len(raw) > MaxBytes {
		return nil, &Error{i18n.M("errors.photo.too_big", "MB", MaxBytes>>20)}
	}
	if len(raw) == 0 {
		return nil, &Error{i18n.M("errors.photo.empty")}
	}
	if ct := http.DetectContentType(raw); !allowed[ct] {
		return nil, &Error{i18n.M("errors.photo.format")}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, &Error{i18n.M("errors.photo.damaged")}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, &Error{i18n.M("errors.photo.pixels", "Megapixels", 40)}
	}
	return &Upload{raw: raw, Pixels: int64(cfg.Width) * int64(cfg.Height)}, nil
}

// Process decodes, turns, shrinks and re-encodes the upload: the expensive part, to be run
// inside a Gate.
func (u *Upload) Process() (*Processed, error) {
	raw := u.raw
	orientation, gps := readEXIF(raw)
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, &Error{i18n.M("errors.photo.damaged")}
	}
	full := orient(scale(img, FullSize), orientation)
	thumb := scale(full, ThumbSize)

	p := &Processed{GPS: gps, Width: full.Bounds().Dx(), Height: full.Bounds().Dy()}
	if p.Full, err = encode(full); err != nil {
		return nil, err
	}
	if p.Thumb, err = encode(thumb); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(p.Full)
	p.Hash = hex.EncodeToString(sum[:16])
	return p, nil
}

// readEXIF returns the orientation (1 when unknown) and the GPS position, if any.
func readEXIF(raw []byte) (int, *Point) {
	x, err := exif.Decode(bytes.NewReader(raw))
	if err != nil {
		return 1, nil
	}
	orientation := 1
	if tag, err := x.Get(exif.Orientation); err == nil {
		if v, err := tag.Int(0); err == nil && v >= 1 && v <= 8 {
			orientation = v
		}
	}
	var gps *Point
	if lat, lng, err := x.LatLong(); err == nil && lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 && (lat != 0 || lng != 0) {
		gps = &Point{Lat: lat, Lng: lng}
	}
	return orientation, gps
}

// scale shrinks img so its longest side is at most max (never enlarges).
func scale(img image.Image, max int) *image.NRGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > max || h > max {
		if w >= h {
			h, w = h*max/w, max
		} else {
			w, h = w*max/h, max
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, max1(w), max1(h)))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// orient applies an EXIF orientation (1-8) so the picture stands the way it was seen.
func orient(src *image.NRGBA, o int) *image.NRGBA {
	if o <= 1 || o > 8 {
		return src
	}
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	dw, dh := w, h
	if o >= 5 { // 5-8 swap width and height
		dw, dh = h, w
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var nx, ny int
			switch o {
			case 2:
				nx, ny = w-1-x, y
			case 3:
				nx, ny = w-1-x, h-1-y
			case 4:
				nx, ny = x, h-1-y
			case 5:
				nx, ny = y, x
			case 6:
				nx, ny = h-1-y, x
			case 7:
				nx, ny = h-1-y, w-1-x
			case 8:
				nx, ny = y, w-1-x
			}
			si, di := src.PixOffset(x, y), dst.PixOffset(nx, ny)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}

func encode(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("photo: encode: %w", err)
	}
	return b.Bytes(), nil
}

// validHash matches the names Process makes.
var validHash = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidHash reports whether s names a stored photo.
func ValidHash(s string) bool { return validHash.MatchString(s) }

// Paths returns where a photo and its thumbnail live under dir.
func Paths(dir, hash string) (full, thumb string) {
	return filepath.Join(dir, hash+".jpg"), filepath.Join(dir, hash+"_t.jpg")
}

// Save writes the photo and thumbnail into dir, each through a temporary file and a rename, so
// no reader (and no report) ever sees half a file. Saving the same photo twice is a no-op.
func Save(dir string, p *Processed) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("photo: %w", err)
	}
	full, thumb := Paths(dir, p.Hash)
	for _, f := range []struct {
		path string
		data []byte
	}{{thumb, p.Thumb}, {full, p.Full}} {
		if _, err := os.Stat(f.path); err == nil {
			// Saved before: a fresh time keeps the sweeper off it while this upload is used.
			now := time.Now()
			_ = os.Chtimes(f.path, now, now)
			continue
		}
		tmp, err := os.CreateTemp(dir, ".upload-*")
		if err != nil {
			return fmt.Errorf("photo: %w", err)
		}
		_, werr := tmp.Write(f.data)
		serr := tmp.Sync()
		cerr := tmp.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("photo: %w", err)
		}
		if err := os.Rename(tmp.Name(), f.path); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("photo: %w", err)
		}
	}
	return nil
}

// Exists reports whether a stored photo is on disk (both sizes).
func Exists(dir, hash string) bool {
	if !ValidHash(hash) {
		return false
	}
	full, thumb := Paths(dir, hash)
	_, e1 := os.Stat(full)
	_, e2 := os.Stat(thumb)
	return e1 == nil && e2 == nil
}

// Remove deletes a stored photo and its thumbnail (one that is gone already is no error). Only
// for photos no report names.
func Remove(dir, hash string) error {
	if !ValidHash(hash) {
		return fmt.Errorf("photo: bad name %q", hash)
	}
	full, thumb := Paths(dir, hash)
	var errs []error
	for _, p := range []string{full, thumb} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
