package photo

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/rwcarlsen/goexif/exif"

	"hazardwatch/photo/phototest"
)

func TestRotatesStripsAndFindsGPS(t *testing.T) {
	in := phototest.JPEGWithEXIF(t, phototest.RedBlue(80, 40), 6, 32.8, 35.0) // stored sideways; 6 = turn 90° clockwise to view
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
	_ = png.Encode(&b, phototest.RedBlue(3000, 1000))
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
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg.String(), want) {
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
	_ = png.Encode(&b, phototest.RedBlue(10, 10))
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
