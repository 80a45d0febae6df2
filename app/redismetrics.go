package app

import (
	"context"
	"strconv"
	"strings"
	"time"

	"hazardwatch/metrics"
	"hazardwatch/store"
)

// Redis server health for /metrics, read at every scrape through the monitoring connection (one
// INFO and one LATENCY LATEST per node). Every series has a node label: the server's address, or
// "primary" behind Sentinel. deploy/prometheus/alerts.yml alerts on these names.
var redisSpecs = []metrics.Spec{
	{Name: "hazardwatch_redis_info_ok", Help: "1 when every Redis node answered INFO at this scrape, 0 otherwise.", Kind: "gauge"},
	{Name: "hazardwatch_redis_primary", Help: "1 for a primary (master), 0 for a replica.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_connected_replicas", Help: "Replicas connected to this primary.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_replica_lag_seconds", Help: "Seconds since each replica last acknowledged replication, as its primary sees it.", Kind: "gauge", Labels: []string{"node", "replica"}},
	{Name: "hazardwatch_redis_master_link_up", Help: "On a replica: 1 while its link to the primary is up.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_used_memory_bytes", Help: "Memory Redis uses for data and itself (used_memory).", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_maxmemory_bytes", Help: "The memory limit (maxmemory); 0 means none.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_memory_headroom_bytes", Help: "maxmemory minus used_memory: what is left before writes are refused (absent without a limit).", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_connected_clients", Help: "Client connections.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_blocked_clients", Help: "Clients waiting in a blocking command (XREADGROUP BLOCK, ...).", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_ops_per_second", Help: "Commands per second, Redis's instantaneous figure.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_aof_enabled", Help: "1 when the append-only file is on.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_aof_last_write_ok", Help: "1 when the last write to the append-only file succeeded.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_rdb_last_bgsave_ok", Help: "1 when the last snapshot (BGSAVE) succeeded.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_last_save_age_seconds", Help: "Seconds since the last successful snapshot.", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_changes_since_last_save", Help: "Writes not yet in a snapshot (rdb_changes_since_last_save).", Kind: "gauge", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_evicted_keys_total", Help: "Keys evicted at the memory limit (must stay 0 on the data instance).", Kind: "counter", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_expired_keys_total", Help: "Keys removed by their TTL.", Kind: "counter", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_keyspace_hits_total", Help: "Key lookups that found the key.", Kind: "counter", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_keyspace_misses_total", Help: "Key lookups that found nothing.", Kind: "counter", Labels: []string{"node"}},
	{Name: "hazardwatch_redis_latency_latest_seconds", Help: "LATENCY LATEST: the latest spike of each event over latency-monitor-threshold.", Kind: "gauge", Labels: []string{"node", "event"}},
	{Name: "hazardwatch_redis_latency_max_seconds", Help: "LATENCY LATEST: the worst spike of each event since the server started.", Kind: "gauge", Labels: []string{"node", "event"}},
}

// infoGauges maps plain numeric INFO fields to their families.
var infoGauges = map[string]string{
	"connected_slaves":            "hazardwatch_redis_connected_replicas",
	"used_memory":                 "hazardwatch_redis_used_memory_bytes",
	"maxmemory":                   "hazardwatch_redis_maxmemory_bytes",
	"connected_clients":           "hazardwatch_redis_connected_clients",
	"blocked_clients":             "hazardwatch_redis_blocked_clients",
	"instantaneous_ops_per_sec":   "hazardwatch_redis_ops_per_second",
	"aof_enabled":                 "hazardwatch_redis_aof_enabled",
	"rdb_changes_since_last_save": "hazardwatch_redis_changes_since_last_save",
	"evicted_keys":                "hazardwatch_redis_evicted_keys_total",
	"expired_keys":                "hazardwatch_redis_expired_keys_total",
	"keyspace_hits":               "hazardwatch_redis_keyspace_hits_total",
	"keyspace_misses":             "hazardwatch_redis_keyspace_misses_total",
}

func registerRedisMetrics(reg *metrics.Registry, mon *store.Monitor) {
	reg.NewGroup(redisSpecs, func() map[string]map[string]float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		nodes, err := mon.Nodes(ctx)
		return redisFigures(nodes, err, time.Now())
	})
}

// redisFigures turns the nodes' INFO into the families' values.
func redisFigures(nodes []store.NodeHealth, err error, now time.Time) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	set := func(name, key string, v float64) {
		if out[name] == nil {
			out[name] = map[string]float64{}
		}
		out[name][key] = v
	}
	set("hazardwatch_redis_info_ok", "", boolFigure(err == nil))
	num := func(info map[string]string, f string) (float64, bool) {
		v, err := strconv.ParseFloat(info[f], 64)
		return v, err == nil
	}
	for _, n := range nodes {
		if n.Info == nil {
			continue
		}
		for field, name := range infoGauges {
			if v, ok := num(n.Info, field); ok {
				set(name, n.Node, v)
			}
		}
		primary := n.Info["role"] == "master"
		set("hazardwatch_redis_primary", n.Node, boolFigure(primary))
		if !primary {
			set("hazardwatch_redis_master_link_up", n.Node, boolFigure(n.Info["master_link_status"] == "up"))
		}
		// slaveN:ip=10.0.0.2,port=6379,state=online,offset=123,lag=0
		for k, v := range n.Info {
			if !strings.HasPrefix(k, "slave") || !strings.Contains(v, "lag=") {
				continue
			}
			f := map[string]string{}
			for _, kv := range strings.Split(v, ",") {
				if a, b, ok := strings.Cut(kv, "="); ok {
					f[a] = b
				}
			}
			if lag, err := strconv.ParseFloat(f["lag"], 64); err == nil {
				set("hazardwatch_redis_replica_lag_seconds", n.Node+"\x00"+f["ip"]+":"+f["port"], lag)
			}
		}
		if used, ok := num(n.Info, "used_memory"); ok {
			if limit, ok := num(n.Info, "maxmemory"); ok && limit > 0 {
				set("hazardwatch_redis_memory_headroom_bytes", n.Node, limit-used)
			}
		}
		if _, ok := n.Info["aof_last_write_status"]; ok {
			set("hazardwatch_redis_aof_last_write_ok", n.Node, boolFigure(n.Info["aof_last_write_status"] == "ok"))
		}
		if _, ok := n.Info["rdb_last_bgsave_status"]; ok {
			set("hazardwatch_redis_rdb_last_bgsave_ok", n.Node, boolFigure(n.Info["rdb_last_bgsave_status"] == "ok"))
		}
		if at, ok := num(n.Info, "rdb_last_save_time"); ok {
			set("hazardwatch_redis_last_save_age_seconds", n.Node, now.Sub(time.Unix(int64(at), 0)).Seconds())
		}
		for _, l := range n.Latency {
			set("hazardwatch_redis_latency_latest_seconds", n.Node+"\x00"+l.Name, l.Latest.Seconds())
			set("hazardwatch_redis_latency_max_seconds", n.Node+"\x00"+l.Name, l.Max.Seconds())
		}
	}
	return out
}

func boolFigure(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
