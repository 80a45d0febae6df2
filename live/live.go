// Package live relays report events (Redis pub/sub, published by every app instance) to the
// browsers connected to this instance over server-sent events. It is its own package because the
// app starts and stops it and the handlers serve it. Each browser has a bounded buffer: a slow
// one misses events (counted) instead of slowing the others.
package live

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
)

// Event is one report change as browsers get it: Kind is "report.created" (new to the public's
// map) or "report.updated"; the rest says where and what the report is now, so a map can ignore
// changes outside its view.
type Event struct {
	Kind     string  `json:"-"`
	ID       string  `json:"id"`
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	Type     string  `json:"type"`
	Severity string  `json:"severity"`
	Status   string  `json:"status"`
}

// Data is the event's JSON for the SSE data line.
func (e Event) Data() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// Format is the payload instances publish: "kind json".
func (e Event) Format() string { return e.Kind + " " + e.Data() }

// Parse reads Format's payload.
func Parse(payload string) (Event, bool) {
	kind, body, ok := strings.Cut(payload, " ")
	var e Event
	if !ok || (kind != "report.created" && kind != "report.updated") || json.Unmarshal([]byte(body), &e) != nil || e.ID == "" {
		return Event{}, false
	}
	e.Kind = kind
	return e, true
}

// Hub fans events out to subscribers.
type Hub struct {
	// Each stream holds a connection and a goroutine, so there are at most MaxPerIP from one
	// client address (a person's tabs, or a few people behind one NAT) and MaxTotal in all.
	// Set them before the first Subscribe.
	MaxPerIP, MaxTotal int

	mu      sync.Mutex
	subs    map[*Sub]struct{}
	perIP   map[string]int
	closed  bool
	dropped atomic.Int64
	sent    atomic.Int64
}

// Default stream limits.
const (
	DefaultMaxPerIP = 20
	DefaultMaxTotal = 5000
)

// Subscribe's refusals.
var (
	ErrTooManyForIP = errors.New("live: too many event streams from this address")
	ErrFull         = errors.New("live: too many event streams")
	ErrClosed       = errors.New("live: shutting down")
)

// Sub is one browser connection.
type Sub struct {
	C  chan Event // closed when the hub closes
	ip string
}

// BufferSize is how many events a browser may fall behind before it misses some.
const BufferSize = 32

// NewHub starts relaying payloads from in until it is closed.
func NewHub(in <-chan string) *Hub {
	h := &Hub{MaxPerIP: DefaultMaxPerIP, MaxTotal: DefaultMaxTotal, subs: map[*Sub]struct{}{}, perIP: map[string]int{}}
	go func() {
		for p := range in {
			if ev, ok := Parse(p); ok {
				h.Publish(ev)
			}
		}
	}()
	return h
}

// Publish hands ev to every subscriber that has room.
func (h *Hub) Publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.C <- ev:
			h.sent.Add(1)
		default:
			h.dropped.Add(1)
		}
	}
}

// Subscribe adds a browser at client address ip, within the limits.
func (h *Hub) Subscribe(ip string) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, ErrClosed
	case h.perIP[ip] >= h.MaxPerIP:
		return nil, ErrTooManyForIP
	case len(h.subs) >= h.MaxTotal:
		return nil, ErrFull
	}
	s := &Sub{C: make(chan Event, BufferSize), ip: ip}
	h.subs[s] = struct{}{}
	h.perIP[ip]++
	return s, nil
}

// Unsubscribe removes a browser.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s)
}

func (h *Hub) remove(s *Sub) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	close(s.C)
	if h.perIP[s.ip]--; h.perIP[s.ip] <= 0 {
		delete(h.perIP, s.ip)
	}
}

// Close ends every stream (at shutdown, so open connections do not hold it up).
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.remove(s)
	}
}

// Stats are counters for /metrics: events delivered, events dropped for slow browsers, and
// browsers connected now.
func (h *Hub) Stats() (sent, dropped int64, clients int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent.Load(), h.dropped.Load(), len(h.subs)
}
