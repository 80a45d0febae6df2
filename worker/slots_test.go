package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/mapview"
	"hazardwatch/store"
)

// BenchmarkSlotLoad measures what each Redis Cluster slot takes (issue 14: global indexes that
// sit on one slot must be measured at the target load). It counts every command's keys by slot
// while reports are made and approved (with the workers consuming their events) and while the
// map, lists and report pages are read, then scales both to a target of 20 writes and 1,000
// reads a second. Run: go test ./worker -run x -bench SlotLoad -benchtime 1x
func BenchmarkSlotLoad(b *testing.B) {
	for i := 0; i < b.N; i++ {
		slotLoad(b)
	}
}

type slotCounter struct {
	mu     sync.Mutex
	phase  string
	counts map[string]map[int]int      // phase -> slot -> commands
	keys   map[int]map[string]struct{} // slot -> key families seen there
}

func (c *slotCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *slotCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.count(cmd); return next(ctx, cmd) }
}
func (c *slotCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *slotCounter) count(cmd redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range cmdKeys(cmd.Args()) {
		s := keySlot(k)
		c.counts[c.phase][s]++
		if c.keys[s] == nil {
			c.keys[s] = map[string]struct{}{}
		}
		c.keys[s][family(k)] = struct{}{}
	}
}

// cmdKeys is the keys a command names, for the commands the app sends.
func cmdKeys(args []any) []string {
	str := func(i int) string { s, _ := args[i].(string); return s }
	if len(args) < 2 {
		return nil
	}
	switch strings.ToLower(str(0)) {
	case "evalsha", "eval":
		n := 0
		fmt.Sscan(fmt.Sprint(args[2]), &n)
		var out []string
		for i := 0; i < n && 3+i < len(args); i++ {
			out = append(out, str(3+i))
		}
		return out
	case "xreadgroup":
		for i, a := range args {
			if s, _ := a.(string); strings.EqualFold(s, "streams") {
				return []string{str(i + 1)}
			}
		}
		return nil
	case "ping", "hello", "client", "cluster", "info", "multi", "exec", "script", "auth", "select":
		return nil
	}
	return []string{str(1)}
}

// family is a key with its ids replaced, for the table.
func family(k string) string {
	parts := strings.Split(k, ":")
	for i, p := range parts {
		if len(p) >= 12 || strings.HasPrefix(p, "{") && len(p) > 8 {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ":")
}

// keySlot is Redis Cluster's slot of a key: CRC16 (XMODEM) of its hash tag, mod 16384.
func keySlot(k string) int {
	if s := strings.IndexByte(k, '{'); s >= 0 {
		if e := strings.IndexByte(k[s+1:], '}'); e > 0 {
			k = k[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(k); i++ {
		crc ^= uint16(k[i]) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

func slotLoad(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	c := &slotCounter{counts: map[string]map[int]int{"write": {}, "read": {}}, keys: map[int]map[string]struct{}{}}
	e.st.Client().AddHook(c)
	rng := rand.New(rand.NewPCG(1, 2))
	// A city's worth of reports already there, so reads meet realistic indexes.
	var seed []*store.Report
	now := time.Now().UTC()
	for i := 0; i < 20000; i++ {
		at := now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)
		seed = append(seed, &store.Report{ID: store.NewReportID(), Type: hazard.Types[rng.IntN(len(hazard.Types))].Code, Severity: "medium",
			Description: "Seeded hazard by the road", Lat: 32.75 + rng.Float64()*0.1, Lng: 34.95 + rng.Float64()*0.1,
			Status: hazard.ActiveStatuses[rng.IntN(3)], ReporterID: fmt.Sprint("user", rng.IntN(500)), CreatedAt: at, UpdatedAt: at})
	}
	c.phase = "seed"
	c.counts["seed"] = map[int]int{}
	for i := 0; i < len(seed); i += 1000 {
		if err := e.st.SeedReports(ctx, seed[i:i+1000]); err != nil {
			b.Fatal(err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	e.deps.Tuning.SweepEvery = time.Hour
	wait := Start(wctx, e.deps)
	defer func() { stop(); wait() }()

	// Writes: a report made, then approved (two commits, their events, every consumer).
	c.mu.Lock()
	c.phase = "write"
	c.mu.Unlock()
	const writes = 200
	mod := lifecycle.Actor{ID: "mod0000000000000", Role: store.RoleModerator}
	for i := 0; i < writes/2; i++ {
		r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: fmt.Sprint("user", i), Type: "pothole", Severity: "high",
			Description: "A deep pothole", Lat: 32.75 + rng.Float64()*0.1, Lng: 34.95 + rng.Float64()*0.1, HasPlace: true, AllowClose: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.life.Transition(ctx, mod, r.ID, r.Version, hazard.Approve, "", ""); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		idle := true
		for _, cons := range Consumers(e.deps) {
			lag, pending, err := e.st.StreamLag(ctx, store.EventsStream, cons.Group)
			idle = idle && err == nil && lag == 0 && pending == 0
		}
		if idle {
			break
		}
	}
	stop()
	wait()

	// Reads: map views from street to city, the default list, report pages.
	c.mu.Lock()
	c.phase = "read"
	c.mu.Unlock()
	m := mapview.New(e.st)
	const reads = 1000
	for i := 0; i < reads; i++ {
		switch i % 10 {
		case 0:
			if _, err := e.st.List(ctx, store.ListQuery{Statuses: hazard.ActiveStatuses, Limit: 20}); err != nil {
				b.Fatal(err)
			}
		case 1, 2:
			if _, err := e.st.Report(ctx, seed[rng.IntN(len(seed))].ID); err != nil {
				b.Fatal(err)
			}
		default:
			zoom := 11 + rng.IntN(6)
			span := 0.4 / float64(int(1)<<(zoom-11))
			lat, lng := 32.75+rng.Float64()*0.1, 34.95+rng.Float64()*0.1
			q := mapview.Query{Box: store.BBox{MinLng: lng - span, MinLat: lat - span/2, MaxLng: lng + span, MaxLat: lat + span/2},
				Zoom: zoom, HasZoom: true, Statuses: hazard.ActiveStatuses}
			if _, err := m.Features(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	}

	// At the target load, what does each slot take?
	const writeRate, readRate = 20.0, 1000.0
	type row struct {
		slot     int
		perSec   float64
		families []string
	}
	var rows []row
	total := 0.0
	for s := range c.keys {
		ops := float64(c.counts["write"][s])/writes*writeRate + float64(c.counts["read"][s])/reads*readRate
		if ops == 0 {
			continue
		}
		total += ops
		var fams []string
		for f := range c.keys[s] {
			fams = append(fams, f)
		}
		slices.Sort(fams)
		if len(fams) > 3 {
			fams = append(fams[:3], "...")
		}
		rows = append(rows, row{s, ops, fams})
	}
	slices.SortFunc(rows, func(a, b row) int { return int(b.perSec*1000 - a.perSec*1000) })
	b.Logf("at %v writes/s and %v reads/s: %.0f key operations/s over %d slots", writeRate, readRate, total, len(rows))
	for _, r := range rows[:min(12, len(rows))] {
		b.Logf("slot %5d  %7.0f ops/s  %4.1f%%  %s", r.slot, r.perSec, 100*r.perSec/total, strings.Join(r.families, " "))
	}
	b.ReportMetric(rows[0].perSec, "hottest-slot-ops/s")
	b.ReportMetric(100*rows[0].perSec/total, "hottest-slot-%")
}
