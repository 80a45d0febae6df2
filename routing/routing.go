// Package routing sends each public report to the bodies that fix it: it finds the bodies whose
// area holds the report and that handle its type (a cell index in Redis narrows 1,000 bodies to a
// few, then exact point-in-polygon tests in Go), queues one delivery job per body, sends by email
// (in the body's language, through the mail queue) or to the body's Open311 server, retries for a
// day, and polls Open311 servers for status changes to bring back onto the report. Reactions run
// in workers, never in a request. It is its own package because it is a domain of its own that
// spans store, lifecycle, mail and an outside protocol.
package routing

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"hazardwatch/area"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// Config is what routing needs from the app's settings.
type Config struct {
	BaseURL  string        // for links in mails and media_url
	ReplyTo  string        // where bodies' replies go (the moderators)
	RetryFor time.Duration // how long a failing send is retried before it is marked failed (default a day)
	// PollEvery is how often each body's Open311 server is asked for status changes, across all
	// instances (OPEN311_POLL_INTERVAL).
	PollEvery time.Duration
	HTTP      *http.Client // for Open311 servers; nil: one with timeouts
	UserAgent string
}

// Service routes, sends and polls.
type Service struct {
	st   *store.Store
	life *lifecycle.Service
	cfg  Config
	log  *slog.Logger

	mu    sync.Mutex
	areas map[string]cachedArea // parsed areas by body, while their version holds

	// noWindows are the bodies whose server refused a start_date window, so that is logged once
	// (until it accepts one again).
	noWindows sync.Map

	// now is the clock that decides when a failing send has been retried long enough; tests
	// move it on instead of waiting a day.
	now func() time.Time
}

type cachedArea struct {
	version int64
	a       *area.Area
}

// maxCached bounds the parsed areas kept in memory (a city's boundary is a few hundred kB parsed).
const maxCached = 2000

// New builds the service.
func New(st *store.Store, life *lifecycle.Service, cfg Config, log *slog.Logger) *Service {
	if cfg.RetryFor == 0 {
		cfg.RetryFor = 24 * time.Hour
	}
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 5 * time.Minute
	}
	return &Service{st: st, life: life, cfg: cfg, log: log, areas: map[string]cachedArea{}, now: time.Now}
}

// Group is the routing consumer group on the report event stream.
const Group = "routing"

// Match lists the bodies whose area holds the point and that handle typ ("" for any type),
// oldest body first.
func (s *Service) Match(ctx context.Context, lat, lng float64, typ string) ([]*store.Body, error) {
	cands, err := s.st.BodiesNear(ctx, lat, lng)
	if err != nil {
		return nil, err
	}
	var out []*store.Body
	for _, b := range cands {
		if typ != "" && !b.Handles(typ) {
			continue
		}
		a, err := s.area(ctx, b)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		if a.Contains(lat, lng) {
			out = append(out, b)
		}
	}
	return out, nil
}

// area is b's parsed area, from memory while b's version is the one parsed.
func (s *Service) area(ctx context.Context, b *store.Body) (*area.Area, error) {
	s.mu.Lock()
	c, ok := s.areas[b.ID]
	s.mu.Unlock()
	if ok && c.version == b.Version {
		return c.a, nil
	}
	raw, err := s.st.BodyArea(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	a, err := area.Parse(raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.areas) >= maxCached {
		clear(s.areas)
	}
	s.areas[b.ID] = cachedArea{b.Version, a}
	s.mu.Unlock()
	return a, nil
}

// Route is the reaction to report events: when a report becomes public, or a moderator moves it
// or changes its type, every body that covers it and handles its type and does not have it yet
// gets one delivery job (keyed by the event, so a redelivered event queues nothing new). A
// public report no body covers (never sent anywhere, or moved out of every area) goes on the
// moderators' list.
func (s *Service) Route(ctx context.Context, e store.Event) error {
	switch e.Kind {
	case lifecycle.Published, lifecycle.Relocated, lifecycle.Recategorised:
	default:
		return nil
	}
	r, err := s.st.Report(ctx, e.Report)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !s.life.PublicNow(r.Status) || !r.Status.Active() {
		return nil // sent once it is public; closed reports need no one
	}
	bodies, err := s.Match(ctx, r.Lat, r.Lng, r.Type)
	if err != nil {
		return err
	}
	if len(bodies) == 0 {
		// Moved out of every area: moderators are told, whoever had it before. Otherwise only a
		// report that never went anywhere is theirs to pass on.
		if e.Kind != lifecycle.Relocated {
			ds, err := s.st.Deliveries(ctx, r.ID)
			if err != nil || len(ds) > 0 {
				return err
			}
		}
		return s.st.MarkUnrouted(ctx, r.ID, e.At)
	}
	// Covered again (moved back into an area whose bodies already have it): nothing to send, but
	// no longer the moderators' to pass on.
	if err := s.st.ClearUnrouted(ctx, r.ID); err != nil {
		return err
	}
	for _, b := range bodies {
		d := store.Delivery{Body: b.ID, BodyName: b.Name, Via: b.Method, Reason: e.EID, Queued: s.now().UTC()}
		if _, err := s.st.QueueDelivery(ctx, r.ID, d, false); err != nil {
			return err
		}
	}
	return nil
}

// Errors of the moderators' actions; the handler words them for the reader.
var (
	ErrForbidden = errors.New("routing: only moderators send reports by hand")
	ErrOtherBody = errors.New("routing: a body's staff send only to their own body")
	ErrNoReport  = errors.New("routing: no such report")
	ErrNotPublic = errors.New("routing: only public reports are sent")
	ErrNoBody    = errors.New("routing: no such body")
)

// SendTo queues report rid for body bid by a moderator's hand: a report no body covers, a failed
// send tried again, or a body that should see it again. A body's staff may only send their own
// body's reports to it again; lifecycle's refusal says why otherwise.
func (s *Service) SendTo(ctx context.Context, actor lifecycle.Actor, rid, bid string) error {
	if actor.ID == "" || !actor.Role.AtLeast(store.RoleStaff) {
		return ErrForbidden
	}
	if _, err := s.life.Authorise(ctx, actor, rid); err != nil {
		return err
	}
	r, err := s.st.Report(ctx, rid)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoReport
	} else if err != nil {
		return err
	}
	if !s.life.PublicNow(r.Status) {
		return ErrNotPublic
	}
	b, err := s.st.Body(ctx, bid)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoBody
	} else if err != nil {
		return err
	}
	if actor.Role == store.RoleStaff && b.ID != actor.Body {
		return ErrOtherBody
	}
	now := s.now().UTC()
	d := store.Delivery{Body: b.ID, BodyName: b.Name, Via: b.Method, Queued: now,
		Reason: "manual:" + actor.ID + ":" + strconv.FormatInt(now.UnixMilli(), 10)}
	_, err = s.st.QueueDelivery(ctx, rid, d, true)
	return err
}

// Bodies lists every body (for the moderators' "send to" choice).
func (s *Service) Bodies(ctx context.Context) ([]*store.Body, error) {
	bs, err := s.st.Bodies(ctx)
	slices.SortStableFunc(bs, func(a, b *store.Body) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return bs, err
}
