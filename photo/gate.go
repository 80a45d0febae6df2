package photo

import (
	"context"
	"runtime"
	"time"
)

// Gate bounds how many requests decode photos at once: decoding is the one thing a small
// upload can make cost seconds of CPU and hundreds of megabytes. A request that cannot get in
// within its wait is turned away (the handler answers 503 with Retry-After) instead of queueing
// without end behind a flood.
type Gate struct{ slots chan struct{} }

// NewGate lets n requests decode at once (the number of cores when n < 1).
func NewGate(n int) *Gate {
	if n < 1 {
		n = runtime.NumCPU()
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// Enter waits up to wait for a slot; leave gives it back. ok is false when none came free.
func (g *Gate) Enter(ctx context.Context, wait time.Duration) (leave func(), ok bool) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, true
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}
