package lifecycle

import (
	"log/slog"
	"testing"
	"time"

	"hazardwatch/geocode"
	"hazardwatch/i18n"
)

// A report's address says the language it is in, which is the answer's: the offline gazetteer
// answers a Hebrew reporter in Hebrew where the place has a Hebrew name.
func TestAddressKeepsItsLanguage(t *testing.T) {
	_, st := newService(t, "post")
	off, err := geocode.LoadOffline()
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, off, Config{Moderation: "post", ReportExpiry: 48 * time.Hour, TooCloseRadius: 15}, slog.New(slog.DiscardHandler))
	ctx := i18n.With(t.Context(), i18n.For("he"))
	r, _, err := s.Create(ctx, draft(citizen.ID, 32.8191, 34.9983))
	if err != nil {
		t.Fatal(err)
	}
	if r.Address != "ליד חיפה, ישראל" || r.AddressLang != "he" {
		t.Fatalf("address %q in %q, want the gazetteer's Hebrew", r.Address, r.AddressLang)
	}
}
