// Package worker runs everything that follows a change in the background: one consumer group per
// reaction on the report event stream (live map updates, mails to reporters and followers,
// statistics, and whatever later features add), the mail sender, and the periodic jobs (the
// outbox sweeper, expiry). Every app instance runs them, or a separate `hazardwatch worker`
// process does; consumer groups share the work either way. It is its own package because these
// reactions are neither HTTP (handlers) nor data access (store) nor rules (lifecycle).
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"hazardwatch/store"
)

// Runner consumes one stream with one consumer group: new messages first-come, failed ones again
// after a backoff, and a crashed consumer's ones after ClaimAfter (XAUTOCLAIM). A message that
// keeps failing goes to the dead-letter stream after MaxTries, where an admin can retry it.
type Runner struct {
	Store    *store.Store
	Stream   store.Stream
	Group    string
	Consumer string // unique per process
	Handle   func(ctx context.Context, m store.Message) error
	Log      *slog.Logger

	ClaimAfter time.Duration // a message unacknowledged this long is taken over (default 30 s)
	Backoff    time.Duration // wait before the first retry (default ClaimAfter), doubling
	MaxBackoff time.Duration // cap on the wait (default 1 h)
	MaxTries   int           // tries before dead-lettering (default 8)
	Timeout    time.Duration // per message (default two thirds of ClaimAfter, so a slow try ends before another instance takes the message over)
	Block      time.Duration // how long a read waits for new messages (default 2 s)
	DeleteDone bool          // delete handled messages from the stream

	// Done, when set, is told of every message handled (tests and metrics).
	Done func(group string, err error)
}

func (r *Runner) defaults() {
	if r.ClaimAfter == 0 {
		r.ClaimAfter = 30 * time.Second
	}
	if r.Timeout == 0 {
		r.Timeout = r.ClaimAfter * 2 / 3
	}
	if r.Backoff == 0 {
		r.Backoff = r.ClaimAfter
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = time.Hour
	}
	if r.MaxTries == 0 {
		r.MaxTries = 8
	}
	if r.Block == 0 {
		r.Block = 2 * time.Second
	}
}

// Run works until ctx ends, backing off while Redis is unavailable.
func (r *Runner) Run(ctx context.Context) {
	r.defaults()
	delay := time.Second
	for ctx.Err() == nil {
		if err := r.Store.EnsureGroup(ctx, r.Stream, r.Group); err != nil {
			if ctx.Err() == nil {
				r.Log.Warn("worker: stream not ready; retrying", "group", r.Group, "err", err)
			}
			sleep(ctx, delay)
			delay = min(delay*2, 10*time.Second)
			continue
		}
		break
	}
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		claim := time.Since(lastClaim) >= r.ClaimAfter/4
		if claim {
			lastClaim = time.Now()
		}
		if _, err := r.step(ctx, claim, r.Block); err != nil && ctx.Err() == nil {
			r.Log.Warn("worker: round failed", "group", r.Group, "err", err)
			_ = r.Store.EnsureGroup(ctx, r.Stream, r.Group) // the stream may be gone with a Redis restart
			sleep(ctx, delay)
			delay = min(delay*2, 10*time.Second)
			continue
		}
		delay = time.Second
	}
}

// Step is one round (for tests): take over idle messages, then read and handle new ones,
// waiting up to block. It returns how many messages were handled successfully.
func (r *Runner) Step(ctx context.Context, block time.Duration) (int, error) {
	r.defaults()
	if err := r.Store.EnsureGroup(ctx, r.Stream, r.Group); err != nil {
		return 0, err
	}
	return r.step(ctx, true, block)
}

func (r *Runner) step(ctx context.Context, claim bool, block time.Duration) (int, error) {
	done := 0
	if claim {
		msgs, err := r.Store.ClaimIdle(ctx, r.Stream, r.Group, r.Consumer, r.ClaimAfter, 32)
		if err != nil {
			return 0, err
		}
		for _, m := range msgs {
			rec, err := r.Store.RetryOf(ctx, r.Group, m.ID)
			if err != nil {
				return done, err
			}
			if time.Now().Before(rec.NotBefore) {
				continue // still backing off; claimed again later
			}
			if r.process(ctx, m, rec) {
				done++
			}
		}
	}
	msgs, err := r.Store.ReadGroup(ctx, r.Stream, r.Group, r.Consumer, 32, block)
	if err != nil {
		return done, err
	}
	for _, m := range msgs {
		if r.process(ctx, m, store.Retry{}) {
			done++
		}
	}
	return done, nil
}

// process handles one message; rec is its retry record (zero on a first try).
func (r *Runner) process(ctx context.Context, m store.Message, rec store.Retry) bool {
	if only := m.Values["only"]; only != "" && only != r.Group {
		_ = r.Store.Ack(ctx, r.Stream, r.Group, m.ID) // a dead letter retried for another group
		return false
	}
	err := r.call(ctx, m)
	if r.Done != nil {
		r.Done(r.Group, err)
	}
	if err == nil {
		if e := r.Store.Ack(ctx, r.Stream, r.Group, m.ID); e != nil {
			r.Log.Warn("worker: acknowledge failed; the message will be handled again", "group", r.Group, "id", m.ID, "err", e)
			return true
		}
		if rec.Tries > 0 {
			_ = r.Store.ClearRetry(ctx, r.Group, m.ID)
		}
		if r.DeleteDone {
			_ = r.Store.Delete(ctx, r.Stream, m.ID)
		}
		return true
	}
	tries := rec.Tries + 1
	if tries >= r.MaxTries {
		r.Log.Error("worker: giving up on a message; it is in the dead letters", "group", r.Group, "id", m.ID, "tries", tries, "err", err)
		if e := r.Store.Bury(ctx, r.Stream, r.Group, m, tries, err.Error()); e != nil {
			r.Log.Warn("worker: dead-lettering failed", "group", r.Group, "id", m.ID, "err", e)
		}
		return false
	}
	wait := min(r.Backoff<<(tries-1), r.MaxBackoff)
	r.Log.Warn("worker: message failed; will retry", "group", r.Group, "id", m.ID, "try", tries, "retry_in", wait, "err", err)
	if e := r.Store.SetRetry(ctx, r.Group, m.ID, store.Retry{Tries: tries, NotBefore: time.Now().Add(wait), LastError: err.Error()}); e != nil {
		r.Log.Warn("worker: retry record lost", "group", r.Group, "id", m.ID, "err", e)
	}
	return false
}

// call runs the handler with a timeout, turning a panic into an error.
func (r *Runner) call(ctx context.Context, m store.Message) (err error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			r.Log.Error("worker: handler panicked", "group", r.Group, "id", m.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	return r.Handle(ctx, m)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ErrBusy is a handler's way to say "not now, someone else has it": the message is retried.
var ErrBusy = errors.New("worker: busy elsewhere")
