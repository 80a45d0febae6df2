package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/store/redistest"
)

// load posts reports through the HTTP API (Open311) from several clients until stopped,
// recording every answer: the ids that got a 201 (with when their request started) and the
// count of each status (transport errors count as status 0).
type load struct {
	mu       sync.Mutex
	statuses map[int]int
	acked    []string
	started  []time.Time // when each acknowledged request was sent
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, base, key, service string, clients int, lat0 float64) *load {
	t.Helper()
	l := &load{statuses: map[int]int{}, stop: make(chan struct{})}
	var n atomic.Int64
	for w := 0; w < clients; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				i := n.Add(1)
				start := time.Now()
				resp, err := client.PostForm(base+"/open311/v2/requests.json", url.Values{
					"api_key": {key}, "service_code": {service}, "description": {fmt.Sprint("load ", i)},
					"lat": {fmt.Sprintf("%.6f", lat0+float64(i%1000)*0.001)}, "long": {fmt.Sprintf("%.6f", lat0+float64(i/1000)*0.001)},
				})
				code := 0
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				l.mu.Lock()
				l.statuses[code]++
				if code == http.StatusCreated {
					var out []map[string]string
					if json.Unmarshal(body, &out) == nil && len(out) == 1 {
						l.acked = append(l.acked, out[0]["service_request_id"])
						l.started = append(l.started, start)
					}
				}
				l.mu.Unlock()
				if code != http.StatusCreated {
					time.Sleep(20 * time.Millisecond) // an outage: do not spin
				}
			}
		}()
	}
	t.Cleanup(l.Stop)
	return l
}

// Stop ends the load and waits for requests in flight.
func (l *load) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// waitUntil polls cond over the load's figures (under its lock) with a generous deadline.
func (l *load) waitUntil(t *testing.T, what string, limit time.Duration, cond func(l *load) bool) {
	t.Helper()
	if !eventually(t, limit, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return cond(l) }) {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Fatalf("gave up waiting for %s; statuses %v", what, l.statuses)
	}
}

// ackedSince counts acknowledged requests sent after at.
func (l *load) ackedSince(at time.Time) int {
	n := 0
	for _, s := range l.started {
		if s.After(at) {
			n++
		}
	}
	return n
}

// firstAckedAfter is when the first request that was sent after at and acknowledged was sent:
// the moment from which writes worked again.
func (l *load) firstAckedAfter(at time.Time) time.Time {
	var first time.Time
	for _, s := range l.started {
		if s.After(at) && (first.IsZero() || s.Before(first)) {
			first = s
		}
	}
	return first
}

// crashUnderLoad posts reports from 8 clients, kills Redis with SIGKILL once 200 are
// acknowledged, restarts it on the same files and returns the ids that got a 201, how many of
// them are intact and indexed afterwards, and every status seen.
func crashUnderLoad(t *testing.T, srv *redistest.Server) (acked []string, kept int, statuses map[int]int) {
	t.Helper()
	a, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "RATE_LIMITS": "off"})
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, base, key, "debris", 8, 10)
	// Conditions, not clocks: kill once 200 reports are acknowledged, stop once requests have
	// met the outage.
	l.waitUntil(t, "200 acknowledged reports", 2*time.Minute, func(l *load) bool { return len(l.acked) >= 200 })
	srv.Kill()
	l.waitUntil(t, "requests to meet the outage", time.Minute, func(l *load) bool {
		return l.statuses[http.StatusServiceUnavailable]+l.statuses[0] >= 8
	})
	l.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// A write acknowledged after its document and outbox were stored, but whose indexes the
	// crash cut short, is finished by the outbox sweeper (every instance, within a minute):
	// run it now, as it would run, rather than wait for its clock.
	swept := func() bool {
		n, err := a.Store.SweepOutbox(t.Context(), time.Now().Add(time.Hour), 1000)
		return err == nil && n == 0
	}
	if !eventually(t, time.Minute, swept) {
		t.Fatal("the outbox sweeper could not finish after the restart")
	}
	c := srv.Client(t)
	for _, id := range l.acked {
		r, err := a.Store.Report(t.Context(), id)
		if err != nil {
			continue
		}
		inTime, _ := c.ZScore(t.Context(), "hw:reports:time", id).Result()
		if r.ID == id && r.Type == "debris" && inTime > 0 {
			kept++
		}
	}
	return l.acked, kept, l.statuses
}

// appWith starts an app configured by env (MAIL_DIR and DATA_DIR default to temp dirs) and
// returns it, its base URL and its log.
func appWith(t testing.TB, env map[string]string) (*App, string, *syncBuffer) {
	t.Helper()
	if env["MAIL_DIR"] == "" {
		env["MAIL_DIR"] = t.TempDir()
	}
	if env["DATA_DIR"] == "" {
		env["DATA_DIR"] = t.TempDir()
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a, serve(t, a), logs
}

func primaryConf() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "deploy", "redis", "primary.conf")
}

// With the project's config (AOF, appendfsync always) every report that got a success answer
// survives a kill -9 of Redis, intact and indexed; the failures during the outage are 503s, never 500s.
func TestAcknowledgedReportsSurviveRedisCrash(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{ConfigFile: primaryConf()})
	acked, kept, statuses := crashUnderLoad(t, srv)
	t.Logf("acknowledged %d, kept %d, statuses %v", len(acked), kept, statuses)
	if kept != len(acked) {
		t.Fatalf("%d of %d acknowledged reports lost", len(acked)-kept, len(acked))
	}
	if statuses[http.StatusInternalServerError] > 0 {
		t.Fatalf("the outage produced 500s: %v", statuses)
	}
}

// BenchmarkReportCreates measures what appendfsync always costs the app: reports created per
// second through the HTTP API (Open311, the whole create path) by 1 and 8 clients, against Redis
// with the shipped config under always and under everysec. Figures in docs/redis-benchmarks.md.
func BenchmarkReportCreates(b *testing.B) {
	for _, mode := range []string{"always", "everysec"} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("appendfsync=%s/clients=%d", mode, clients), func(b *testing.B) {
				srv := redistest.Start(b, redistest.Options{ConfigFile: primaryConf(), Args: []string{"--appendfsync", mode}})
				a, base, _ := appWith(b, map[string]string{"REDIS_URL": srv.URL(), "RATE_LIMITS": "off"})
				key, _, err := a.Store.CreateAPIKey(b.Context(), "bench", 1_000_000_000)
				if err != nil {
					b.Fatal(err)
				}
				var n atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := 0; w < clients; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
							resp, err := http.PostForm(base+"/open311/v2/requests.json", url.Values{
								"api_key": {key}, "service_code": {"pothole"}, "description": {fmt.Sprint("bench ", i)},
								"lat": {fmt.Sprintf("%.6f", 40+float64(i%1000)*0.001)}, "long": {fmt.Sprintf("%.6f", 40+float64(i/1000)*0.001)},
							})
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusCreated {
								b.Errorf("create: %d", resp.StatusCode)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
			})
		}
	}
}

// The control: with snapshots only (no AOF) the same crash loses acknowledged reports, so the
// test above can fail.
func TestRDBOnlyLosesReportsInACrash(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{ConfigFile: primaryConf(), Args: []string{"--appendonly", "no", "--save", "3600 1"}})
	acked, kept, _ := crashUnderLoad(t, srv)
	if len(acked) == 0 || kept == len(acked) {
		t.Fatalf("RDB-only kept %d of %d: the durability test proves nothing", kept, len(acked))
	}
}

// A full disk: with appendfsync always Redis cannot refuse a write it has already applied in
// memory, so it exits instead of answering it (the MISCONF refusal only exists under everysec).
// The app answers 503 with a clear message, never 500, while Redis is down, and the map page
// still loads; once space is freed and Redis restarted, every acknowledged report is there,
// intact, and writes work again.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("this test needs to mount a small tmpfs (it runs as root in make test): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	srv := redistest.Start(t, redistest.Options{ConfigFile: primaryConf(), Args: []string{"--dir", dir}})
	a, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "RATE_LIMITS": "off"})
	key, _, err := a.Store.CreateAPIKey(t.Context(), "fill", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	post := func(i int) (int, string) {
		resp, err := http.PostForm(base+"/open311/v2/requests.json", url.Values{
			"api_key": {key}, "service_code": {"crack"}, "description": {strings.Repeat("A long description to fill the disk. ", 50)},
			"lat": {fmt.Sprintf("%.6f", 20+float64(i%1000)*0.001)}, "long": {fmt.Sprintf("%.6f", 20+float64(i/1000)*0.001)},
		})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	var stored []string
	var code int
	var body string
	i := 0
	for ; i < 20000; i++ {
		code, body = post(i)
		if code != http.StatusCreated {
			break
		}
		var out []map[string]string
		_ = json.Unmarshal([]byte(body), &out)
		stored = append(stored, out[0]["service_request_id"])
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "try again") {
		t.Fatalf("a full disk answered %d %s", code, body)
	}
	if len(stored) < 10 {
		t.Fatalf("only %d reports before the disk filled", len(stored))
	}
	if !eventually(t, time.Minute, srv.Exited) {
		t.Fatal("Redis kept running after a failed AOF write under appendfsync always")
	}
	if got := status(t, base+"/api/reports/"+stored[0]); got != http.StatusServiceUnavailable {
		t.Fatalf("reading a report while Redis is down: %d", got)
	}
	if got := status(t, base+"/"); got != 200 {
		t.Fatalf("the map page while Redis is down: %d", got)
	}

	// Free space and restart Redis on the same files.
	srv.Stop()
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if !eventually(t, time.Minute, func() bool { return status(t, base+"/api/reports/"+stored[0]) == 200 }) {
		t.Fatal("the app did not read again after Redis restarted")
	}
	for _, id := range stored {
		r, err := a.Store.Report(t.Context(), id)
		if err != nil || r.Type != "crack" {
			t.Fatalf("acknowledged report %s after the restart: %+v %v", id, r, err)
		}
	}
	if code, body := post(i + 1); code != http.StatusCreated {
		t.Fatalf("a write after space was freed: %d %s", code, body)
	}
	t.Logf("%d reports stored before the disk filled; all there after the restart", len(stored))
}

// Sentinel failover under write load, on the shipped configs with ACLs on (replicas sync as the
// replication user, sentinels act as the sentinel user): the primary dies; the app answers 503
// (never 500) during the failover and writes to the new primary; the acknowledged reports lost to
// asynchronous replication are counted. Every node ran from its own generated config, so the
// CONFIG REWRITE that Sentinel triggers leaves the repository's files alone.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	deploy := redistest.SnapshotDeploy(t)
	topo := redistest.StartSentinel(t, 2, 3)
	a, base, _ := appWith(t, withOff(sentinelEnv(topo, nil)))
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, topo.Primary, len(topo.Replicas))
	oldPrimary := topo.Primary.Addr

	l := startLoad(t, base, key, "ice", 4, 30)
	l.waitUntil(t, "200 acknowledged reports", 2*time.Minute, func(l *load) bool { return len(l.acked) >= 200 })
	killedAt := time.Now()
	topo.Primary.Kill()
	var newPrimary string
	if !eventually(t, time.Minute, func() bool {
		addr, err := topo.CurrentPrimary(t.Context())
		newPrimary = addr
		return err == nil && addr != oldPrimary
	}) {
		t.Fatal("the sentinels promoted no replica within a minute")
	}
	promotedAt := time.Now()
	l.waitUntil(t, "100 reports acknowledged by the new primary", 2*time.Minute, func(l *load) bool { return l.ackedSince(promotedAt) >= 100 })
	l.Stop()

	gap := l.firstAckedAfter(killedAt).Sub(killedAt)
	lost := 0
	for _, id := range l.acked {
		if _, err := a.Store.Report(t.Context(), id); err != nil {
			lost++
		}
	}
	t.Logf("failover: new primary %s %v after the kill; writes back after %v; %d acknowledged, %d lost; statuses %v",
		newPrimary, promotedAt.Sub(killedAt).Round(100*time.Millisecond), gap.Round(100*time.Millisecond), len(l.acked), lost, l.statuses)
	if gap > 10*time.Second {
		t.Errorf("the app needed %v to write to the new primary (promise: within 10 s)", gap)
	}
	if l.statuses[http.StatusInternalServerError] > 0 {
		t.Errorf("the failover produced 500s: %v", l.statuses)
	}
	if lost > len(l.acked)/10 {
		t.Errorf("%d of %d acknowledged reports lost, more than the replication lag explains", lost, len(l.acked))
	}
	// Sentinel had the promoted replica rewrite its config: its own file, not the repository's.
	for _, r := range topo.Replicas {
		if r.Addr != newPrimary {
			continue
		}
		conf, err := os.ReadFile(filepath.Join(r.Dir, "redis.conf"))
		if err != nil || strings.Contains(string(conf), "\nreplicaof ") {
			t.Errorf("the promoted replica's own config was not rewritten: %v\n%s", err, conf)
		}
	}
	deploy.AssertUnchanged(t)
}

// A Redis Cluster with one replica per master loses a master under write load: its replica
// takes over its slots and the app goes on (503, never 500, for what the dead master held while
// the cluster fails over, then writes again at once); the acknowledged reports lost to
// asynchronous replication are counted.
func TestClusterMasterLossUnderLoad(t *testing.T) {
	deploy := redistest.SnapshotDeploy(t)
	c := redistest.StartClusterWith(t, 3, 1, redistest.TopologyOptions{})
	a, base, _ := appWith(t, withOff(clusterEnv(c, nil)))
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	admin := c.Admin(t)
	// Kill the master that holds the most-written global index, so every create meets the loss.
	victimAddr, err := masterOf(t, admin, "hw:reports:time")
	if err != nil {
		t.Fatal(err)
	}
	var victim *redistest.Server
	for _, n := range c.Nodes {
		if n.Addr == victimAddr {
			victim = n
		}
	}
	waitReplicated(t, victim, 1)

	l := startLoad(t, base, key, "pothole", 4, 50)
	l.waitUntil(t, "200 acknowledged reports", 2*time.Minute, func(l *load) bool { return len(l.acked) >= 200 })
	killedAt := time.Now()
	victim.Kill()
	if !eventually(t, 2*time.Minute, func() bool {
		addr, err := masterOf(t, admin, "hw:reports:time")
		return err == nil && addr != victimAddr
	}) {
		t.Fatal("no replica took over the dead master's slots within 2 minutes")
	}
	promotedAt := time.Now()
	l.waitUntil(t, "100 reports acknowledged after the failover", 2*time.Minute, func(l *load) bool { return l.ackedSince(promotedAt) >= 100 })
	l.Stop()

	lost := 0
	for _, id := range l.acked {
		if _, err := a.Store.Report(t.Context(), id); err != nil {
			lost++
		}
	}
	back := l.firstAckedAfter(killedAt)
	t.Logf("cluster failover: replica promoted %v after the kill; writes back after %v; %d acknowledged, %d lost; statuses %v",
		promotedAt.Sub(killedAt).Round(100*time.Millisecond), back.Sub(killedAt).Round(100*time.Millisecond), len(l.acked), lost, l.statuses)
	// A generous bound that still tells the fix from its absence: without reloading the slot map
	// on network errors, go-redis kept sending to the dead master until its 60 s periodic reload.
	if back.Sub(promotedAt) > 30*time.Second {
		t.Errorf("writes came back %v after the promotion (the app kept using the dead master)", back.Sub(promotedAt))
	}
	if l.statuses[http.StatusInternalServerError] > 0 {
		t.Errorf("the failover produced 500s: %v", l.statuses)
	}
	if lost > len(l.acked)/10 {
		t.Errorf("%d of %d acknowledged reports lost, more than the replication lag explains", lost, len(l.acked))
	}
	deploy.AssertUnchanged(t)
}

// masterOf is the address of the master serving key's slot, as the cluster sees it now.
func masterOf(t *testing.T, admin *redis.ClusterClient, key string) (string, error) {
	slot, err := admin.ClusterKeySlot(t.Context(), key).Result()
	if err != nil {
		return "", err
	}
	shards, err := admin.ClusterShards(t.Context()).Result()
	if err != nil {
		return "", err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if slot < r.Start || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role == "master" && n.Health == "online" {
					return fmt.Sprintf("%s:%d", n.IP, n.Port), nil
				}
			}
		}
	}
	return "", fmt.Errorf("no online master for slot %d", slot)
}

// waitReplicated waits until n replicas have acknowledged everything written to primary so far.
func waitReplicated(t *testing.T, primary *redistest.Server, n int) {
	t.Helper()
	c := primary.Client(t)
	if !eventually(t, time.Minute, func() bool {
		got, err := c.Do(t.Context(), "WAIT", n, 1000).Int()
		return err == nil && got >= n
	}) {
		t.Fatalf("%d replicas did not catch up with %s", n, primary.Addr)
	}
}

// withOff turns the app's rate limits off (load tests).
func withOff(env map[string]string) map[string]string {
	env["RATE_LIMITS"] = "off"
	return env
}

// `make run` (scripts/run.sh) starts its local Redis with ACL users whose random passwords it
// keeps under DATA_DIR (mode 600, never in the repository) and runs the app as the app user:
// anonymous clients are refused, the app is ready, Ctrl-C stops both.
func TestMakeRunUsesPasswords(t *testing.T) {
	ports := redistest.FreePorts(t, 2)
	dataDir := t.TempDir()
	cmd := exec.Command(filepath.Join(redistest.Root(), "scripts", "run.sh"))
	cmd.Env = append(os.Environ(), "DATA_DIR="+dataDir, fmt.Sprintf("LOCAL_REDIS_PORT=%d", ports[0]),
		fmt.Sprintf("ADDR=127.0.0.1:%d", ports[1]), "MAIL_DIR="+t.TempDir(), "REDIS_URL=", "REDIS_ADDRS=")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C reaches the script and the app
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	t.Cleanup(stop)
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	ready := func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	if !eventually(t, 3*time.Minute, ready) {
		t.Fatalf("make run never became ready:\n%s", out.String())
	}
	redisDir := filepath.Join(dataDir, "redis")
	st, err := os.Stat(filepath.Join(redisDir, "passwords.env"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("passwords.env: %v %v", st, err)
	}
	pw, _ := os.ReadFile(filepath.Join(redisDir, "passwords.env"))
	for _, line := range strings.Fields(string(pw)) {
		if _, secret, _ := strings.Cut(line, "="); len(secret) < 16 || strings.Contains(out.String(), secret) {
			t.Fatalf("passwords.env holds a short password, or make run printed one: %q", line)
		}
	}
	anon := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0])})
	defer anon.Close()
	if err := anon.Get(t.Context(), "hw:users").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("an anonymous client on make run's Redis: %v", err)
	}
	stop()
	if ready() {
		t.Fatal("the app still answers after Ctrl-C")
	}
	if err := anon.Ping(t.Context()).Err(); err == nil || strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("make run's Redis still runs after Ctrl-C: %v", err)
	}
}

// Redis at its memory limit (noeviction) refuses writes with an OOM error: the app answers 503
// with a retry hint, never 500, reads go on, nothing stored is touched, and /metrics shows the
// headroom that ran out.
func TestOutOfMemory(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{ConfigFile: primaryConf(), Args: []string{"--maxmemory", "4mb"}})
	a, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "RATE_LIMITS": "off"})
	key, _, err := a.Store.CreateAPIKey(t.Context(), "fill", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	var code int
	var body string
	for i := 0; i < 100000 && (code == 0 || code == http.StatusCreated); i++ {
		resp, err := http.PostForm(base+"/open311/v2/requests.json", url.Values{
			"api_key": {key}, "service_code": {"crack"}, "description": {strings.Repeat("Memory filler. ", 40)},
			"lat": {fmt.Sprintf("%.6f", 25+float64(i%1000)*0.001)}, "long": {fmt.Sprintf("%.6f", 25+float64(i/1000)*0.001)},
		})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body = resp.StatusCode, string(b)
		if code == http.StatusCreated {
			var out []map[string]string
			_ = json.Unmarshal(b, &out)
			stored = append(stored, out[0]["service_request_id"])
		}
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "try again") {
		t.Fatalf("Redis at its memory limit answered %d %s", code, body)
	}
	if len(stored) < 10 {
		t.Fatalf("only %d reports fitted", len(stored))
	}
	for _, id := range []string{stored[0], stored[len(stored)-1]} {
		if got := status(t, base+"/api/reports/"+id); got != 200 {
			t.Fatalf("reading %s at the memory limit: %d", id, got)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`hazardwatch_redis_memory_headroom_bytes\{node="` + regexp.QuoteMeta(srv.Addr) + `"\} -?\d`).Match(m) {
		t.Fatalf("/metrics lacks the memory headroom:\n%s", m)
	}
	t.Logf("%d reports fitted in 4 MB; the next write answered %d", len(stored), code)
}

// At start the app warns when the data instance has no memory limit (it would grow until the
// kernel kills it), and does not with the shipped config.
func TestWarnsWithoutMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		opts redistest.Options
		warn bool
	}{{redistest.Options{}, true}, {redistest.Options{ConfigFile: primaryConf()}, false}} {
		srv := redistest.Start(t, tc.opts)
		_, _, logs := appWith(t, map[string]string{"REDIS_URL": srv.URL()})
		if !eventually(t, 30*time.Second, func() bool { return strings.Contains(logs.String(), "redis connected") }) {
			t.Fatalf("never connected:\n%s", logs.String())
		}
		// The settings are checked right after the first PING; give that a moment to be logged.
		eventually(t, 2*time.Second, func() bool { return strings.Contains(logs.String(), "maxmemory is not set") })
		if got := strings.Contains(logs.String(), "maxmemory is not set"); got != tc.warn {
			t.Errorf("config %q: warned %v, want %v:\n%s", tc.opts.ConfigFile, got, tc.warn, logs.String())
		}
	}
}

// The optional min-replicas-to-write 1 / min-replicas-max-lag 10 (commented out in
// deploy/redis/replica.conf): while a replica keeps up, writes work; once the last replica is
// gone, the primary refuses writes (NOREPLICAS) within about the lag limit and the app answers
// 503, never 500; writes come back with the replica. That refusal is what the option costs.
func TestMinReplicasToWrite(t *testing.T) {
	topo := redistest.StartSentinel(t, 1, 3)
	admin := topo.Primary.Client(t)
	for k, v := range map[string]string{"min-replicas-to-write": "1", "min-replicas-max-lag": "10"} {
		if err := admin.ConfigSet(t.Context(), k, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	a, base, _ := appWith(t, withOff(sentinelEnv(topo, nil)))
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, base, key, "debris", 2, 60)
	l.waitUntil(t, "20 acknowledged reports", time.Minute, func(l *load) bool { return len(l.acked) >= 20 })
	killedAt := time.Now()
	topo.Replicas[0].Kill()
	l.waitUntil(t, "writes to be refused without a replica", time.Minute, func(l *load) bool { return l.statuses[http.StatusServiceUnavailable] > 0 })
	refusedAfter := time.Since(killedAt)
	if err := topo.Replicas[0].Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	l.waitUntil(t, "writes to come back with the replica", time.Minute, func(l *load) bool { return l.ackedSince(back) >= 20 })
	l.Stop()
	t.Logf("min-replicas-to-write 1: writes refused %v after the last replica died; statuses %v", refusedAfter.Round(100*time.Millisecond), l.statuses)
	if l.statuses[http.StatusInternalServerError] > 0 {
		t.Errorf("refused writes answered 500: %v", l.statuses)
	}
}
