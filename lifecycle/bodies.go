package lifecycle

import (
	"context"
	"errors"
	"strings"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// Bodies (councils, utilities) fix hazards in their own systems; what they say there comes back
// onto the report as the body's own timeline entries, by these rules.

// BodyPrefix starts the actor id of a body on a report's timeline ("body:<id>").
const BodyPrefix = "body:"

// BodyActor is body bid acting on a report.
func BodyActor(bid string) Actor { return Actor{ID: BodyPrefix + bid} }

// BodyOf is the body id of a timeline entry's author ("" when a person or the system made it).
func BodyOf(by string) string {
	if b, ok := strings.CutPrefix(by, BodyPrefix); ok {
		return b
	}
	return ""
}

// Actions a body's system takes on the timeline, beside the workflow's.
const (
	BodyNote hazard.Action = "body_note" // new status notes, no change of status
)

// ExternalUpdate brings what body bid's system says about report id (open or closed, with its
// status notes, as of at) onto the report: "closed" resolves an active report; "open" reopens a
// report this body had closed; new notes alone become a timeline entry. A change a moderator (or
// anyone but a body) made after at wins: the report is left as it is. Each write is
// version-checked; a report changed meanwhile is read again and judged again. changed says
// whether anything was written.
func (s *Service) ExternalUpdate(ctx context.Context, bid, id string, open bool, note string, newNote bool, at time.Time) (r *store.Report, changed bool, err error) {
	by := BodyPrefix + bid
	note = strings.TrimSpace(note)
	if len([]rune(note)) > 2000 {
		note = string([]rune(note)[:2000])
	}
	for range 5 {
		changed = false
		r, err = s.change(ctx, id, 0, func(r *store.Report, now time.Time) ([]store.Event, error) {
			for i := len(r.History) - 1; i >= 0; i-- {
				h := r.History[i]
				if h.Action != "" && !strings.HasPrefix(h.By, BodyPrefix) && !at.After(h.At) {
					return nil, errAlready // a moderator's change is newer: theirs stands
				}
			}
			var a hazard.Action
			switch {
			case !open && r.Status.Active():
				a = hazard.Resolve
			case open && r.Status == hazard.Resolved && closedBy(r) == by:
				a = hazard.Reopen
			case newNote && note != "":
				r.History = append(r.History, store.Change{At: now, By: by, Action: BodyNote, From: r.Status, To: r.Status, Note: note})
				changed = true
				return []store.Event{{Kind: Updated, Actor: by, Note: note, Data: map[string]string{"body": bid}}}, nil
			default:
				return nil, errAlready
			}
			next, _ := hazard.Next(r.Status, a)
			from := r.Status
			r.History = append(r.History, store.Change{At: now, By: by, Action: a, From: from, To: next, Note: note})
			r.Status = next
			if a == hazard.Reopen {
				r.DuplicateOf = ""
			}
			changed = true
			evs := []store.Event{{Kind: StatusChanged, Actor: by, Note: note, Data: map[string]string{"action": string(a), "from": string(from), "to": string(next), "body": bid}}}
			return evs, nil
		})
		switch {
		case errors.Is(err, errAlready):
			return nil, false, nil
		case errors.Is(err, ErrChanged):
			continue
		}
		return r, changed, err
	}
	return nil, false, ErrChanged
}

// closedBy is who made the report's last move to resolved.
func closedBy(r *store.Report) string {
	for i := len(r.History) - 1; i >= 0; i-- {
		if r.History[i].To == hazard.Resolved && r.History[i].From != hazard.Resolved {
			return r.History[i].By
		}
	}
	return ""
}
