// Command hazardwatch serves the Hazard Watch web app. `hazardwatch serve` (the default) reads the
// environment (CONTRACT.md), connects to Redis and listens on ADDR until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"hazardwatch/app"
	"hazardwatch/config"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hazardwatch:", err)
		os.Exit(exitCode(err))
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return 2
	}
	return 1
}

const usage = `usage: hazardwatch [command]

commands:
  serve                 serve the web app (default)
  user create ...       create an account (see: hazardwatch user)
  user role ...         change an account's role
  seed --reports N --area "lat,lng,km" [--bodies]
                        fill Redis with synthetic reports (demos, benchmarks); --bodies also
                        makes a few demo bodies round the area
  worker                run only the background workers (events, mail, expiry), no web server;
                        serve runs them too unless WORKERS=off
  redis repair          rebuild the indexes, the map's counts and the statistics from the documents
  help                  show this help`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			return usageError{"serve takes no arguments\n" + usage}
		}
		return serve(ctx, stderr)
	case "worker":
		if len(args) > 0 {
			return usageError{"worker takes no arguments\n" + usage}
		}
		return workerCmd(ctx, stderr)
	case "user":
		return userCmd(ctx, args, stdout)
	case "seed":
		return seedCmd(ctx, args, stdout)
	case "redis":
		return redisCmd(ctx, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serve runs the app until SIGINT or SIGTERM, then shuts it down within SHUTDOWN_TIMEOUT. A
// second signal ends the process at once.
func serve(ctx context.Context, logw io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	lines := newLineBuffer(logw, 100*time.Millisecond)
	defer lines.Close()
	log := newLogger(cfg.LogFormat, lines)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Building the app takes a moment (the gazetteer loads); a signal meanwhile stops at once:
	// nothing has been served, so there is nothing to finish.
	type built struct {
		a   *app.App
		err error
	}
	ready := make(chan built, 1)
	go func() { a, err := app.New(cfg, log); ready <- built{a, err} }()
	var a *app.App
	select {
	case b := <-ready:
		if b.err != nil {
			return b.err
		}
		a = b.a
	case <-ctx.Done():
		log.Info("stopped while starting")
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = a.Shutdown()
		return fmt.Errorf("listen on ADDR %s: %w", cfg.Addr, err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	select {
	case err := <-served: // the server stopped by itself
		_ = a.Shutdown()
		return err
	case <-ctx.Done():
	}
	stop() // from here on a second signal ends the process at once
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	err = a.Shutdown()
	select {
	case <-served:
	case <-time.After(time.Until(deadline)):
		log.Warn("shutdown: the server did not stop in time")
	}
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// workerCmd runs the workers alone until SIGINT or SIGTERM: the same app, without a listener.
func workerCmd(ctx context.Context, logw io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	cfg.Workers = true
	log := newLogger(cfg.LogFormat, logw)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	log.Info("workers running (no web server)")
	<-ctx.Done()
	log.Info("stopping workers")
	return a.Shutdown()
}
