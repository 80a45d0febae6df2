package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cluster is a Redis Cluster of masters on loopback.
type Cluster struct {
	Nodes []*Server
}

// Addrs lists the nodes' addresses (the seed list for a cluster client).
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// StartCluster starts n masters (n >= 3) with cluster mode on and joins them with
// redis-cli --cluster create, waiting until the cluster reports ok.
func StartCluster(t TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, Start(t, Options{Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
		}}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, node := range c.Nodes {
			out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", port(node.Addr), "cluster", "info").Output()
			if err != nil || !strings.Contains(string(out), "cluster_state:ok") {
				ok = false
			}
		}
		if ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: the cluster did not become ok")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Sentinel is a primary with replicas watched by sentinels.
type Sentinel struct {
	Primary   *Server
	Replicas  []*Server
	Sentinels []*Server
	Master    string // the master name
}

// Addrs lists the sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	var out []string
	for _, n := range s.Sentinels {
		out = append(out, n.Addr)
	}
	return out
}

// StartSentinel starts a primary, replicas and sentinels (quorum: a majority) on loopback.
func StartSentinel(t TB, replicas, sentinels int) *Sentinel {
	t.Helper()
	// No diskless-sync delay: by default the primary waits 5 s for more replicas before the first
	// sync, and a test would start its load before the replicas have anything.
	s := &Sentinel{Master: "hazardwatch", Primary: Start(t, Options{Args: []string{"--repl-diskless-sync-delay", "0"}})}
	for i := 0; i < replicas; i++ {
		s.Replicas = append(s.Replicas, Start(t, Options{Args: []string{"--replicaof", "127.0.0.1", port(s.Primary.Addr), "--repl-diskless-sync-delay", "0"}}))
	}
	for _, r := range s.Replicas { // wait until every replica is in sync
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, _ := exec.Command("redis-cli", "-p", port(r.Addr), "info", "replication").Output()
			if strings.Contains(string(out), "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: replica %s never synced", r.Addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	quorum := sentinels/2 + 1
	for i := 0; i < sentinels; i++ {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s %d\nsentinel down-after-milliseconds %s 2000\nsentinel failover-timeout %s 10000\nsentinel resolve-hostnames no\n",
			s.Master, port(s.Primary.Addr), quorum, s.Master, s.Master)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.Sentinels = append(s.Sentinels, Start(t, Options{ConfigFile: conf, Sentinel: true}))
	}
	return s
}

func port(addr string) string {
	i := strings.LastIndex(addr, ":")
	if _, err := strconv.Atoi(addr[i+1:]); err != nil {
		return ""
	}
	return addr[i+1:]
}
