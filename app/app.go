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
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/geocode"
	"hazardwatch/handlers"
	"hazardwatch/hazard"
	"hazardwatch/live"
	"hazardwatch/mail"
	"hazardwatch/metrics"
	"hazardwatch/store"
)

// App is a configured server, ready to listen.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	rdb     redis.UniversalClient
	cache   redis.UniversalClient // CACHE_REDIS_URL's client, or rdb
	mon     redis.UniversalClient // the monitoring connection
	Store   *store.Store
	Mailer  *mail.Mailer
	Geo     *geocode.Cached
	live    *live.Hub
	monitor *store.Monitor
	fiber   *fiber.App

	stop     context.CancelFunc
	bg       sync.WaitGroup
	shutOnce sync.Once
}

// Options are the few things tests replace; production passes none.
type Options struct {
	GoogleClient *http.Client // reaches a fake Google in tests
	HTTPClient   *http.Client // for outside services such as Nominatim; nil: a client with timeouts
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
	mailer := mail.NewMailer(sender, log, 5, 2*time.Second)
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
	hub := live.NewHub(st.ReportEvents(ctx))
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
	reg.NewFunc("hazardwatch_geocode_cache_total", "Geocoding cache lookups by result (hit, miss, error).", "counter",
		[]string{"result"}, func() map[string]float64 {
			s := geo.Stats()
			return map[string]float64{"hit": float64(s.Hits), "miss": float64(s.Misses), "error": float64(s.Errors)}
		})
	a := &App{
		cfg: cfg, log: log, rdb: rdb, cache: cache, mon: monRDB, monitor: mon, Store: st, Mailer: mailer, Geo: geo, live: hub, stop: stop,
		fiber: handlers.New(handlers.Deps{Config: cfg, Store: st, Log: log, Mailer: mailer, Geocoder: geo, Live: hub, Metrics: reg, Monitor: mon, GoogleClient: o.GoogleClient}),
	}
	a.bg.Add(3)
	go func() { defer a.bg.Done(); a.waitForRedis(ctx) }()
	go func() { defer a.bg.Done(); a.expireLoop(ctx, 30*time.Second) }()
	go func() { defer a.bg.Done(); a.mailLoop(ctx, sender, "instance-"+store.NewReportID()) }()
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

// Serve accepts connections on ln until Shutdown.
func (a *App) Serve(ln net.Listener) error {
	a.log.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL.String(), "redis", a.cfg.Redis.Mode())
	return a.fiber.Listener(ln)
}

// Handler exposes the Fiber app for in-process tests (app.Test).
func (a *App) Handler() *fiber.App { return a.fiber }

// Shutdown stops accepting connections, lets in-flight requests finish within the configured
// timeout, stops background work, lets queued mail go out and closes Redis. It is safe to call more than once.
func (a *App) Shutdown() error {
	var err error
	a.shutOnce.Do(func() {
		a.live.Close() // open event streams would otherwise hold the shutdown to its timeout
		a.stop()
		if e := a.fiber.ShutdownWithTimeout(a.cfg.ShutdownTimeout); e != nil {
			err = fmt.Errorf("app: http shutdown: %w", e)
		}
		a.bg.Wait()
		mailed := make(chan struct{})
		go func() { a.Mailer.Wait(); close(mailed) }()
		select {
		case <-mailed:
		case <-time.After(a.cfg.ShutdownTimeout):
			a.log.Warn("shutdown: gave up waiting for mail still being retried")
		}
		if a.cache != a.rdb {
			_ = a.cache.Close()
		}
		_ = a.mon.Close()
		if e := a.rdb.Close(); e != nil && !errors.Is(e, redis.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("app: closing redis: %w", e))
		}
	})
	return err
}

// newGeocoder builds the configured provider behind the Redis cache. The offline gazetteer is
// always loaded: it is the default provider and Nominatim's fallback.
func newGeocoder(cfg *config.Config, st *store.Store, cache redis.UniversalClient, log *slog.Logger, client *http.Client) (*geocode.Cached, error) {
	offline, err := geocode.LoadOffline()
	if err != nil {
		return nil, err
	}
	var p geocode.Provider = offline
	if cfg.Geocoder == "nominatim" {
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		p = &geocode.Nominatim{
			Base:      cfg.NominatimURL,
			UserAgent: "HazardWatch/1.0 (+" + cfg.BaseURL.String() + "; " + cfg.NominatimContact + ")",
			Client:    client,
			Throttle:  func(ctx context.Context) error { return st.Throttle(ctx, "nominatim", time.Second) },
			Fallback:  offline,
			Log:       log,
		}
	}
	c := store.NewCache(cache)
	if cfg.CacheRedisURL == "" { // on the non-evicting main Redis: bounded by us
		c = store.NewSharedCache(cache, store.SharedCacheEntries)
	}
	return &geocode.Cached{P: p, Cache: c, Log: log, HitTTL: cfg.GeocodeHitTTL, MissTTL: cfg.GeocodeMissTTL}, nil
}

// expireLoop marks transient hazards expired once nobody has confirmed them for REPORT_EXPIRY.
// Every instance runs it; a short Redis lock lets one do the work each round, and each change is
// a version-checked transition, so two runners could not expire a report twice anyway.
func (a *App) expireLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := ExpireDue(ctx, a.Store, time.Now(), every); err != nil {
			a.log.Warn("expiry job failed", "err", err)
		} else if n > 0 {
			a.log.Info("expired transient hazards", "count", n)
		}
	}
}

// ExpireDue expires the reports whose time has passed, if this instance gets the job lock.
func ExpireDue(ctx context.Context, st *store.Store, now time.Time, lockFor time.Duration) (int, error) {
	ok, err := st.TryLock(ctx, "expiry", lockFor)
	if err != nil || !ok {
		return 0, err
	}
	ids, err := st.DueForExpiry(ctx, now, 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		_, err := st.Transition(ctx, id, 0, hazard.Expire, "system", "Expired: nobody confirmed it was still there.", "")
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrTransition), errors.Is(err, store.ErrNotFound):
			_ = st.DropExpiry(ctx, id) // resolved or gone meanwhile: nothing to expire
		case errors.Is(err, store.ErrConflict):
			// changed under us; the next round looks again
		default:
			return n, err
		}
	}
	return n, nil
}

// PhotoDir is where uploaded photos are stored.
func (a *App) PhotoDir() string { return filepath.Join(a.cfg.DataDir, "photos") }
