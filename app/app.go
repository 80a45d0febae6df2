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
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/geocode"
	"hazardwatch/handlers"
	"hazardwatch/lifecycle"
	"hazardwatch/live"
	"hazardwatch/mail"
	"hazardwatch/mapview"
	"hazardwatch/metrics"
	"hazardwatch/store"
	"hazardwatch/worker"
)

// App is a configured server, ready to listen.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	rdb     redis.UniversalClient
	cache   redis.UniversalClient // CACHE_REDIS_URL's client, or rdb
	mon     redis.UniversalClient // the monitoring connection
	Store   *store.Store
	Life    *lifecycle.Service
	Geo     geocode.Provider // cached when remote
	live    *live.Hub
	monitor *store.Monitor
	fiber   *fiber.App

	stop     context.CancelFunc
	bg       sync.WaitGroup
	shutOnce sync.Once
	refused  atomic.Int64 // connections closed by the per-IP cap

	mu        sync.Mutex
	listeners []net.Listener // being served, closed by Shutdown
	closing   bool
}

// Options are the few things tests replace; production passes none.
type Options struct {
	GoogleClient *http.Client  // reaches a fake Google in tests
	HTTPClient   *http.Client  // for outside services such as Nominatim; nil: a client with timeouts
	Workers      worker.Tuning // shorter retry timings in tests
}

// New builds the app. It does not need Redis to be up: the client connects lazily and a
// background loop logs, with backoff, until Redis answers; /readyz says 503 meanwhile.
func New(cfg *config.Config, log *slog.Logger, opts ...Options) (*App, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	store.SetLogger(log)
	var sender mail.Sender = mail.FileSender{Dir: cfg.MailDir, From: cfg.MailFrom, Log: log}
	if cfg.SMTPURL != "" {
		s, err := mail.ParseSMTPURL(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("config: SMTP_URL: %w", err)
		}
		sender = s
	}
	rdb, err := store.Dial(cfg.Redis)
	if err != nil {
		return nil, err
	}
	st := store.New(rdb)
	cache := rdb
	if cfg.CacheRedisURL != "" {
		if cache, err = store.Dial(cfg.Redis.ForURL(cfg.CacheRedisURL)); err != nil {
			return nil, err
		}
	}
	geo, err := newGeocoder(cfg, st, cache, log, o.HTTPClient)
	if err != nil {
		return nil, err
	}
	monRDB, err := store.DialMonitor(cfg.Redis, cfg.MonitorRedisURL)
	if err != nil {
		return nil, err
	}
	mon := store.NewMonitor(monRDB, st)
	ctx, stop := context.WithCancel(context.Background())
	hub := live.NewHub(st.LiveUpdates(ctx))
	life := lifecycle.New(st, geo, lifecycle.Config{Moderation: cfg.Moderation, ReportExpiry: cfg.ReportExpiry, TooCloseRadius: cfg.TooCloseRadius,
		FixedByPublic: cfg.FixedByPublic}, log)
	reg := &metrics.Registry{}
	reg.NewFunc("hazardwatch_live_events_total", "Report events relayed to browsers (sent) or dropped for slow ones.", "counter",
		[]string{"result"}, func() map[string]float64 {
			sent, dropped, _ := hub.Stats()
			return map[string]float64{"sent": float64(sent), "dropped": float64(dropped)}
		})
	cmdSeconds := reg.NewHistogram("hazardwatch_redis_command_duration_seconds", "Redis command round trips by command (pipelined commands count the pipeline's time).",
		[]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1}, "command")
	cmdErrors := reg.NewCounter("hazardwatch_redis_command_errors_total", "Redis commands that failed, by command.", "command")
	st.Observe(func(cmd string, d time.Duration, failed bool) {
		cmdSeconds.Observe(d.Seconds(), cmd)
		if failed {
			cmdErrors.Add(1, cmd)
		}
	})
	registerRedisMetrics(reg, mon)
	reg.NewFunc("hazardwatch_live_clients", "Browsers connected to /events.", "gauge", nil, func() map[string]float64 {
		_, _, n := hub.Stats()
		return map[string]float64{"": float64(n)}
	})
	a := &App{
		cfg: cfg, log: log, rdb: rdb, cache: cache, mon: monRDB, monitor: mon, Store: st, Life: life, Geo: geo, live: hub, stop: stop,
	}
	reg.NewFunc("hazardwatch_connections_refused_total", "Connections closed at once because their address already held the most allowed.", "counter",
		nil, func() map[string]float64 { return map[string]float64{"": float64(a.refused.Load())} })
	if cached, ok := geo.(*geocode.Cached); ok {
		reg.NewFunc("hazardwatch_geocode_cache_total", "Geocoding cache lookups by result (hit, miss, error).", "counter",
			[]string{"result"}, func() map[string]float64 {
				s := cached.Stats()
				return map[string]float64{"hit": float64(s.Hits), "miss": float64(s.Misses), "error": float64(s.Errors)}
			})
	}
	a.fiber = handlers.New(handlers.Deps{Config: cfg, Store: st, Life: life, Map: mapview.New(st), Log: log, Geocoder: geo, Live: hub,
		Metrics: reg, Monitor: mon, GoogleClient: o.GoogleClient})
	a.bg.Add(1)
	go func() { defer a.bg.Done(); a.waitForRedis(ctx) }()
	if cfg.Workers {
		tuning := o.Workers
		if tuning.ClaimAfter == 0 {
			tuning.ClaimAfter = cfg.WorkerClaimAfter
		}
		wait := worker.Start(ctx, worker.Deps{Store: st, Life: life, Sender: sender, BaseURL: cfg.BaseURL.String(), Log: log,
			Consumer: consumerName(), Tuning: tuning, Done: workerMetrics(reg), PhotoDir: cfg.PhotoDir(), QuestionnaireAfter: cfg.QuestionnaireAfter})
		a.bg.Add(1)
		go func() { defer a.bg.Done(); wait() }()
	}
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
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			warnings, err := a.monitor.Warnings(wctx)
			cancel()
			if err != nil {
				a.log.Info("redis settings not checked (the monitoring connection may lack INFO)", "err", err)
			}
			for _, w := range warnings {
				a.log.Warn("redis settings put data at risk", "problem", w)
			}
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

// Serve accepts connections on ln until Shutdown, at most MaxConnsPerIP at a time from one
// client address.
func (a *App) Serve(ln net.Listener) error {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ln.Close()
	}
	a.listeners = append(a.listeners, ln)
	a.mu.Unlock()
	a.log.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL.String(), "redis", a.cfg.Redis.Mode())
	err := a.fiber.Listener(limitPerIP(ln, MaxConnsPerIP, a.cfg.TrustedProxy, &a.refused))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return nil // the listener was closed by Shutdown
	}
	return err
}

// Handler exposes the Fiber app for in-process tests (app.Test).
func (a *App) Handler() *fiber.App { return a.fiber }

// Shutdown stops accepting connections, lets in-flight requests finish, stops background work,
// lets queued mail go out and closes Redis, all within SHUTDOWN_TIMEOUT: whatever is still busy
// then (a request or job waiting on an unreachable Redis) is abandoned. It is safe to call more
// than once, and before or while Serve starts.
func (a *App) Shutdown() error {
	var err error
	a.shutOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		a.live.Close() // open event streams would otherwise hold the shutdown to its timeout
		a.stop()
		a.mu.Lock()
		a.closing = true
		a.mu.Unlock()
		if e := a.fiber.ShutdownWithContext(ctx); e != nil {
			err = fmt.Errorf("app: http shutdown: %w", e)
		}
		// The HTTP server closes only the listeners it has begun to serve: close ours too, so a
		// Serve that was just starting returns instead of serving on.
		a.mu.Lock()
		for _, ln := range a.listeners {
			_ = ln.Close()
		}
		a.mu.Unlock()
		// No request needs Redis any more. Closing the clients also ends the background jobs'
		// blocking reads, which a cancelled context does not interrupt.
		if a.cache != a.rdb {
			_ = a.cache.Close()
		}
		_ = a.mon.Close()
		if e := a.rdb.Close(); e != nil && !errors.Is(e, redis.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("app: closing redis: %w", e))
		}
		if !waitUntil(ctx, a.bg.Wait) { // workers finish the message in hand; the rest stays queued in Redis
			a.log.Warn("shutdown: gave up waiting for background workers")
		}
	})
	return err
}

// waitUntil runs wait and reports whether it returned before ctx ended.
func waitUntil(ctx context.Context, wait func()) bool {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// newGeocoder builds the configured provider. The offline gazetteer is always loaded: it is the
// default provider and Nominatim's fallback. Only a remote provider sits behind the Redis cache:
// the gazetteer answers from memory faster than a cache round trip would.
func newGeocoder(cfg *config.Config, st *store.Store, cache redis.UniversalClient, log *slog.Logger, client *http.Client) (geocode.Provider, error) {
	offline, err := geocode.LoadOffline()
	if err != nil {
		return nil, err
	}
	if cfg.Geocoder != "nominatim" {
		return offline, nil
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	p := &geocode.Nominatim{
		Base:      cfg.NominatimURL,
		UserAgent: "HazardWatch/1.0 (+" + cfg.BaseURL.String() + "; " + cfg.NominatimContact + ")",
		Client:    client,
		Throttle:  func(ctx context.Context) error { return st.Throttle(ctx, "nominatim", time.Second) },
		Fallback:  offline,
		Log:       log,
	}
	c := store.NewCache(cache)
	if cfg.CacheRedisURL == "" { // on the non-evicting main Redis: bounded by us
		c = store.NewSharedCache(cache, store.SharedCacheEntries)
	}
	return &geocode.Cached{P: p, Cache: c, Log: log, HitTTL: cfg.GeocodeHitTTL, MissTTL: cfg.GeocodeMissTTL}, nil
}

// consumerName names this process in the consumer groups: unique, and readable in XINFO.
func consumerName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), store.NewReportID()[:6])
}

// workerMetrics counts handled messages per consumer group for /metrics.
func workerMetrics(reg *metrics.Registry) func(string, error) {
	c := reg.NewCounter("hazardwatch_worker_messages_total", "Stream messages handled by the workers, by consumer group and result.", "group", "result")
	return func(group string, err error) {
		result := "ok"
		if err != nil {
			result = "failed"
		}
		c.Add(1, group, result)
	}
}

// PhotoDir is where uploaded photos are stored.
func (a *App) PhotoDir() string { return filepath.Join(a.cfg.DataDir, "photos") }
