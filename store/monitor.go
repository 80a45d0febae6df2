package store

import (
	"context"
	"fmt"
	"strings"
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
}

// InfoFields are the INFO fields the system page and /metrics use.
var InfoFields = []string{
	"redis_version", "role", "connected_slaves", "master_link_status", "master_host",
	"used_memory", "used_memory_human", "maxmemory", "maxmemory_human", "maxmemory_policy",
	"aof_enabled", "aof_last_write_status", "aof_delayed_fsync", "rdb_last_bgsave_status", "rdb_last_save_time",
	"rdb_changes_since_last_save", "connected_clients", "instantaneous_ops_per_sec", "total_commands_processed",
	"evicted_keys", "keyspace_hits", "keyspace_misses", "uptime_in_seconds",
}

// Info returns the selected INFO fields.
func (m *Monitor) Info(ctx context.Context) (map[string]string, error) {
	raw, err := m.rdb.Info(ctx, "server", "replication", "memory", "persistence", "clients", "stats").Result()
	if err != nil {
		return nil, fmt.Errorf("store: INFO: %w", err)
	}
	want := map[string]bool{}
	for _, f := range InfoFields {
		want[f] = true
	}
	out := map[string]string{}
	for _, line := range strings.Split(raw, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && want[k] {
			out[k] = v
		}
	}
	return out, nil
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
