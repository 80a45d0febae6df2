// Package redistest starts throwaway redis-server processes for tests: each on a free loopback
// port with its own temporary directory, stopped and removed when the test ends. Tests use real
// Redis, never a mock; packages run in parallel because nothing is shared.
package redistest

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one running redis-server.
type Server struct {
	Addr string // 127.0.0.1:port
	Dir  string // working directory (AOF/RDB files; the node's own config file when it has a Role)

	bin        string
	args       []string
	tls        *tls.Config
	user, pass string
	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{}
	log        *os.File
}

// Options tune a server. ConfigFile, when set, is loaded first (as redis-server's first
// argument), so a test can run the project's own deploy/redis config.
type Options struct {
	ConfigFile string
	Args       []string // extra "--name value" arguments
	Sentinel   bool     // run as a sentinel (redis-server --sentinel)

	// Role, when set, gives the node its own config file in its directory, made from the shipped
	// configs by scripts/redis-conf.sh (single, primary, replica, cluster, sentinel, cache), as
	// production runs them; Vars fill its placeholders (PORT and DIR are set here).
	Role string
	Vars map[string]string

	// TLS (the client side) and Username/Password are what the harness's own connections
	// (readiness, Client, Ping) use.
	TLS                *tls.Config
	Username, Password string
}

// TB is the part of testing.TB the harness needs; TestMain code can pass a Main value.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	TempDir() string
}

// Start runs a fresh redis-server for t and stops it in t's cleanup.
func Start(t TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server is not installed (run `make deps` or apt-get install redis-server): %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	// A free port can be taken by someone else between our probe and Redis binding it; retry.
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, bin: bin,
			tls: o.TLS, user: o.Username, pass: o.Password}
		var args []string
		if o.Role != "" {
			conf, err := nodeConfig(o.Role, port, dir, o.Vars)
			if err != nil {
				t.Fatalf("redistest: %v", err)
			}
			args = append(args, conf)
			if o.Sentinel {
				args = append(args, "--sentinel")
			}
			args = append(args, "--daemonize", "no", "--logfile", "")
		} else {
			if o.ConfigFile != "" {
				args = append(args, o.ConfigFile)
			}
			if o.Sentinel {
				args = append(args, "--sentinel")
			}
			args = append(args,
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--daemonize", "no", "--save", "", "--appendonly", "no",
				"--logfile", "", "--protected-mode", "yes")
			if o.Sentinel || o.ConfigFile != "" {
				// Sentinels take no persistence options; a config file keeps its own.
				args = withoutPersistenceOverrides(args)
			}
		}
		s.args = append(args, o.Args...)
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: could not start redis-server: %v", lastErr)
	return nil
}

// Root is the repository's top directory (for the shipped configs and scripts).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// nodeConfig writes dir/redis.conf for role with scripts/redis-conf.sh and returns its path.
func nodeConfig(role string, port int, dir string, vars map[string]string) (string, error) {
	conf := filepath.Join(dir, "redis.conf")
	cmd := exec.Command(filepath.Join(Root(), "scripts", "redis-conf.sh"), role, conf)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "DIR="+dir)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("redis-conf.sh %s: %v: %s", role, err, out)
	}
	return conf, nil
}

func withoutPersistenceOverrides(args []string) []string {
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		if (args[i] == "--save" || args[i] == "--appendonly") && i+1 < len(args) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func (s *Server) start() error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.log = cmd, done, logf
	s.mu.Unlock()
	if err := s.waitReady(10 * time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		logf.Close()
		return fmt.Errorf("%w; log: %s", err, s.tail())
	}
	return nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server exited at start")
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil && s.tls != nil {
			cfg := s.tls.Clone()
			cfg.ServerName = "127.0.0.1"
			tc := tls.Client(c, cfg)
			_ = tc.SetDeadline(time.Now().Add(time.Second))
			if err = tc.Handshake(); err != nil {
				c.Close()
			} else {
				c = tc
			}
		}
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			rd := bufio.NewReader(c)
			if s.pass != "" { // signed in, PING says LOADING while the data set is read back
				fmt.Fprintf(c, "AUTH %s %s\r\n", cmp.Or(s.user, "default"), s.pass)
				_, _ = rd.ReadString('\n')
			}
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := rd.ReadString('\n')
			c.Close()
			// LOADING means the data set is still being read back from disk; NOAUTH, that the
			// server takes no anonymous commands (and the harness has no password for it).
			if strings.HasPrefix(line, "+PONG") || (s.pass == "" && strings.HasPrefix(line, "-NOAUTH")) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server at %s not ready after %s", s.Addr, timeout)
}

func (s *Server) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// URL is the redis:// URL of the server's database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a go-redis client for the server (with its TLS and user), closed at cleanup.
func (s *Server) Client(t TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(s.options())
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) options() *redis.Options {
	return &redis.Options{Addr: s.Addr, TLSConfig: s.tls, Username: s.user, Password: s.pass}
}

// Exited reports whether the server process has ended (on its own, or stopped).
func (s *Server) Exited() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Stop shuts the server down politely (SHUTDOWN semantics: AOF flushed) and waits for it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Pause freezes the server (SIGSTOP): connections stay open and nothing answers, as with a hung
// server or a network partition. Resume (SIGCONT) lets it go on; Stop and Kill resume it first.
func (s *Server) Pause() { s.send(syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *Server) Resume() { s.send(syscall.SIGCONT) }

func (s *Server) send(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done, logf := s.cmd, s.done, s.log
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused server handles the signal only once resumed
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	logf.Close()
}

// Restart starts the server again on the same port and directory, so it reloads its files.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return fmt.Errorf("redistest: restart of a running server")
	}
	return s.start()
}

// Ping is a quick liveness check used by tests that restart servers.
func (s *Server) Ping(ctx context.Context) error {
	c := redis.NewClient(s.options())
	defer c.Close()
	return c.Ping(ctx).Err()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Main adapts TestMain (which has no *testing.T) to TB: cleanups run when Close is called.
type Main struct {
	mu       sync.Mutex
	cleanups []func()
}

func (m *Main) Helper()                   {}
func (m *Main) Cleanup(f func())          { m.mu.Lock(); m.cleanups = append(m.cleanups, f); m.mu.Unlock() }
func (m *Main) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (m *Main) TempDir() string {
	d, err := os.MkdirTemp("", "hazardwatch-test-")
	if err != nil {
		panic(err)
	}
	m.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Close runs the cleanups in reverse order.
func (m *Main) Close() {
	m.mu.Lock()
	cs := m.cleanups
	m.cleanups = nil
	m.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

var _ TB = (*testing.T)(nil)
