package routing

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// Date windows: besides the ids it tracks, each poll asks for the requests the server lists
// between the last window's end (less windowOverlap) and now. That brings back changes a server
// shows only by date (one that ignores service_request_id lists), requests closed earlier and
// changed again, and requests whose id a token never gave us. The first window starts at the
// body's first delivery (a day back when it has none yet).
const (
	// windowOverlap reaches back over requests changed while the last poll ran and over clocks a
	// little apart; a change read twice is applied once (apply compares with what it last read).
	windowOverlap = 5 * time.Minute
	// maxWindow is the longest span GeoReport v2 allows a window.
	maxWindow = 90 * 24 * time.Hour
)

// PollBody resolves a body's tokens into request ids, then reads its open requests' status (by
// id, then by date window) and brings changes onto the reports (lifecycle decides what a change
// may do).
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
	k, err := s.pollWindow(ctx, b, c, tracked)
	return n + k, err
}

// pollWindow reads the requests the server lists since the last window and applies those that
// are ours. A server that refuses windows (a 4xx: not every server supports start_date) is
// polled by id only, and that is logged once; a window that failed is asked again next time.
func (s *Service) pollWindow(ctx context.Context, b *store.Body, c *georeport.Client, tracked map[string]string) (int, error) {
	last, first, err := s.st.PollWindow(ctx, b.ID)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	end := now.Truncate(time.Second).Add(time.Second) // whole seconds, and not before now
	start := now.Add(-24 * time.Hour)
	switch {
	case !last.IsZero():
		start = last.Add(-windowOverlap)
	case !first.IsZero():
		start = first
	}
	if earliest := end.Add(-maxWindow); start.Before(earliest) {
		start = earliest
	}
	got, err := c.Window(ctx, start, end)
	if err != nil {
		if georeport.Temporary(err) {
			return 0, err
		}
		if _, logged := s.noWindows.LoadOrStore(b.ID, true); !logged {
			s.log.Warn("routing: an Open311 server refuses start_date windows; its requests are polled by id only", "body", b.ID, "err", err)
		}
		return 0, nil
	}
	s.noWindows.Delete(b.ID)
	n := 0
	for _, st := range got {
		rid, ok := tracked[st.ID]
		if !ok {
			if rid, ok, err = s.ours(ctx, b, st); err != nil {
				return n, err
			}
		}
		if !ok {
			continue // a request we did not send
		}
		changed, err := s.apply(ctx, b, rid, st)
		if err != nil {
			return n, err
		}
		if changed {
			n++
		}
	}
	return n, s.st.SetPollWindow(ctx, b.ID, end)
}

// ours finds the report of a listed request that is not polled by id: one closed earlier that
// changed again, or one whose id its token never gave us. Our report link in the request's
// description names the candidate, and the report's delivery record for this body must agree
// (the same id, or a token still waiting), so a request someone else made is ignored.
func (s *Service) ours(ctx context.Context, b *store.Body, st georeport.Status) (string, bool, error) {
	_, after, found := strings.Cut(st.Description, s.cfg.BaseURL+"/reports/")
	if !found || st.ID == "" {
		return "", false, nil
	}
	rid := after
	if i := strings.IndexFunc(after, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }); i >= 0 {
		rid = after[:i]
	}
	d, err := s.st.Delivery(ctx, rid, b.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	switch {
	case d.ExternalID == st.ID:
		return rid, true, nil
	case d.ExternalID == "" && d.Token != "" && d.State == store.DeliverySent:
		token := d.Token
		d.ExternalID, d.Token = st.ID, ""
		if err := s.st.UpdateDelivery(ctx, rid, d); errors.Is(err, store.ErrConflict) {
			return "", false, nil // sent again meanwhile: the new send is the one to follow
		} else if err != nil {
			return "", false, err
		}
		if err := s.st.TrackRequest(ctx, b.ID, st.ID, rid); err != nil {
			return "", false, err
		}
		return rid, true, s.st.DropBodyToken(ctx, b.ID, token)
	}
	return "", false, nil
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
	return changed, s.st.TrackRequest(ctx, b.ID, st.ID, rid) // open again after a close: followed by id again
}
