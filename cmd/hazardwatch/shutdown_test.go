package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"hazardwatch/store/redistest"
)

// These tests run the real binary as a subprocess and signal it, as an operator or an init
// system would. The bounds on how long it may take are generous (a loaded machine starts a
// process slowly); a process that hangs fails them.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hazardwatch-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hazardwatch")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// lockedBuffer is a bytes.Buffer safe for a goroutine writing while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// running is the binary started with env on a free port.
type running struct {
	cmd    *exec.Cmd
	base   string
	log    *lockedBuffer
	exited chan struct{}
}

func start(t *testing.T, env ...string) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &running{base: "http://" + addr, log: &lockedBuffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(binary(t))
	r.cmd.Env = append(os.Environ(), append([]string{"ADDR=" + addr, "MAIL_DIR=" + t.TempDir(), "DATA_DIR=" + t.TempDir()}, env...)...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	})
	return r
}

// exitsWithin reports whether the process ends within limit.
func (r *running) exitsWithin(limit time.Duration) bool {
	select {
	case <-r.exited:
		return true
	case <-time.After(limit):
		return false
	}
}

func (r *running) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitReady polls /readyz until it answers 200.
func (r *running) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(r.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("the app never became ready:\n%s", r.log.String())
}

// A SIGTERM in the first moments after start (while the app is built, while it starts to
// listen, just after) always ends the process: it used to start serving after its shutdown had
// already run, and then ignore every further signal.
func TestSignalSoonAfterStartStops(t *testing.T) {
	srv := redistest.Start(t)
	binary(t) // build before timing anything
	delays := []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond}
	for d := 200 * time.Millisecond; d <= time.Second; d += 100 * time.Millisecond {
		delays = append(delays, d, d) // the window the review hit, twice each
	}
	for _, d := range delays {
		r := start(t, "REDIS_URL="+srv.URL(), "SHUTDOWN_TIMEOUT=2s")
		time.Sleep(d)
		r.signal(t, syscall.SIGTERM)
		if !r.exitsWithin(20 * time.Second) {
			t.Fatalf("SIGTERM %v after start: still running 20 s later; log:\n%s", d, r.log.String())
		}
	}
}

// With Redis frozen and a request stuck on it, a SIGTERM still ends the process within
// SHUTDOWN_TIMEOUT, and a second signal ends it at once even when the timeout is long.
func TestShutdownWithRedisGone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout string
		second  bool
		limit   time.Duration
	}{
		{"one signal", "2s", false, 8 * time.Second}, // 2 s, and 6 s for a loaded machine
		{"two signals", "60s", true, 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			r := start(t, "REDIS_URL="+srv.URL(), "SHUTDOWN_TIMEOUT="+tc.timeout)
			r.waitReady(t)
			srv.Pause()
			t.Cleanup(srv.Resume)
			go func() { // a request that waits on Redis while the app shuts down
				c := &http.Client{Timeout: 90 * time.Second}
				if resp, err := c.Get(r.base + "/reports"); err == nil {
					resp.Body.Close()
				}
			}()
			time.Sleep(300 * time.Millisecond)
			signalled := time.Now()
			r.signal(t, syscall.SIGTERM)
			if tc.second {
				time.Sleep(300 * time.Millisecond)
				r.signal(t, syscall.SIGTERM)
			}
			if !r.exitsWithin(tc.limit) {
				t.Fatalf("SHUTDOWN_TIMEOUT=%s, second signal %v: still running %v after SIGTERM; log:\n%s", tc.timeout, tc.second, tc.limit, r.log.String())
			}
			t.Logf("stopped %v after SIGTERM", time.Since(signalled).Round(10*time.Millisecond))
		})
	}
}
