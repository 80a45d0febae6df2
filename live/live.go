// Package live relays report events (Redis pub/sub, published by every app instance) to the
// browsers connected to this instance over server-sent events. It is its own package because the
// app starts and stops it and the handlers serve it. Each browser has a bounded buffer: a slow
// one misses events (counted) instead of slowing the others.
package live

import (
	"encoding/json"
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
	mu      sync.Mutex
	subs    map[*Sub]struct{}
	closed  bool
	dropped atomic.Int64
	sent    atomic.Int64
}

// Sub is one browser connection.
type Sub struct {
	C chan Event // closed when the hub closes
}

// BufferSize is how many events a browser may fall behind before it misses some.
const BufferSize = 32

// NewHub starts relaying payloads from in until it is closed.
func NewHub(in <-chan string) *Hub {
	h := &Hub{subs: map[*Sub]struct{}{}}
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

// Subscribe adds a browser; nil after Close.
func (h *Hub) Subscribe() *Sub {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	s := &Sub{C: make(chan Event, BufferSize)}
	h.subs[s] = struct{}{}
	return s
}

// Unsubscribe removes a browser.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.C)
	}
}

// Close ends every stream (at shutdown, so open connections do not hold it up).
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.C)
	}
}

// Stats are counters for /metrics: events delivered, events dropped for slow browsers, and
// browsers connected now.
func (h *Hub) Stats() (sent, dropped int64, clients int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent.Load(), h.dropped.Load(), len(h.subs)
}
