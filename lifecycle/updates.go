package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// Public updates and the public's say in a report's state: anyone signed in adds text, a photo
// or "I think this is fixed" to a public report; enough "fixed" from different people (or one
// from the reporter) resolve it, a single one asks moderators to look (Attention); a photo on a
// resolved report, or its reporter saying it is back, reopens it for the moderators.

// Event kinds of this file.
const (
	UpdateAdded      = "report.update_added"
	UpdateHidden     = "report.update_hidden"
	AttentionChanged = "report.attention_changed"
)

// Limits of public updates.
const (
	MaxUpdateText     = 2000
	MaxUpdates        = 100 // per report: the updates live in its document
	DefaultFixedCount = 3
)

// UpdateDraft is a public update as a form gives it.
type UpdateDraft struct {
	Text     string
	Photo    string // a saved photo's hash, or ""
	Fixed    bool   // "I think this is fixed"
	Reopen   bool   // the reporter: "it is not fixed" on a resolved report
	ShowName bool
}

func invalid(_ context.Context, field, id string, pairs ...any) *Error {
	return invalidField(field, i18n.M(id, pairs...))
}

// UpdateTextProblem checks an update's text (as a message id, "" when fine).
func UpdateTextProblem(text string) string {
	switch {
	case !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return "updates.error.characters"
	case utf8.RuneCountInString(text) > MaxUpdateText:
		return "updates.error.too_long"
	}
	return ""
}

func (s *Service) fixedCount() int {
	if s.cfg.FixedByPublic > 0 {
		return s.cfg.FixedByPublic
	}
	return DefaultFixedCount
}

// AddUpdate adds actor's update to public report id and applies what it says: "fixed" on an
// active report resolves it when its reporter says so or when FixedByPublic different people
// have, and otherwise flags it ReportedFixed; on a resolved report a photo, or its reporter's
// "not fixed", reopens it flagged ReopenedByPublic. Nothing is stored when any part is refused.
// A body's staff write on their body's reports as the body (Authorise's rule), never by name.
func (s *Service) AddUpdate(ctx context.Context, actor Actor, id string, d UpdateDraft) (*store.Report, error) {
	if actor.ID == "" {
		return nil, fail(Forbidden, "updates.error.sign_in")
	}
	d.Text = strings.TrimSpace(strings.ReplaceAll(d.Text, "\r\n", "\n"))
	if p := UpdateTextProblem(d.Text); p != "" {
		return nil, invalid(ctx, "text", p, "Max", MaxUpdateText)
	}
	if d.Text == "" && d.Photo == "" && !d.Fixed && !d.Reopen {
		return nil, invalid(ctx, "text", "updates.error.empty")
	}
	if actor.Role == store.RoleStaff { // on their body's report they speak for it; elsewhere as anyone
		if a, err := s.Authorise(ctx, actor, id); err == nil {
			actor = a
		} else if KindOf(err) != Forbidden {
			return nil, err
		}
	}
	return s.change(ctx, id, 0, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if !s.Visible(nil, r.Status, "\x00") {
			if !s.CanSee(ctx, &store.User{ID: actor.ID, Role: actor.Role, Body: actor.Body}, r) {
				return nil, errGone
			}
			return nil, fail(Conflict, "updates.error.not_public")
		}
		if len(r.Updates) >= MaxUpdates {
			return nil, fail(Conflict, "updates.error.too_many", "Max", MaxUpdates)
		}
		reporter := actor.ID == r.ReporterID
		if d.Fixed && !r.Status.Active() {
			return nil, fail(Conflict, "updates.error.fixed_not_active")
		}
		if d.Reopen && (r.Status != hazard.Resolved || !reporter) {
			if r.Status != hazard.Resolved {
				return nil, fail(Conflict, "updates.error.reopen_not_resolved")
			}
			if d.Photo == "" {
				return nil, invalid(ctx, "photo", "updates.error.reopen_needs_photo")
			}
		}
		u := store.Update{ID: store.NewID(), At: now, By: actor.ID, Text: d.Text, Photo: d.Photo, Fixed: d.Fixed}
		switch {
		case actor.BodyName != "":
			u.Body, u.BodyName = actor.Body, actor.BodyName
		case d.ShowName:
			u.Name = actor.Name
		}
		r.Updates = append(r.Updates, u)
		data := map[string]string{"update": u.ID}
		if d.Fixed {
			data["fixed"] = "1"
		}
		if d.Photo != "" {
			data["photo"] = "1"
		}
		evs := []store.Event{{Kind: UpdateAdded, Actor: actor.ID, Data: data}}
		switch {
		case d.Fixed && reporter:
			evs = append(evs, s.publicMove(r, now, actor.ID, hazard.Resolve, "reporter", "")...)
		case d.Fixed:
			if !slices.Contains(r.FixedBy, actor.ID) {
				r.FixedBy = append(r.FixedBy, actor.ID)
			}
			if len(r.FixedBy) >= s.fixedCount() {
				evs = append(evs, s.publicMove(r, now, actor.ID, hazard.Resolve, "public", "")...)
			} else {
				evs = append(evs, setAttention(r, actor.ID, hazard.ReportedFixed)...)
			}
		case r.Status == hazard.Resolved && (d.Photo != "" || (reporter && d.Reopen)):
			evs = append(evs, s.publicMove(r, now, actor.ID, hazard.Reopen, who(reporter), hazard.ReopenedByPublic)...)
		}
		return evs, nil
	})
}

func who(reporter bool) string {
	if reporter {
		return "reporter"
	}
	return "public"
}

// publicMove is a status change the public made (not a moderator): whose it was ("reporter" or
// "public") is in the event and on the timeline, FixedBy starts again, Attention becomes flag.
func (s *Service) publicMove(r *store.Report, now time.Time, by string, a hazard.Action, whose string, flag hazard.Attention) []store.Event {
	next, ok := hazard.Next(r.Status, a)
	if !ok {
		return nil
	}
	from := r.Status
	r.History = append(r.History, store.Change{At: now, By: by, Action: a, From: from, To: next, Public: whose})
	r.Status, r.FixedBy = next, nil
	if a == hazard.Reopen {
		r.DuplicateOf = ""
		if t, ok := hazard.TypeByCode(r.Type); ok && t.Transient {
			r.ExpiresAt = now.Add(s.cfg.ReportExpiry)
		}
	}
	evs := []store.Event{{Kind: StatusChanged, Actor: by, Data: map[string]string{"action": string(a), "from": string(from), "to": string(next), "by": whose}}}
	return append(evs, setAttention(r, by, flag)...)
}

// setAttention changes a report's Attention flag, with an event when it changes.
func setAttention(r *store.Report, by string, to hazard.Attention) []store.Event {
	if r.Attention == to {
		return nil
	}
	ev := store.Event{Kind: AttentionChanged, Actor: by, Data: map[string]string{"from": string(r.Attention), "to": string(to)}}
	r.Attention = to
	return []store.Event{ev}
}

// DismissAttention is a moderator's "seen, nothing to change": it clears the Attention flag (any
// moderator action that changes the status clears it too).
func (s *Service) DismissAttention(ctx context.Context, actor Actor, id string, version int64) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		evs := setAttention(r, actor.ID, "")
		if len(evs) == 0 {
			return nil, errAlready
		}
		r.FixedBy = nil
		return evs, nil
	})
}

// HideUpdate is a moderator hiding a public update, with a reason: the update stays stored with
// who hid it, when and why (moderators still see it), and the change is an event.
func (s *Service) HideUpdate(ctx context.Context, actor Actor, id, updateID, reason string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, invalid(ctx, "reason", "updates.error.hide_reason")
	}
	if utf8.RuneCountInString(reason) > 500 || UpdateTextProblem(reason) != "" {
		return nil, invalid(ctx, "reason", "updates.error.reason_too_long")
	}
	return s.change(ctx, id, 0, func(r *store.Report, now time.Time) ([]store.Event, error) {
		i := slices.IndexFunc(r.Updates, func(u store.Update) bool { return u.ID == updateID })
		if i < 0 {
			return nil, fail(NotFound, "updates.error.no_update")
		}
		if r.Updates[i].Hidden() {
			return nil, fail(Conflict, "updates.error.hidden_already")
		}
		r.Updates = slices.Clone(r.Updates)
		r.Updates[i].HiddenAt, r.Updates[i].HiddenBy, r.Updates[i].Reason = now, actor.ID, reason
		return []store.Event{{Kind: UpdateHidden, Actor: actor.ID, Note: reason, Data: map[string]string{"update": updateID}}}, nil
	})
}

// StillThere is "it is still there" from a mailed link: on an active report, a confirmation by
// by (the expiry of a transient hazard moves on); on an expired report, its reporter reopens it
// for the moderators (ReopenedByPublic). first is false when nothing changed.
func (s *Service) StillThere(ctx context.Context, by, id string) (first bool, err error) {
	r, err := s.st.Report(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.PublicNow(r.Status)) {
		return false, errGone
	} else if err != nil {
		return false, err
	}
	switch {
	case r.Status.Active():
		if by != r.ReporterID {
			if first, _, err = s.st.Confirm(ctx, id, by, s.cfg.ReportExpiry); err != nil {
				return false, err
			}
		}
		if !r.ExpiresAt.IsZero() {
			if err := s.st.ExtendExpiry(ctx, id, s.cfg.ReportExpiry); err != nil {
				return false, err
			}
			first = true
		}
		return first, nil
	case r.Status == hazard.Expired && by == r.ReporterID:
		_, err := s.change(ctx, id, 0, func(r *store.Report, now time.Time) ([]store.Event, error) {
			if r.Status != hazard.Expired {
				return nil, errAlready
			}
			return s.publicMove(r, now, by, hazard.Reopen, "reporter", hazard.ReopenedByPublic), nil
		})
		if errors.Is(err, errAlready) {
			return false, nil
		}
		return err == nil, err
	}
	return false, fail(Conflict, "stillthere.error.closed")
}

// ForgetContact stops mails about a report to its contact address (the reporter's one-click
// unsubscribe).
func (s *Service) ForgetContact(ctx context.Context, id string) error {
	_, err := s.change(ctx, id, 0, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if r.ContactEmail == "" {
			return nil, errAlready
		}
		r.ContactEmail = ""
		return []store.Event{{Kind: Updated, Actor: "contact", Data: map[string]string{"field": "contact_email"}}}, nil
	})
	if errors.Is(err, errAlready) {
		return nil
	}
	return err
}

// UpdateNumber is an update's 1-based position, for timeline anchors.
func UpdateNumber(r *store.Report, updateID string) string {
	return strconv.Itoa(slices.IndexFunc(r.Updates, func(u store.Update) bool { return u.ID == updateID }) + 1)
}
