package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// The staff's tools beyond the workflow: assignment and priority, corrections of what a citizen
// wrote (each with a reason; the original stays in the history, for moderators only), the
// public's abuse flags, and bulk actions. Each change is version-checked like any other.

// Event kinds of the staff tools.
const (
	Assigned    = "report.assigned"
	Prioritised = "report.prioritised"
	Flagged     = "report.flagged" // someone used "report abuse"
)

// History actions of the staff tools (beside the workflow's hazard.Action values).
const (
	ActRelocate     hazard.Action = "relocate"
	ActRecategorise hazard.Action = "recategorise"
	ActEdit         hazard.Action = "edit"
	ActHidePhoto    hazard.Action = "hide_photo"
	ActAssign       hazard.Action = "assign"
	ActPriority     hazard.Action = "priority"
	ActAbuse        hazard.Action = "abuse"         // a flag from the public
	ActAbuseDismiss hazard.Action = "abuse_dismiss" // a moderator found nothing to do
)

// What a correction changed (Data["correction"] on its event): the reporter's mail says which.
const (
	CorrectedDescription = "description"
	CorrectedPhoto       = "photo"
	CorrectedType        = "type"
	CorrectedPlace       = "place"
)

// Priorities are the staff's own urgency, separate from the reporter's severity ("": none).
var Priorities = []string{"p1", "p2", "p3"}

// BulkActions are the workflow actions the queue offers for many reports at once.
var BulkActions = []hazard.Action{hazard.Approve, hazard.Reject, hazard.Resolve}

const maxAbuseFlags = 50 // per report: enough to see a pattern, bounded against floods

// staffChange is a moderators-only history entry.
func staffChange(actor Actor, now time.Time, r *store.Report, a hazard.Action, note, was string) store.Change {
	return store.Change{At: now, By: actor.ID, Action: a, From: r.Status, To: r.Status, Note: note, Staff: true, Internal: true, Was: was,
		Body: actor.Body, BodyName: actor.BodyName}
}

// plainText checks a moderator's or the public's short text: at most 500 characters, no control
// characters but line breaks.
func plainText(field, text string) (string, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if utf8.RuneCountInString(text) > 500 || !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return "", invalidField(field, i18n.M("moderation.err.note_too_long"))
	}
	return text, nil
}

// staffReason checks the reason a correction needs (the reporter reads it).
func staffReason(reason string) (string, error) {
	reason, err := plainText("reason", reason)
	if err != nil {
		return "", err
	}
	if reason == "" {
		return "", invalidField("reason", i18n.M("moderation.err.reason_needed"))
	}
	return reason, nil
}

func errSame() error {
	return fail(Invalid, "moderation.err.nothing_changed")
}

// staffOnly admits moderators, admins and a body's staff to the queue as a whole; what each may
// do to one report is Authorise's to say.
func (s *Service) staffOnly(actor Actor) error {
	if !actor.moderator() && (actor.ID == "" || actor.Role != store.RoleStaff) {
		return fail(Forbidden, "errors.moderators_only")
	}
	return nil
}

// Authorise is the one rule of who may moderate report id, checked by every moderator's action
// and panel: moderators and admins every report; a body's staff only the reports sent to their
// body (its report index, which a deleted body no longer has), whatever the route. It answers
// the actor as the report's history records it: for staff, with the body's name.
func (s *Service) Authorise(ctx context.Context, actor Actor, id string) (Actor, error) {
	if err := s.mayModerate(ctx, actor, id); err != nil || actor.moderator() {
		return actor, err
	}
	b, err := s.st.Body(ctx, actor.Body)
	if errors.Is(err, store.ErrNotFound) {
		return actor, fail(Forbidden, "errors.staff.not_sent") // deleted a moment ago
	} else if err != nil {
		return actor, err
	}
	actor.BodyName = b.Name
	return actor, nil
}

// Moderates reports whether viewer may moderate report id (Authorise): whether a page shows
// them what only moderators see of it (hidden updates, the send form, the reporter's details).
func (s *Service) Moderates(ctx context.Context, viewer *store.User, id string) bool {
	ok, _ := s.moderates(ctx, viewer, id)
	return ok
}

// mayModerate is Authorise's rule without naming the actor: one read for staff.
func (s *Service) mayModerate(ctx context.Context, actor Actor, id string) error {
	if err := s.staffOnly(actor); err != nil || actor.moderator() {
		return err
	}
	sent, err := s.st.SentTo(ctx, id, actor.Body)
	if err != nil {
		return err
	}
	if !sent {
		return fail(Forbidden, "errors.staff.not_sent")
	}
	return nil
}

// moderates is Moderates with Redis's errors (a refusal is false, not an error). Pages and
// photos ask it on every view, so it does not read the body's document as Authorise does.
func (s *Service) moderates(ctx context.Context, viewer *store.User, id string) (bool, error) {
	err := s.mayModerate(ctx, ActorOf(viewer), id)
	if KindOf(err) == Forbidden {
		return false, nil
	}
	return err == nil, err
}

// ForModerator loads report id for actor's panel, refused as an action on it would be.
func (s *Service) ForModerator(ctx context.Context, actor Actor, id string) (*store.Report, error) {
	if _, err := s.Authorise(ctx, actor, id); err != nil {
		return nil, err
	}
	r, err := s.st.Report(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errGone
	}
	return r, err
}

// EditDescription replaces what a citizen wrote (personal data, abuse) with a reason.
func (s *Service) EditDescription(ctx context.Context, actor Actor, id string, version int64, text, reason string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if msg := DescriptionProblem(text); !msg.IsZero() {
		return nil, invalidField("description", msg)
	}
	reason, err = staffReason(reason)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if r.Description == text {
			return nil, errSame()
		}
		r.History = append(r.History, staffChange(actor, now, r, ActEdit, reason, r.Description))
		r.Description = text
		return []store.Event{{Kind: Updated, Actor: actor.ID, Note: reason,
			Data: map[string]string{"field": "description", "staff": "1", "correction": CorrectedDescription}}}, nil
	})
}

// HidePhoto takes a photo off the report (a face, a number plate...) with a reason; moderators
// still see it.
func (s *Service) HidePhoto(ctx context.Context, actor Actor, id string, version int64, photo, reason string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	reason, err = staffReason(reason)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		i := slices.Index(r.Photos, photo)
		if i < 0 {
			return nil, invalidField("photo", i18n.M("moderation.err.no_such_photo"))
		}
		r.Photos = slices.Delete(slices.Clone(r.Photos), i, i+1)
		r.HiddenPhotos = append(slices.Clone(r.HiddenPhotos), photo)
		r.History = append(r.History, staffChange(actor, now, r, ActHidePhoto, reason, photo))
		return []store.Event{{Kind: Updated, Actor: actor.ID, Note: reason,
			Data: map[string]string{"field": "photos", "staff": "1", "correction": CorrectedPhoto}}}, nil
	})
}

// Assign gives a report to someone who may moderate it ("" takes it back): the "mine" tab of the
// queue.
func (s *Service) Assign(ctx context.Context, actor Actor, id string, version int64, assignee string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if assignee != "" {
		u, err := s.st.UserByID(ctx, assignee)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Disabled || !s.Moderates(ctx, u, id))) {
			return nil, invalidField("assignee", i18n.M("moderation.err.assign_staff"))
		} else if err != nil {
			return nil, err
		}
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if r.Assignee == assignee {
			return nil, errSame()
		}
		r.History = append(r.History, staffChange(actor, now, r, ActAssign, assignee, r.Assignee))
		data := map[string]string{"from": r.Assignee, "to": assignee, "staff": "1"}
		r.Assignee = assignee
		return []store.Event{{Kind: Assigned, Actor: actor.ID, Data: data}}, nil
	})
}

// SetPriority sets the staff's priority, P1 (most urgent) to P3, or none (""). It moves the report
// in the queue's urgency order (store.Urgency).
func (s *Service) SetPriority(ctx context.Context, actor Actor, id string, version int64, priority string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if priority != "" && !slices.Contains(Priorities, priority) {
		return nil, invalidField("priority", i18n.M("moderation.err.priority"))
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if r.Priority == priority {
			return nil, errSame()
		}
		r.History = append(r.History, staffChange(actor, now, r, ActPriority, priority, r.Priority))
		data := map[string]string{"from": r.Priority, "to": priority, "staff": "1"}
		r.Priority = priority
		return []store.Event{{Kind: Prioritised, Actor: actor.ID, Data: data}}, nil
	})
}

// FlagAbuse records the public's "report abuse" on a report the asker may see, or on one of its
// updates: it puts the report in the queue's abuse tab until a moderator acts. One flag per person
// and target; signed-out flags are bounded by the caller's rate limit.
func (s *Service) FlagAbuse(ctx context.Context, actor Actor, viewer *store.User, id, update, reason string) error {
	if _, err := s.Load(ctx, viewer, id); err != nil {
		return err
	}
	reason, err := plainText("reason", reason)
	if err != nil {
		return err
	}
	if len(update) > 64 || strings.ContainsFunc(update, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') }) {
		return fail(NotFound, "moderation.err.no_such_update")
	}
	for attempt := 0; attempt < 5; attempt++ {
		_, err = s.change(ctx, id, 0, func(r *store.Report, now time.Time) ([]store.Event, error) {
			if update != "" && !slices.ContainsFunc(r.Updates, func(u store.Update) bool { return u.ID == update && !u.Hidden() }) {
				return nil, fail(NotFound, "moderation.err.no_such_update")
			}
			mine := func(f store.AbuseFlag) bool { return actor.ID != "" && f.By == actor.ID && f.Update == update }
			if slices.ContainsFunc(r.Abuse, mine) || len(r.Abuse) >= maxAbuseFlags {
				return nil, errAlready // counted already: nothing to add
			}
			r.Abuse = append(slices.Clone(r.Abuse), store.AbuseFlag{At: now, By: actor.ID, Reason: reason, Update: update})
			r.History = append(r.History, store.Change{At: now, By: actor.ID, Action: ActAbuse, From: r.Status, To: r.Status,
				Note: reason, Internal: true, Was: update})
			return []store.Event{{Kind: Flagged, Actor: actor.ID, Data: map[string]string{"update": update}}}, nil
		})
		if !errors.Is(err, ErrChanged) {
			break // a moderator acting at the same moment: try again on the new version
		}
	}
	if errors.Is(err, errAlready) {
		return nil
	}
	return err
}

// DismissAbuse closes the public's abuse flags on a report when a moderator finds nothing to do
// (any workflow action closes them too).
func (s *Service) DismissAbuse(ctx context.Context, actor Actor, id string, version int64, note string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	note, err = plainText("note", note)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if len(r.Abuse) == 0 {
			return nil, errSame()
		}
		r.Abuse = nil
		r.History = append(r.History, staffChange(actor, now, r, ActAbuseDismiss, note, ""))
		return []store.Event{{Kind: Updated, Actor: actor.ID, Note: note, Data: map[string]string{"field": "abuse", "staff": "1"}}}, nil
	})
}

// BulkItem is one report of a bulk action, at the version the moderator saw (0: the current one).
type BulkItem struct {
	ID      string
	Version int64
}

// BulkResult is what happened to one report of a bulk action.
type BulkResult struct {
	ID     string
	Report *store.Report // nil when it did not change
	Err    error         // ErrChanged: someone else changed it meanwhile
}

// BulkTransition applies one workflow action with one note to many reports, each version-checked
// on its own: one report changed by someone else, or not in a state the action fits, does not
// stop the others.
func (s *Service) BulkTransition(ctx context.Context, actor Actor, items []BulkItem, a hazard.Action, note string) ([]BulkResult, error) {
	if err := s.staffOnly(actor); err != nil {
		return nil, err
	}
	if !slices.Contains(BulkActions, a) {
		return nil, invalidField("action", i18n.M("moderation.err.bulk_action"))
	}
	out := make([]BulkResult, 0, len(items))
	for _, it := range items {
		r, err := s.Transition(ctx, actor, it.ID, it.Version, a, note, "")
		var le *Error
		if err != nil && !errors.As(err, &le) {
			return out, err // Redis trouble: stop, say what was done
		}
		if le != nil && le.Kind == Invalid && !le.Fields["note"].IsZero() {
			return nil, err // the note is wrong for all of them
		}
		out = append(out, BulkResult{ID: it.ID, Report: r, Err: err})
	}
	return out, nil
}
