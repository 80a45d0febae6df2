package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
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
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"REDIS_URL": srv.URL(), "RATE_LIMITS": "off", "MAIL_DIR": t.TempDir(), "DATA_DIR": t.TempDir()}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = a.Serve(ln) }()
	t.Cleanup(func() { _ = a.Shutdown() })
	base := "http://" + ln.Addr().String()
	key, _, err := a.Store.CreateAPIKey(t.Context(), "load", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	statuses = map[int]int{}
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
	time.Sleep(700 * time.Millisecond)
	srv.Kill()
	time.Sleep(300 * time.Millisecond)
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

func primaryConf() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "deploy", "redis", "primary.conf")
}

// With the project's config (AOF everysec) every report that got a success answer survives a
// kill -9 of Redis, intact and indexed; the failures during the outage are 503s, never 500s.
func TestAcknowledgedReportsSurviveRedisCrash(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{ConfigFile: primaryConf()})
	acked, kept, statuses := crashUnderLoad(t, srv)
	t.Logf("acknowledged %d, kept %d, statuses %v", len(acked), kept, statuses)
	if len(acked) < 50 {
		t.Fatalf("too little load to prove anything: %d acknowledged", len(acked))
	}
	if kept != len(acked) {
		t.Fatalf("%d of %d acknowledged reports lost", len(acked)-kept, len(acked))
	}
	if statuses[http.StatusInternalServerError] > 0 {
		t.Fatalf("the outage produced 500s: %v", statuses)
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
