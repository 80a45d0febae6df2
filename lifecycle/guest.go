package lifecycle

import (
	"context"
	"errors"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// A guest's report (Draft.GuestEmail) is stored unconfirmed: on no map, in no count, seen by
// nobody. A single-use link mailed to the address makes it pending, like any new report; the
// report then belongs to the account with that address, if there is one (the link signs nobody
// in). Reports whose link was never opened are deleted with their photos after GuestWindow.

// GuestWindow is how long a guest's confirmation link works, and how long an unconfirmed report
// is kept.
const GuestWindow = 7 * 24 * time.Hour

// GuestToken issues the mailed link's token for an unconfirmed report. Each call makes a new
// token; any of them confirms the report once.
func (s *Service) GuestToken(ctx context.Context, r *store.Report) (string, error) {
	return s.st.NewToken(ctx, store.TokenGuest, r.ID, 0, GuestWindow)
}

// GuestReport is the report a confirmation token is for, while the token works (the page that
// asks "publish this report?").
func (s *Service) GuestReport(ctx context.Context, token string) (*store.Report, error) {
	rid, _, err := s.st.PeekToken(ctx, store.TokenGuest, token)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(NotFound, i18n.T(ctx, "reportform.confirm.gone"))
	}
	if err != nil {
		return nil, err
	}
	r, err := s.st.Report(ctx, rid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(NotFound, i18n.T(ctx, "reportform.confirm.gone"))
	}
	return r, err
}

// ConfirmGuest uses a confirmation token: the report becomes pending (public under
// post-moderation) and belongs to the account with the guest's address, if one exists and is not
// disabled. The token is read first and dropped once the change is stored, so a failure leaves
// the link working; a second use finds nothing. Confirming an already confirmed report (two
// clicks at once) is not an error.
func (s *Service) ConfirmGuest(ctx context.Context, token string) (*store.Report, error) {
	r, err := s.GuestReport(ctx, token)
	if err != nil {
		return nil, err
	}
	for attempt := 0; r.Status == hazard.Unconfirmed; attempt++ {
		owner := ""
		if u, err := s.st.UserByEmail(ctx, r.GuestEmail); err == nil && !u.Disabled {
			owner = u.ID
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		next, err := s.change(ctx, r.ID, r.Version, func(r *store.Report, now time.Time) ([]store.Event, error) {
			to, _ := hazard.Next(r.Status, hazard.ConfirmEmail)
			r.Status, r.ReporterID, r.GuestEmail = to, owner, ""
			if !r.ExpiresAt.IsZero() { // a transient hazard's time starts now that it is public
				r.ExpiresAt = now.Add(s.cfg.ReportExpiry)
			}
			r.History = append(r.History, store.Change{At: now, By: owner, Action: hazard.ConfirmEmail, From: hazard.Unconfirmed, To: to})
			evs := []store.Event{{Kind: StatusChanged, Actor: owner,
				Data: map[string]string{"action": string(hazard.ConfirmEmail), "from": string(hazard.Unconfirmed), "to": string(to)}}}
			if s.PublicNow(to) {
				evs = append(evs, store.Event{Kind: Published, Actor: owner})
			}
			return evs, nil
		})
		if err == nil {
			r = next
			break
		}
		if !errors.Is(err, ErrChanged) || attempt == 3 {
			return nil, err
		}
		if r, err = s.st.Report(ctx, r.ID); errors.Is(err, store.ErrNotFound) {
			return nil, fail(NotFound, i18n.T(ctx, "reportform.confirm.gone"))
		} else if err != nil {
			return nil, err
		}
	}
	if err := s.st.DropToken(ctx, store.TokenGuest, token); err != nil {
		return nil, err
	}
	return r, nil
}

// CleanupUnconfirmed deletes the guest reports nobody confirmed within GuestWindow, if this
// instance gets the job lock for lockFor (each deletion is also checked in Redis, so a report
// confirmed meanwhile stays). Their photo files are the photo sweeper's (worker.SweepPhotos).
func (s *Service) CleanupUnconfirmed(ctx context.Context, now time.Time, lockFor time.Duration) (int, error) {
	ok, err := s.st.TryLock(ctx, "guest-cleanup", lockFor)
	if err != nil || !ok {
		return 0, err
	}
	ids, err := s.st.UnconfirmedBefore(ctx, now.Add(-GuestWindow), 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		deleted, err := s.st.DeleteUnconfirmed(ctx, id)
		if err != nil {
			return n, err
		}
		if deleted {
			n++
		}
	}
	return n, nil
}
