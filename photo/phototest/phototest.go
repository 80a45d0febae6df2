// Package phototest makes test pictures: plain ones and JPEGs carrying EXIF orientation, a
// camera make and a GPS position, for the tests that prove metadata is stripped.
package phototest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Fataler is the part of testing.TB these helpers need (TestMain helpers have it too).
type Fataler interface {
	Fatalf(format string, args ...any)
}

// RedBlue is w x h, left half red, right half blue.
func RedBlue(w, h int) image.Image {
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

// JPEGWithEXIF encodes img as JPEG with an EXIF block: orientation, make "SpyCam" and GPS lat/lng.
func JPEGWithEXIF(t Fataler, img image.Image, orientation uint16, lat, lng float64) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatalf("phototest: %v", err)
	}
	raw := b.Bytes()
	out := append([]byte{}, raw[:2]...) // SOI
	out = append(out, exifSegment(orientation, lat, lng)...)
	return append(out, raw[2:]...)
}

// PNG encodes a small plain picture.
func PNG(t Fataler, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, RedBlue(w, h)); err != nil {
		t.Fatalf("phototest: %v", err)
	}
	return b.Bytes()
}
