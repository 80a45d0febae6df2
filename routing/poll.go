package routing

import (
	"context"
	"errors"
	"slices"
	"time"

	"hazardwatch/georeport"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// pollBatch is how many request ids one status query names (servers cap the list; ours at 100).
const pollBatch = 50

// PollDue polls every Open311 body whose turn has come: each body at most once per PollEvery
// across all instances (a lease in Redis). It returns how many requests changed a report.
func (s *Service) PollDue(ctx context.Context) (int, error) {
	bodies, err := s.st.Bodies(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range bodies {
		if b.Method != store.ByOpen311 || b.Open311 == nil {
			continue
		}
		ok, err := s.st.TryLock(ctx, "open311poll:"+b.ID, s.cfg.PollEvery)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		k, err := s.PollBody(ctx, b)
		n += k
		if err != nil && ctx.Err() == nil {
			s.log.Warn("routing: polling an Open311 server failed; next turn tries again", "body", b.ID, "err", err)
		}
	}
	return n, nil
}

// PollBody resolves a body's tokens into request ids, then reads its open requests' status and
// brings changes onto the reports (lifecycle decides what a change may do).
func (s *Service) PollBody(ctx context.Context, b *store.Body) (int, error) {
	c := s.client(b)
	tokens, err := s.st.Tokens(ctx, b.ID)
	if err != nil {
		return 0, err
	}
	for token, rid := range tokens {
		id, err := c.Token(ctx, token)
		if err != nil {
			return 0, err
		}
		if id == "" {
			continue
		}
		if d, err := s.st.Delivery(ctx, rid, b.ID); err == nil && d.Token == token {
			d.ExternalID, d.Token = id, ""
			if err := s.st.UpdateDelivery(ctx, rid, d); err != nil && !errors.Is(err, store.ErrConflict) {
				return 0, err
			}
			if err := s.st.TrackRequest(ctx, b.ID, id, rid); err != nil {
				return 0, err
			}
		}
		if err := s.st.DropBodyToken(ctx, b.ID, token); err != nil {
			return 0, err
		}
	}
	tracked, err := s.st.TrackedRequests(ctx, b.ID)
	if err != nil {
		return 0, err
	}
	ids := make([]string, 0, len(tracked))
	for id := range tracked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n := 0
	for batch := range slices.Chunk(ids, pollBatch) {
		got, err := c.Requests(ctx, batch)
		if err != nil {
			return n, err
		}
		for _, st := range got {
			rid, ok := tracked[st.ID]
			if !ok {
				continue // a request we did not ask about
			}
			changed, err := s.apply(ctx, b, rid, st)
			if err != nil {
				return n, err
			}
			if changed {
				n++
			}
		}
	}
	return n, nil
}

// apply brings one request's status onto its report when it differs from what was last read.
func (s *Service) apply(ctx context.Context, b *store.Body, rid string, st georeport.Status) (bool, error) {
	d, err := s.st.Delivery(ctx, rid, b.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.ExternalID != st.ID) {
		return false, s.st.UntrackRequest(ctx, b.ID, st.ID) // replaced by a newer send, or gone
	}
	if err != nil {
		return false, err
	}
	newStatus, newNote := st.Status != d.ExtStatus, st.Notes != d.ExtNotes && st.Notes != ""
	if !newStatus && !newNote {
		return false, nil
	}
	at := st.Updated
	if at.IsZero() {
		at = time.Now().UTC() // the server did not say when: as of now
	}
	open := st.Status != "closed"
	_, changed, err := s.life.ExternalUpdate(ctx, b.ID, rid, open, st.Notes, newNote, at)
	if lifecycle.KindOf(err) == lifecycle.NotFound {
		return false, s.st.UntrackRequest(ctx, b.ID, st.ID)
	}
	if err != nil {
		return false, err
	}
	d.ExtStatus, d.ExtNotes, d.ExtUpdated = st.Status, st.Notes, at
	if err := s.st.UpdateDelivery(ctx, rid, d); err != nil && !errors.Is(err, store.ErrConflict) {
		return changed, err
	}
	if !open {
		return changed, s.st.UntrackRequest(ctx, b.ID, st.ID)
	}
	return changed, nil
}
