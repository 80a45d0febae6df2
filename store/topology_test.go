package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/store/redistest"
)

// topologyScript runs scripts/redis-topology.sh with its run directory and ports of the test's
// own, and stops what it started when the test ends.
func topologyScript(t *testing.T, ports []int) (run func(args ...string) string, dir string) {
	t.Helper()
	dir = t.TempDir()
	var ps []string
	for _, p := range ports {
		ps = append(ps, fmt.Sprint(p))
	}
	run = func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(redistest.Root(), "scripts", "redis-topology.sh"), args...)
		cmd.Env = append(os.Environ(), "TOPOLOGY_DIR="+dir, "TOPOLOGY_PORTS="+strings.Join(ps, " "))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-topology.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { run("stop") })
	return run, dir
}

// appEnv reads the environment the script prints for the app.
func appEnv(t *testing.T, out string) config.Redis {
	t.Helper()
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(REDIS_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(out, -1) {
		env[m[1]] = m[2]
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the script printed an environment the app refuses: %v\n%s", err, out)
	}
	if cfg.Redis.Username != "app" || cfg.Redis.Password == "" {
		t.Fatalf("the script must hand the app its ACL user: %+v", cfg.Redis)
	}
	return cfg.Redis
}

// `make redis-sentinel` (scripts/redis-topology.sh sentinel): the app writes as its ACL user;
// a failover, which makes Sentinel CONFIG REWRITE the nodes' files, rewrites the nodes' own
// generated files and leaves the repository's deploy/ untouched; writes go on at the new
// primary. (Before issue 14 the primary ran from deploy/redis/primary.conf, which the rewrite
// turned into a replica's config.)
func TestTopologyScriptSentinelFailover(t *testing.T) {
	deploy := redistest.SnapshotDeploy(t)
	ports := redistest.FreePorts(t, 6)
	run, dir := topologyScript(t, ports)
	cfg := appEnv(t, run("sentinel"))
	ctx := context.Background()
	rdb, err := Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := New(rdb)
	write := func() error {
		r := newReport("topo", "pothole", 32.8, 35.0)
		_, _, err := s.CreateReport(ctx, r)
		return err
	}
	if err := write(); err != nil {
		t.Fatalf("a write as the app user: %v", err)
	}

	sentinel := redis.NewSentinelClient(&redis.Options{Addr: cfg.Addrs[0]})
	defer sentinel.Close()
	waitUntil(t, "the sentinel to know both replicas and the other sentinels", func() bool {
		m, err := sentinel.Master(ctx, "hazardwatch").Result()
		return err == nil && m["num-slaves"] == "2" && m["num-other-sentinels"] == "2"
	})
	primary := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if err := sentinel.Failover(ctx, "hazardwatch").Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a replica to be promoted", func() bool {
		addr, err := sentinel.GetMasterAddrByName(ctx, "hazardwatch").Result()
		return err == nil && addr[0]+":"+addr[1] != primary
	})
	waitUntil(t, "writes at the new primary", func() bool { return write() == nil })
	// The old primary is now a replica: Sentinel rewrote its own file to say so.
	waitUntil(t, "the old primary's own config to be rewritten as a replica's", func() bool {
		conf, err := os.ReadFile(filepath.Join(dir, "primary", "redis.conf"))
		return err == nil && strings.Contains(string(conf), "\nreplicaof ")
	})
	deploy.AssertUnchanged(t)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// `make redis-cluster` (scripts/redis-topology.sh cluster): the nodes start from their own files
// with ACLs on, the cluster forms, and the app's user writes a report across its slots.
func TestTopologyScriptCluster(t *testing.T) {
	deploy := redistest.SnapshotDeploy(t)
	run, _ := topologyScript(t, redistest.FreePorts(t, 3))
	cfg := appEnv(t, run("cluster"))
	rdb, err := Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := New(rdb)
	waitUntil(t, "the cluster to take writes", func() bool {
		_, _, err := s.CreateReport(context.Background(), newReport("topo", "crack", 32.8, 35.0))
		return err == nil
	})
	deploy.AssertUnchanged(t)
}
