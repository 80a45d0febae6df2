package lifecycle

import (
	"context"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// A body's system closes and reopens reports, and adds notes; a moderator's later change wins.
func TestExternalUpdate(t *testing.T) {
	s, st := newService(t, "post")
	ctx := context.Background()
	const bid = "bodyaaaaaaaaaaaa"
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	events(t, st)
	// New notes alone: a timeline entry, no change of status.
	got, changed, err := s.ExternalUpdate(ctx, bid, r.ID, true, "Crew booked for Monday", true, time.Now())
	if err != nil || !changed || got.Status != hazard.Pending || got.History[len(got.History)-1].Action != BodyNote {
		t.Fatalf("note: %+v %v %v", got, changed, err)
	}
	if BodyOf(got.History[len(got.History)-1].By) != bid || BodyOf(citizen.ID) != "" {
		t.Fatal("the entry is not the body's")
	}
	// The same notes again (no new notes): nothing.
	if _, changed, _ := s.ExternalUpdate(ctx, bid, r.ID, true, "Crew booked for Monday", false, time.Now()); changed {
		t.Fatal("an unchanged answer changed the report")
	}
	// Closed at the body: resolved, with the body's notes; the reporter is told (a status event).
	got, changed, err = s.ExternalUpdate(ctx, bid, r.ID, false, "Filled", true, time.Now())
	if err != nil || !changed || got.Status != hazard.Resolved || got.History[len(got.History)-1].Note != "Filled" {
		t.Fatalf("close: %+v %v", got, err)
	}
	if evs := events(t, st); len(evs) != 2 || evs[1] != StatusChanged {
		t.Fatalf("events: %v", evs)
	}
	// Reopened at the body: open again (it was the body that closed it).
	if got, _, _ = s.ExternalUpdate(ctx, bid, r.ID, true, "Sank again", true, time.Now()); got.Status != hazard.Open {
		t.Fatalf("reopen: %s", got.Status)
	}
	// A moderator resolves it; the body's older "open" does not undo that...
	before := time.Now()
	time.Sleep(5 * time.Millisecond)
	if _, err := s.Transition(ctx, mod, r.ID, 0, hazard.Resolve, "Checked on site", ""); err != nil {
		t.Fatal(err)
	}
	if _, changed, _ := s.ExternalUpdate(ctx, bid, r.ID, false, "", false, before); changed {
		t.Fatal("an older answer from the body overwrote the moderator's change")
	}
	// ...and a body never reopens what a moderator closed.
	if _, changed, _ := s.ExternalUpdate(ctx, bid, r.ID, true, "", false, time.Now().Add(time.Second)); changed {
		t.Fatal("the body reopened a report a moderator resolved")
	}
	final, _ := st.Report(ctx, r.ID)
	if final.Status != hazard.Resolved || final.History[len(final.History)-1].By != mod.ID {
		t.Fatalf("final: %s by %s", final.Status, final.History[len(final.History)-1].By)
	}
	if _, _, err := s.ExternalUpdate(ctx, bid, store.NewReportID(), false, "", false, time.Now()); KindOf(err) != NotFound {
		t.Fatalf("unknown report: %v", err)
	}
}
