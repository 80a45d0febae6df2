package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Observer receives one call per Redis command (pipelines report each command): its name, how
// long it took, and whether it failed (a miss, redis.Nil, is not a failure).
type Observer func(cmd string, d time.Duration, failed bool)

type observeHook struct{ fn Observer }

func (h observeHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h observeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.fn(strings.ToLower(cmd.Name()), time.Since(start), err != nil && !errors.Is(err, redis.Nil))
		return err
	}
}

func (h observeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		d := time.Since(start)
		for _, c := range cmds {
			cerr := c.Err()
			h.fn(strings.ToLower(c.Name()), d, cerr != nil && !errors.Is(cerr, redis.Nil))
		}
		return err
	}
}

// Observe reports every command the store sends to fn (for /metrics).
func (s *Store) Observe(fn Observer) { s.rdb.AddHook(observeHook{fn}) }
