package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Monitor reads server health (INFO, SLOWLOG) over its own connection, so the app's
// least-privilege Redis user needs neither: production gives it a monitoring ACL user
// (MONITOR_REDIS_URL).
type Monitor struct {
	rdb  redis.UniversalClient
	data *Store // for key family sizes, read through the app's own indexes
}

// NewMonitor wraps the monitoring connection.
func NewMonitor(rdb redis.UniversalClient, data *Store) *Monitor {
	return &Monitor{rdb: rdb, data: data}
}

// Health is what /admin/system shows.
type Health struct {
	Info     map[string]string // selected INFO fields
	SlowLog  []redis.SlowLog
	Families map[string]int64 // key families by their index sizes
	// Redis's own reading of its latency events and memory (LATENCY DOCTOR, MEMORY DOCTOR).
	LatencyDoctor, MemoryDoctor string
}

// InfoFields are the INFO fields the system page shows.
var InfoFields = []string{
	"redis_version", "role", "connected_slaves", "master_link_status", "master_host", "master_last_io_seconds_ago",
	"used_memory", "used_memory_human", "maxmemory", "maxmemory_human", "maxmemory_policy", "mem_fragmentation_ratio",
	"aof_enabled", "aof_last_write_status", "aof_delayed_fsync", "rdb_last_bgsave_status", "rdb_last_save_time",
	"rdb_changes_since_last_save", "connected_clients", "blocked_clients", "instantaneous_ops_per_sec", "total_commands_processed",
	"evicted_keys", "expired_keys", "keyspace_hits", "keyspace_misses", "uptime_in_seconds",
}

var infoSections = []string{"server", "replication", "memory", "persistence", "clients", "stats"}

// Info returns the selected INFO fields.
func (m *Monitor) Info(ctx context.Context) (map[string]string, error) {
	raw, err := m.rdb.Info(ctx, infoSections...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: INFO: %w", err)
	}
	all := parseInfo(raw)
	out := map[string]string{}
	for _, f := range InfoFields {
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	return out, nil
}

func parseInfo(raw string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(raw, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// NodeHealth is one server's figures for /metrics.
type NodeHealth struct {
	Node    string            // its address ("primary" behind Sentinel, which may move it)
	Info    map[string]string // every field of the INFO sections read
	Latency []redis.Latency   // LATENCY LATEST: events over latency-monitor-threshold
}

// Nodes reads INFO and LATENCY LATEST from every server the monitoring connection reaches: the
// one server, the Sentinel group's current primary (which reports its replicas' lag), or each
// node of a Cluster, masters and replicas.
func (m *Monitor) Nodes(ctx context.Context) ([]NodeHealth, error) {
	read := func(ctx context.Context, c *redis.Client) (NodeHealth, error) {
		n := NodeHealth{Node: c.Options().Addr}
		if n.Node == "FailoverClient" { // go-redis's name for the Sentinel-managed connection
			n.Node = "primary"
		}
		var info *redis.StringCmd
		var lat *redis.LatencyCmd
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			info = p.Info(ctx, infoSections...)
			lat = p.Latency(ctx)
			return nil
		}); err != nil {
			return n, fmt.Errorf("store: INFO from %s: %w", n.Node, err)
		}
		n.Info, n.Latency = parseInfo(info.Val()), lat.Val()
		return n, nil
	}
	switch c := m.rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		var out []NodeHealth
		err := c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := read(ctx, node)
			mu.Lock()
			out = append(out, n)
			mu.Unlock()
			return err
		})
		sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
		return out, err
	case *redis.Client:
		n, err := read(ctx, c)
		if err != nil {
			return nil, err
		}
		return []NodeHealth{n}, nil
	}
	return nil, fmt.Errorf("store: monitoring over %T is not supported", m.rdb)
}

// Health gathers INFO, the slow log and key family sizes.
func (m *Monitor) Health(ctx context.Context) (*Health, error) {
	info, err := m.Info(ctx)
	if err != nil {
		return nil, err
	}
	h := &Health{Info: info, Families: map[string]int64{}}
	if h.SlowLog, err = m.rdb.SlowLogGet(ctx, 10).Result(); err != nil {
		return nil, fmt.Errorf("store: SLOWLOG: %w", err)
	}
	if h.LatencyDoctor, err = m.rdb.Do(ctx, "LATENCY", "DOCTOR").Text(); err != nil {
		return nil, fmt.Errorf("store: LATENCY DOCTOR: %w", err)
	}
	if h.MemoryDoctor, err = m.rdb.Do(ctx, "MEMORY", "DOCTOR").Text(); err != nil {
		return nil, fmt.Errorf("store: MEMORY DOCTOR: %w", err)
	}
	counts := map[string]*redis.IntCmd{}
	_, err = m.data.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		counts["users (hw:user:*)"] = p.ZCard(ctx, usersKey)
		counts["reports (hw:report:*)"] = p.ZCard(ctx, reportsByTimeKey)
		counts["expiry queue"] = p.ZCard(ctx, expiryKey)
		counts["audit log entries"] = p.XLen(ctx, auditKey)
		counts["queued mails"] = p.XLen(ctx, mailQueueKey)
		counts["API keys"] = p.ZCard(ctx, apiKeysIndex)
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("store: key family sizes: %w", err)
	}
	for k, c := range counts {
		h.Families[k] = c.Val()
	}
	return h, nil
}

// Warnings says what in the server's settings endangers data: an evicting policy on the data
// store, no memory limit (Redis then grows until the kernel kills it), or no persistence at all.
func (m *Monitor) Warnings(ctx context.Context) ([]string, error) {
	info, err := m.Info(ctx)
	if err != nil {
		return nil, err
	}
	var w []string
	if p := info["maxmemory_policy"]; p != "" && p != "noeviction" {
		w = append(w, "maxmemory-policy is "+p+": Redis may evict reports, users and sessions; use noeviction (deploy/redis/primary.conf)")
	}
	if info["maxmemory"] == "0" {
		w = append(w, "maxmemory is not set: Redis grows until the kernel kills it; set a limit (deploy/redis/primary.conf, docs/redis.md) so that a full Redis refuses writes instead")
	}
	if info["aof_enabled"] == "0" && info["rdb_last_save_time"] != "" {
		w = append(w, "the append-only file is off: a crash loses every write since the last snapshot; set appendonly yes")
	}
	return w, nil
}

// Uptime is the server's uptime, for the system page.
func Uptime(info map[string]string) time.Duration {
	var s int64
	fmt.Sscan(info["uptime_in_seconds"], &s)
	return time.Duration(s) * time.Second
}
