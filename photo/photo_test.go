package photo

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/rwcarlsen/goexif/exif"
)

// redBlue is w x h, left half red, right half blue.
func redBlue(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{0, 0, 255, 255}
			if x < w/2 {
				c = color.NRGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// exifSegment builds an APP1 Exif block with Orientation, Make, a serial number and GPS.
func exifSegment(orientation uint16, lat, lng float64) []byte {
	le := binary.LittleEndian
	var t bytes.Buffer
	t.WriteString("II")
	binary.Write(&t, le, uint16(42))
	binary.Write(&t, le, uint32(8)) // IFD0 at 8
	// IFD0: Orientation, Make, GPS pointer  (3 entries) = 2 + 3*12 + 4 = 42 bytes -> data at 50
	makeOff := uint32(8 + 42)
	makeVal := "SpyCam\x00"
	gpsOff := makeOff + uint32(len(makeVal)) + 1 // keep word alignment
	entry := func(tag, typ uint16, count, value uint32) {
		binary.Write(&t, le, tag)
		binary.Write(&t, le, typ)
		binary.Write(&t, le, count)
		binary.Write(&t, le, value)
	}
	binary.Write(&t, le, uint16(3))
	entry(0x0112, 3, 1, uint32(orientation))
	entry(0x010F, 2, uint32(len(makeVal)), makeOff)
	entry(0x8825, 4, 1, gpsOff)
	binary.Write(&t, le, uint32(0))
	t.WriteString(makeVal)
	t.WriteByte(0)
	// GPS IFD: 4 entries = 2 + 48 + 4 = 54 bytes, then 6 rationals (48 bytes).
	ratOff := gpsOff + 54
	binary.Write(&t, le, uint16(4))
	entry(0x0001, 2, 2, uint32('N'))
	entry(0x0002, 5, 3, ratOff)
	entry(0x0003, 2, 2, uint32('E'))
	entry(0x0004, 5, 3, ratOff+24)
	binary.Write(&t, le, uint32(0))
	for _, v := range []float64{lat, lng} {
		deg := uint32(v)
		min := uint32((v - float64(deg)) * 60)
		sec := ((v-float64(deg))*60 - float64(min)) * 60
		for _, r := range [][2]uint32{{deg, 1}, {min, 1}, {uint32(sec * 1000), 1000}} {
			binary.Write(&t, le, r[0])
			binary.Write(&t, le, r[1])
		}
	}
	payload := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

func jpegWithExif(t *testing.T, img image.Image, orientation uint16) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	out := append([]byte{}, raw[:2]...) // SOI
	out = append(out, exifSegment(orientation, 32.8, 35.0)...)
	return append(out, raw[2:]...)
}

func TestRotatesStripsAndFindsGPS(t *testing.T) {
	in := jpegWithExif(t, redBlue(80, 40), 6) // stored sideways; 6 = turn 90° clockwise to view
	if x, err := exif.Decode(bytes.NewReader(in)); err != nil {
		t.Fatalf("the test photo's EXIF does not parse: %v", err)
	} else if _, err := x.Get(exif.Make); err != nil {
		t.Fatal("the test photo lacks its camera make")
	}
	p, err := Process(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 40 || p.Height != 80 {
		t.Fatalf("not rotated: %dx%d", p.Width, p.Height)
	}
	img, err := jpeg.Decode(bytes.NewReader(p.Full))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, b, _ := img.At(20, 5).RGBA(); r < b {
		t.Error("after turning, the top should be red")
	}
	if r, _, b, _ := img.At(20, 75).RGBA(); b < r {
		t.Error("after turning, the bottom should be blue")
	}
	if p.GPS == nil || p.GPS.Lat < 32.79 || p.GPS.Lat > 32.81 || p.GPS.Lng < 34.99 || p.GPS.Lng > 35.01 {
		t.Fatalf("GPS: %+v", p.GPS)
	}
	// Nothing of the metadata survives: no EXIF block, no camera make, no GPS.
	for _, out := range [][]byte{p.Full, p.Thumb} {
		if _, err := exif.Decode(bytes.NewReader(out)); err == nil {
			t.Error("stored photo still has EXIF")
		}
		if bytes.Contains(out, []byte("Exif")) || bytes.Contains(out, []byte("SpyCam")) {
			t.Error("stored photo carries metadata bytes")
		}
	}
	if !ValidHash(p.Hash) {
		t.Fatalf("hash %q", p.Hash)
	}
}

func TestShrinksLargePhotos(t *testing.T) {
	var b bytes.Buffer
	_ = png.Encode(&b, redBlue(3000, 1000))
	p, err := Process(&b)
	if err != nil {
		t.Fatal(err)
	}
	th, _ := jpeg.DecodeConfig(bytes.NewReader(p.Thumb))
	if p.Width != 2048 || p.Height != 682 || th.Width != ThumbSize {
		t.Fatalf("sizes: full %dx%d thumb %dx%d", p.Width, p.Height, th.Width, th.Height)
	}
	if p.GPS != nil {
		t.Fatal("a PNG without EXIF has no GPS")
	}
}

func TestWebP(t *testing.T) {
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	p, err := Process(bytes.NewReader(webp))
	if err != nil || p.Width != 1 {
		t.Fatalf("webp: %+v %v", p, err)
	}
}

func TestRefusals(t *testing.T) {
	var pe *Error
	check := func(name string, data []byte, want string) {
		t.Helper()
		_, err := Process(bytes.NewReader(data))
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	check("text named .jpg", []byte("this is not a photo at all, just text pretending"), "JPEG, PNG or WebP")
	check("empty", nil, "empty")
	check("gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "JPEG, PNG or WebP")
	check("oversized", append([]byte("\xFF\xD8\xFF\xE0"), make([]byte, MaxBytes)...), "10 MB")
	check("damaged jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00garbage"), "could not be read")

	// A decompression bomb: a tiny PNG whose header claims 20000 x 20000 pixels.
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	bomb := b.Bytes()
	binary.BigEndian.PutUint32(bomb[16:], 20000)
	binary.BigEndian.PutUint32(bomb[20:], 20000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	check("bomb", bomb, "too many pixels")
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	_ = png.Encode(&b, redBlue(10, 10))
	p, err := Process(&b)
	if err != nil {
		t.Fatal(err)
	}
	if Exists(dir, p.Hash) {
		t.Fatal("exists before saving")
	}
	if err := Save(dir, p); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, p); err != nil { // idempotent
		t.Fatal(err)
	}
	full, _ := Paths(dir, p.Hash)
	if got, _ := os.ReadFile(full); !bytes.Equal(got, p.Full) || !Exists(dir, p.Hash) {
		t.Fatal("saved file differs")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("left temporary files: %v", entries)
	}
	if Exists(dir, "../../etc/passwd") {
		t.Fatal("odd names must not resolve")
	}
}
