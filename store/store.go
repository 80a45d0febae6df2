// Package store is Hazard Watch's only way into Redis. Handlers call Store methods (ctx first);
// key names, scripts and data types stay in here, laid out in docs/redis.md.
package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
)

// Store wraps the one Redis client the process uses.
type Store struct {
	rdb redis.UniversalClient

	activeReady   atomic.Bool  // the grid's summed active class can be read (activeClassReady)
	activeChecked atomic.Int64 // when Redis was last asked, unix ns
}

// New wraps an existing client; the caller keeps ownership and closes it.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Client exposes the connection for the few libraries that need a raw client (the session
// storage); application code goes through Store methods.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping checks that Redis answers. The app user may lack INFO, so readiness uses PING only.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: redis ping: %w", err)
	}
	return nil
}

// Dial builds the client for the configured topology: a single server (REDIS_URL), a Sentinel
// group or a Cluster. It does not connect; the first command does, so a Redis that is down at
// start never stops the process.
func Dial(c config.Redis) (redis.UniversalClient, error) {
	const (
		dialTimeout = 2 * time.Second
		ioTimeout   = 3 * time.Second
	)
	var tlsConf *tls.Config
	if c.TLS() {
		var err error
		if tlsConf, err = tlsConfig(c); err != nil {
			return nil, err
		}
	}
	switch c.Mode() {
	case "cluster":
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.Addrs, Username: c.Username, Password: c.Password, TLSConfig: tlsConf,
			DialTimeout: dialTimeout, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout,
		})
		cc.AddHook(reloadOnNetError{cc})
		return cc, nil
	case "sentinel":
		// The sentinels and the data nodes share the TLS settings (one CA, one client certificate).
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.MasterName, SentinelAddrs: c.Addrs,
			Username: c.Username, Password: c.Password, TLSConfig: tlsConf,
			DialTimeout: dialTimeout, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout,
		}), nil
	}
	opts, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("store: REDIS_URL: %w", err)
	}
	if c.Username != "" {
		opts.Username = c.Username
	}
	if c.Password != "" {
		opts.Password = c.Password
	}
	if opts.TLSConfig != nil { // rediss://: ParseURL set the server name to check
		tlsConf.ServerName = opts.TLSConfig.ServerName
		opts.TLSConfig = tlsConf
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	return redis.NewClient(opts), nil
}

// DialMonitor builds the monitoring connection (INFO, SLOWLOG, LATENCY for /admin/system and
// /metrics): the main settings, or MONITOR_REDIS_URL. With Sentinel or Cluster that URL only
// gives the user and password: the monitor follows the same nodes (the moving primary, every
// cluster node) as the app.
func DialMonitor(main config.Redis, monitorURL string) (redis.UniversalClient, error) {
	if monitorURL == "" {
		return Dial(main)
	}
	if main.Mode() == "single" {
		return Dial(main.ForURL(monitorURL))
	}
	u, err := url.Parse(monitorURL)
	if err != nil {
		return nil, fmt.Errorf("store: MONITOR_REDIS_URL: %w", err)
	}
	mon := main
	mon.Username = u.User.Username()
	mon.Password, _ = u.User.Password()
	return Dial(mon)
}

// reloadOnNetError asks the cluster client to reload its slot map when a node stops answering.
// go-redis reloads on MOVED, and otherwise only every 60 s: after a master died and its replica
// took over, commands for its slots kept failing for up to a minute
// (app.TestClusterMasterLossUnderLoad). The reload is lazy and coalesced, so a burst of errors
// costs one CLUSTER SLOTS.
type reloadOnNetError struct{ cc *redis.ClusterClient }

func (h reloadOnNetError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetError) check(ctx context.Context, err error) {
	var ne net.Error
	if err != nil && (errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF)) {
		h.cc.ReloadState(ctx)
	}
}

// tlsConfig trusts REDIS_TLS_CA (or the system's roots) and shows REDIS_TLS_CERT/KEY when set.
func tlsConfig(c config.Redis) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("store: REDIS_TLS_CA: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store: REDIS_TLS_CA: no PEM certificate in %s", c.TLSCA)
		}
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("store: REDIS_TLS_CERT/REDIS_TLS_KEY: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// IsUnavailable reports whether err means Redis cannot serve the request right now (down,
// failing over, loading its data, or refusing writes because its disk is full or it reached its
// memory limit). Callers answer 503 with a retry hint rather than 500: nothing is wrong with the
// request itself.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true // the connection died under the command: Redis went away
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	for _, prefix := range []string{"LOADING", "MISCONF", "OOM", "READONLY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "NOREPLICAS"} {
		if strings.HasPrefix(msg, prefix) || strings.Contains(msg, ": "+prefix) {
			return true
		}
	}
	return false
}

// slogPrintf routes go-redis's internal log lines (dial retries, pool notices) to slog at debug
// level: the app logs Redis trouble itself, with context, where it matters.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// logger receives the store's own warnings (work that failed but must not fail a request).
var logger = slog.Default()

// SetLogger sends go-redis's own log output, and the store's warnings, to log. It is
// process-wide, as go-redis's logger is.
func SetLogger(log *slog.Logger) {
	logger = log
	redis.SetLogger(slogPrintf{log})
}
