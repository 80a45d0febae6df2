package i18n

import (
	"testing"
	"time"
)

// Dates and numbers come from CLDR in the reader's language and the given zone; relative times
// use the catalogs' plural forms (Hebrew has a dual: "לפני שתי דקות").
func TestFormats(t *testing.T) {
	jer, err := time.LoadLocation("Asia/Jerusalem")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 5, 0, 0, time.UTC) // 14:05 in Jerusalem
	en, he := For("en"), For("he")
	for _, tc := range []struct{ got, want string }{
		{en.Date(at, jer), "November 27, 2026"},
		{he.Date(at, jer), "27 בנובמבר 2026"},
		{he.Date(at.Add(23*time.Hour), jer), "28 בנובמבר 2026"}, // the zone's day, not UTC's
		{en.Ago(at.Add(-30*time.Second), at, jer), "just now"},
		{en.Ago(at.Add(-5*time.Minute), at, jer), "5 minutes ago"},
		{en.Ago(at.Add(-1*time.Minute), at, jer), "1 minute ago"},
		{he.Ago(at.Add(-5*time.Minute), at, jer), "לפני 5 דקות"},
		{he.Ago(at.Add(-2*time.Minute), at, jer), "לפני שתי דקות"},
		{he.Ago(at.Add(-3*time.Hour), at, jer), "לפני 3 שעות"},
		{he.Ago(at.Add(-60*24*time.Hour), at, jer), "28 בספטמבר 2026"},
		{en.Int(12345), "12,345"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if got := he.DateTime(at, jer); got != "27 בנובמבר 2026 בשעה 14:05" {
		t.Errorf("Hebrew date and time: %q", got)
	}
}
