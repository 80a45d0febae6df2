package routing

import (
	"context"
	"sync"
	"time"

	"hazardwatch/store"
	"hazardwatch/worker"
)

// Consumer is routing's reaction to report events (worker.Deps.Extra).
func (s *Service) Consumer() worker.Consumer { return worker.Consumer{Group: Group, Handle: s.Route} }

// Tuning are the timings tests shorten.
type Tuning struct {
	ClaimAfter time.Duration // a send unacknowledged this long is taken over (default 30 s)
	Backoff    time.Duration // first pause after a failed send (default 1 min), doubling up to an hour
	PollTick   time.Duration // how often an instance looks for bodies due a poll (default 30 s)
}

// Runner is the delivery stream's worker.
func (s *Service) Runner(d worker.Deps, t Tuning) *worker.Runner {
	claim := t.ClaimAfter
	if claim == 0 {
		claim = 30 * time.Second
	}
	backoff := t.Backoff
	if backoff == 0 {
		backoff = time.Minute
	}
	return &worker.Runner{
		Store: s.st, Stream: store.DeliveryStream, Group: store.DeliveryGroup, Consumer: d.Consumer, Log: d.Log, Done: d.Done,
		ClaimAfter: claim, Backoff: backoff, MaxBackoff: time.Hour, DeleteDone: true,
		// Deliver decides when to give up (RetryFor), so the runner never dead-letters a send.
		MaxTries: 1 << 20,
		Handle: func(ctx context.Context, m store.Message) error {
			return s.Deliver(ctx, m, claim)
		},
	}
}

// Start runs the sender and the Open311 poller until ctx ends; the returned function waits for them.
func (s *Service) Start(ctx context.Context, d worker.Deps, t Tuning) (wait func()) {
	var wg sync.WaitGroup
	r := s.Runner(d, t)
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = s.st.EnsureGroup(gctx, store.DeliveryStream, store.DeliveryGroup)
	cancel()
	wg.Add(2)
	go func() { defer wg.Done(); r.Run(ctx) }()
	tick := t.PollTick
	if tick == 0 {
		tick = 30 * time.Second
	}
	go func() {
		defer wg.Done()
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if n, err := s.PollDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("routing: Open311 polling failed", "err", err)
			} else if n > 0 {
				s.log.Info("routing: status changes brought back from bodies", "count", n)
			}
		}
	}()
	return wg.Wait
}
