package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/store/redistest"
)

// crashUnderLoad posts reports through the HTTP API (Open311) from several clients, kills Redis
// with SIGKILL in the middle, restarts it on the same files and returns the ids that got a 201,
// how many of them are intact and indexed afterwards, and every status seen.
func crashUnderLoad(t *testing.T, srv *redistest.Server) (acked []string, kept int, statuses map[int]int) {
	t.Helper()
	a, base, _ := appWith(t, map[string]string{"REDIS_URL": srv.URL(), "RATE_LIMITS": "off"})
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	statuses = map[int]int{}
	failed := 0
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := n.Add(1)
				resp, err := http.PostForm(base+"/open311/v2/requests.json", url.Values{
					"api_key": {key}, "service_code": {"debris"}, "description": {fmt.Sprint("load ", i)},
					"lat": {fmt.Sprintf("%.6f", 10+float64(i%1000)*0.001)}, "long": {fmt.Sprintf("%.6f", 10+float64(i/1000)*0.001)},
				})
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusCreated {
					var out []map[string]string
					if json.Unmarshal(body, &out) == nil && len(out) == 1 {
						acked = append(acked, out[0]["service_request_id"])
					}
				}
				mu.Unlock()
			}
		}()
	}
	// Conditions, not clocks: kill once 200 reports are acknowledged, stop once requests have
	// met the outage.
	counted := func(f func() bool) func() bool { return func() bool { mu.Lock(); defer mu.Unlock(); return f() } }
	if !eventually(t, 2*time.Minute, counted(func() bool { return len(acked) >= 200 })) {
		t.Fatalf("fewer than 200 reports acknowledged in 2 minutes: %v", statuses)
	}
	srv.Kill()
	if !eventually(t, time.Minute, counted(func() bool { return statuses[http.StatusServiceUnavailable]+failed >= 8 })) {
		t.Fatalf("no request met the outage: %v", statuses)
	}
	close(stop)
	wg.Wait()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	for _, id := range acked {
		r, err := a.Store.Report(t.Context(), id)
		if err != nil {
			continue
		}
		inTime, _ := c.ZScore(t.Context(), "hw:reports:time", id).Result()
		if r.ID == id && r.Type == "debris" && inTime > 0 {
			kept++
		}
	}
	return acked, kept, statuses
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

// Sentinel failover under write load: the primary dies; the app answers 503 (never 500) during
// the failover, writes to the new primary within 10 s, and the acknowledged reports lost to
// asynchronous replication are counted (bounded by the last moments before the crash).
func TestSentinelFailoverUnderLoad(t *testing.T) {
	topo := redistest.StartSentinel(t, 2, 3)
	a, base, _ := appWith(t, map[string]string{"REDIS_ADDRS": strings.Join(topo.Addrs(), ","), "REDIS_MASTER_NAME": topo.Master, "RATE_LIMITS": "off"})
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the replicas catch up with the key

	var mu sync.Mutex
	statuses := map[int]int{}
	var acked []string
	var killedAt, recoveredAt time.Time
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := n.Add(1)
				resp, err := client.PostForm(base+"/open311/v2/requests.json", url.Values{
					"api_key": {key}, "service_code": {"ice"},
					"lat": {fmt.Sprintf("%.6f", 30+float64(i%1000)*0.001)}, "long": {fmt.Sprintf("%.6f", 30+float64(i/1000)*0.001)},
				})
				if err != nil {
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusCreated {
					var out []map[string]string
					if json.Unmarshal(body, &out) == nil && len(out) == 1 {
						acked = append(acked, out[0]["service_request_id"])
					}
					if !killedAt.IsZero() && recoveredAt.IsZero() && time.Since(killedAt) > 500*time.Millisecond {
						recoveredAt = time.Now()
					}
				}
				mu.Unlock()
				if resp.StatusCode != http.StatusCreated {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	topo.Primary.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := !recoveredAt.IsZero()
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if recoveredAt.IsZero() {
		t.Fatalf("no write succeeded within 30 s of the primary's death; statuses %v", statuses)
	}
	gap := recoveredAt.Sub(killedAt)
	lost := 0
	for _, id := range acked {
		if _, err := a.Store.Report(t.Context(), id); err != nil {
			lost++
		}
	}
	t.Logf("failover: writes back after %v; %d acknowledged, %d lost; statuses %v", gap.Round(100*time.Millisecond), len(acked), lost, statuses)
	if gap > 10*time.Second {
		t.Errorf("the app needed %v to write to the new primary (promise: within 10 s)", gap)
	}
	if statuses[http.StatusInternalServerError] > 0 {
		t.Errorf("the failover produced 500s: %v", statuses)
	}
	if lost > len(acked)/10 {
		t.Errorf("%d of %d acknowledged reports lost, more than the replication lag explains", lost, len(acked))
	}
}
