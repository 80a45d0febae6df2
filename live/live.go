// Package live relays report events (Redis pub/sub, published by every app instance) to the
// browsers connected to this instance over server-sent events. It is its own package because the
// app starts and stops it and the handlers serve it. Each browser has a bounded buffer: a slow
// one misses events (counted) instead of slowing the others.
package live

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Event is one report change: Kind is "report.created" or "report.updated".
type Event struct {
	Kind string
	ID   string
}

// Parse reads the "kind id" payload the store publishes.
func Parse(payload string) (Event, bool) {
	kind, id, ok := strings.Cut(payload, " ")
	if !ok || (kind != "report.created" && kind != "report.updated") || id == "" {
		return Event{}, false
	}
	return Event{Kind: kind, ID: id}, true
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
