package lifecycle

import (
	"context"
	"slices"
	"testing"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

func person(n int) Actor {
	return Actor{ID: "pub" + string(rune('a'+n)) + "000000000000", Name: "Person", Role: store.RoleCitizen}
}

// "I think this is fixed" from one person flags the report for the moderators; the same person
// twice still counts once; from three different people it is resolved by the public. A
// moderator's action clears the flag.
func TestFixedByThePublic(t *testing.T) {
	s, st := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	if _, err := s.Transition(ctx, mod, r.ID, 0, hazard.Approve, "", ""); err != nil {
		t.Fatal(err)
	}
	events(t, st)
	for i, a := range []Actor{person(1), person(1), person(2)} {
		got, err := s.AddUpdate(ctx, a, r.ID, UpdateDraft{Text: "Looks fixed", Fixed: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != hazard.Open || got.Attention != hazard.ReportedFixed {
			t.Fatalf("after %d fixed updates: %s %q", i+1, got.Status, got.Attention)
		}
	}
	if got := events(t, st); !slices.Equal(got, []string{UpdateAdded, AttentionChanged, UpdateAdded, UpdateAdded}) {
		t.Fatalf("events: %v", got)
	}
	got, err := s.AddUpdate(ctx, person(3), r.ID, UpdateDraft{Fixed: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != hazard.Resolved || got.Attention != "" || len(got.FixedBy) != 0 || len(got.Updates) != 4 {
		t.Fatalf("three different people said fixed: %s %q %v", got.Status, got.Attention, got.FixedBy)
	}
	if last := got.History[len(got.History)-1]; last.Action != hazard.Resolve || last.Public != "public" {
		t.Fatalf("timeline: %+v", last)
	}
	if evs := events(t, st); !slices.Equal(evs, []string{UpdateAdded, StatusChanged, AttentionChanged}) {
		t.Fatalf("events: %v", evs)
	}

	// A moderator's action answers the flag.
	r2 := create(t, s, draft(citizen.ID, 32.9, 35.1))
	if got, _ := s.AddUpdate(ctx, person(1), r2.ID, UpdateDraft{Fixed: true}); got.Attention != hazard.ReportedFixed {
		t.Fatal("not flagged")
	}
	got, err = s.Transition(ctx, mod, r2.ID, 0, hazard.Start, "", "")
	if err != nil || got.Attention != "" || len(got.FixedBy) != 0 {
		t.Fatalf("a moderator's action keeps the flag: %q %v", got.Attention, err)
	}
}

// The reporter's own "fixed" resolves at once; a photo on a resolved report, or its reporter's
// "not fixed", reopens it for the moderators; someone else cannot reopen without a photo.
func TestReporterAndPhotosReopen(t *testing.T) {
	s, _ := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	got, err := s.AddUpdate(ctx, citizen, r.ID, UpdateDraft{Fixed: true})
	if err != nil || got.Status != hazard.Resolved || got.History[len(got.History)-1].Public != "reporter" {
		t.Fatalf("the reporter's fixed: %v %+v", err, got)
	}
	if _, err := s.AddUpdate(ctx, person(1), r.ID, UpdateDraft{Reopen: true}); kind(err) != Invalid {
		t.Fatalf("reopen without a photo by someone else: %v", err)
	}
	if _, err := s.AddUpdate(ctx, person(1), r.ID, UpdateDraft{Fixed: true}); kind(err) != Conflict {
		t.Fatalf("fixed on a resolved report: %v", err)
	}
	after, _ := st(s).Report(ctx, r.ID)
	if len(after.Updates) != 1 {
		t.Fatalf("a refused update was stored: %d", len(after.Updates))
	}
	got, err = s.AddUpdate(ctx, person(1), r.ID, UpdateDraft{Text: "It is back", Photo: "0123456789abcdef0123456789abcdef"})
	if err != nil || got.Status != hazard.Open || got.Attention != hazard.ReopenedByPublic {
		t.Fatalf("a photo on a resolved report: %v %s %q", err, got.Status, got.Attention)
	}
	if _, err := s.AddUpdate(ctx, citizen, r.ID, UpdateDraft{Fixed: true}); err != nil {
		t.Fatal(err)
	}
	got, err = s.AddUpdate(ctx, citizen, r.ID, UpdateDraft{Reopen: true})
	if err != nil || got.Status != hazard.Open || got.Attention != hazard.ReopenedByPublic {
		t.Fatalf("the reporter's not fixed: %v %s", err, got.Status)
	}
}

func st(s *Service) *store.Store { return s.st }

// Updates need a signed-in author, a public report and some content; hidden and rejected
// reports take none, and a moderator can hide one with a reason.
func TestUpdateRefusalsAndHiding(t *testing.T) {
	s, _ := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	cases := []struct {
		actor Actor
		d     UpdateDraft
		want  Kind
	}{
		{Actor{}, UpdateDraft{Text: "hi"}, Forbidden},
		{person(1), UpdateDraft{}, Invalid},
		{person(1), UpdateDraft{Text: string(make([]rune, MaxUpdateText+1))}, Invalid},
		{person(1), UpdateDraft{Text: "bell\x07"}, Invalid},
	}
	for i, c := range cases {
		if _, err := s.AddUpdate(ctx, c.actor, r.ID, c.d); kind(err) != c.want {
			t.Errorf("case %d: %v, want kind %d", i, err, c.want)
		}
	}
	got, err := s.AddUpdate(ctx, person(1), r.ID, UpdateDraft{Text: "rude words", ShowName: true})
	if err != nil || got.Updates[0].Name != "Person" {
		t.Fatalf("%v %+v", err, got)
	}
	uid := got.Updates[0].ID
	if _, err := s.HideUpdate(ctx, person(2), r.ID, uid, "spam"); kind(err) != Forbidden {
		t.Fatalf("a citizen hid an update: %v", err)
	}
	if _, err := s.HideUpdate(ctx, mod, r.ID, uid, " "); kind(err) != Invalid {
		t.Fatalf("hiding without a reason: %v", err)
	}
	got, err = s.HideUpdate(ctx, mod, r.ID, uid, "Insults")
	if err != nil || !got.Updates[0].Hidden() || got.Updates[0].Reason != "Insults" || got.Updates[0].Text != "rude words" {
		t.Fatalf("hidden: %v %+v", err, got.Updates)
	}
	if _, err := s.HideUpdate(ctx, mod, r.ID, uid, "again"); kind(err) != Conflict {
		t.Fatalf("hiding twice: %v", err)
	}
	if _, err := s.Transition(ctx, mod, r.ID, 0, hazard.Reject, "Not a hazard", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUpdate(ctx, person(1), r.ID, UpdateDraft{Text: "hello"}); kind(err) != NotFound {
		t.Fatalf("an update on a rejected report by someone else: %v", err)
	}
	if _, err := s.AddUpdate(ctx, citizen, r.ID, UpdateDraft{Text: "but why"}); kind(err) != Conflict {
		t.Fatalf("an update on a rejected report by its reporter: %v", err)
	}
}

// "Still there" from an expiry mail reopens the reporter's expired report; on an active report
// it is a confirmation.
func TestStillThere(t *testing.T) {
	s, _ := newService(t, "post")
	ctx := context.Background()
	d := draft(citizen.ID, 32.8, 35.0)
	d.Type = "flooding"
	r := create(t, s, d)
	if first, err := s.StillThere(ctx, person(1).ID, r.ID); err != nil || !first {
		t.Fatalf("still there on an active report: %v %v", first, err)
	}
	if n, _ := st(s).Report(ctx, r.ID); n.Confirmations != 1 {
		t.Fatalf("confirmations: %d", n.Confirmations)
	}
	if _, err := s.move(ctx, System.ID, r.ID, 0, hazard.Expire, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StillThere(ctx, person(1).ID, r.ID); kind(err) != Conflict {
		t.Fatalf("someone else on an expired report: %v", err)
	}
	if first, err := s.StillThere(ctx, citizen.ID, r.ID); err != nil || !first {
		t.Fatalf("the reporter on an expired report: %v %v", first, err)
	}
	got, _ := st(s).Report(ctx, r.ID)
	if got.Status != hazard.Open || got.Attention != hazard.ReopenedByPublic || got.ExpiresAt.IsZero() {
		t.Fatalf("after still there: %s %q %v", got.Status, got.Attention, got.ExpiresAt)
	}
	if first, err := s.StillThere(ctx, citizen.ID, r.ID); err != nil || !first {
		t.Fatalf("again on the open report (expiry moves on): %v %v", first, err)
	}
}
