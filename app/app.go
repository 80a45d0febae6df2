// Package app wires configuration, Redis and the HTTP handlers into one runnable server.
// It is its own package because main and the end-to-end tests must build the server the same
// way: tests then exercise what ships, not a look-alike.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/handlers"
	"hazardwatch/store"
)

// App is a configured server, ready to listen.
type App struct {
	cfg   *config.Config
	log   *slog.Logger
	rdb   redis.UniversalClient
	Store *store.Store
	fiber *fiber.App

	stop     context.CancelFunc
	bg       sync.WaitGroup
	shutOnce sync.Once
}

// New builds the app. It does not need Redis to be up: the client connects lazily and a
// background loop logs, with backoff, until Redis answers; /readyz says 503 meanwhile.
func New(cfg *config.Config, log *slog.Logger) (*App, error) {
	store.SetLogger(log)
	rdb, err := store.Dial(cfg.Redis)
	if err != nil {
		return nil, err
	}
	st := store.New(rdb)
	ctx, stop := context.WithCancel(context.Background())
	a := &App{
		cfg: cfg, log: log, rdb: rdb, Store: st, stop: stop,
		fiber: handlers.New(handlers.Deps{Config: cfg, Store: st, Log: log}),
	}
	a.bg.Add(1)
	go func() { defer a.bg.Done(); a.waitForRedis(ctx) }()
	return a, nil
}

// waitForRedis pings until Redis answers, logging each failure and backing off up to 10 s.
func (a *App) waitForRedis(ctx context.Context) {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.Store.Ping(pctx)
		cancel()
		if err == nil {
			a.log.Info("redis connected", "mode", a.cfg.Redis.Mode(), "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("redis not reachable yet; retrying", "mode", a.cfg.Redis.Mode(), "attempt", attempt, "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// Serve accepts connections on ln until Shutdown.
func (a *App) Serve(ln net.Listener) error {
	a.log.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL.String(), "redis", a.cfg.Redis.Mode())
	return a.fiber.Listener(ln)
}

// Handler exposes the Fiber app for in-process tests (app.Test).
func (a *App) Handler() *fiber.App { return a.fiber }

// Shutdown stops accepting connections, lets in-flight requests finish within the configured
// timeout, stops background work and closes Redis. It is safe to call more than once.
func (a *App) Shutdown() error {
	var err error
	a.shutOnce.Do(func() {
		a.stop()
		if e := a.fiber.ShutdownWithTimeout(a.cfg.ShutdownTimeout); e != nil {
			err = fmt.Errorf("app: http shutdown: %w", e)
		}
		a.bg.Wait()
		if e := a.rdb.Close(); e != nil && !errors.Is(e, redis.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("app: closing redis: %w", e))
		}
	})
	return err
}
