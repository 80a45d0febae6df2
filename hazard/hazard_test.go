package hazard

import (
	"context"
	"strings"
	"testing"

	"hazardwatch/i18n"
)

// Every type, severity and status has words in every language (a missing one shows its id).
func TestWordsInEveryLanguage(t *testing.T) {
	for _, l := range i18n.Languages {
		ctx := i18n.With(context.Background(), i18n.For(l.Tag))
		var words []string
		for _, ty := range Types {
			words = append(words, ty.Label(ctx), ty.Help(ctx))
		}
		for _, s := range Severities {
			words = append(words, s.Label(ctx), s.Help(ctx), s.Words(ctx))
		}
		for _, s := range Statuses {
			words = append(words, s.Label(ctx), i18n.Say(ctx, s.InlineMsg()))
		}
		for _, w := range words {
			if w == "" || strings.HasPrefix(w, "hazard.") {
				t.Errorf("%s: missing words: %q", l.Tag, w)
			}
		}
	}
	he := i18n.With(context.Background(), i18n.For("he"))
	if got := Pending.Label(he); got != "לא מאומת" {
		t.Errorf("pending in Hebrew: %q", got)
	}
}

func TestTypesAreUniqueAndComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, ty := range Types {
		if seen[ty.Code] || ty.Icon == "" {
			t.Errorf("bad type %+v", ty)
		}
		seen[ty.Code] = true
	}
	for _, code := range []string{"pothole", "crack", "surface", "debris", "flooding", "ice", "tree", "signal", "sign", "streetlight", "manhole", "other"} {
		if !seen[code] {
			t.Errorf("missing type %s", code)
		}
	}
	for _, code := range []string{"debris", "flooding", "ice"} {
		if ty, _ := TypeByCode(code); !ty.Transient {
			t.Errorf("%s should be transient", code)
		}
	}
}

func TestTransitions(t *testing.T) {
	cases := []struct {
		from Status
		a    Action
		to   Status
		ok   bool
	}{
		{Pending, Approve, Open, true},
		{Open, Approve, "", false},
		{Pending, Reject, Rejected, true},
		{Open, Start, InProgress, true},
		{InProgress, Resolve, Resolved, true},
		{Resolved, Reopen, Open, true},
		{Open, Reopen, "", false},
		{Open, MarkDuplicate, Duplicate, true},
		{Resolved, MarkDuplicate, "", false},
		{Open, Expire, Expired, true},
		{InProgress, Expire, "", false},
		{Pending, Withdraw, Withdrawn, true},
		{Open, Withdraw, "", false},
		{Open, Action("delete"), "", false},
	}
	for _, tc := range cases {
		to, ok := Next(tc.from, tc.a)
		if to != tc.to || ok != tc.ok {
			t.Errorf("%s --%s--> %q %v, want %q %v", tc.from, tc.a, to, ok, tc.to, tc.ok)
		}
	}
	for _, s := range Statuses {
		if !s.Valid() {
			t.Errorf("status %s", s)
		}
	}
	if Open.Open311() != "open" || Resolved.Open311() != "closed" || Rejected.Public() || !Pending.Public() {
		t.Error("status properties")
	}
}
