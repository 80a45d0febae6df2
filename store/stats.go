package store

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// Statistics are kept at write time so the stats page never reads reports. All keys share the
// {stats} hash tag: PFCOUNT over several days needs them in one slot, and they are small.

const (
	statsTTL        = 400 * 24 * time.Hour
	statsAppliedTTL = 30 * 24 * time.Hour // how long an event id is remembered as counted
)

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// areaCell is a 0.05-degree cell (about 5 km) as "lat,lng" of its south-west corner.
func areaCell(lat, lng float64) string {
	return fmt.Sprintf("%.2f,%.2f", math.Floor(lat*20)/20, math.Floor(lng*20)/20)
}

// reportCounts is what one report adds to the statistics, read from its document: what a
// seeded report writes at once and what `redis repair` recounts. The stats worker reaches the
// same numbers change by change from events (ApplyStats); TestStatsAgreeWithThemselves holds the
// two together.
type reportCounts struct {
	days        map[string]map[string]int64 // day -> field -> count
	reporterDay string
	area        string
	now         hazard.Status
	resolution  float64 // seconds to resolution, when resolved (-1: not)
	firstAction float64 // seconds to the first moderator's action (-1: none yet)
}

// countsOf reads a report's counts from its document (false: a report nobody may see yet).
func countsOf(r *Report) (reportCounts, bool) {
	if r.Status == hazard.Unconfirmed {
		return reportCounts{}, false
	}
	c := reportCounts{days: map[string]map[string]int64{}, reporterDay: day(r.CreatedAt), area: areaCell(r.Lat, r.Lng),
		now: r.Status, resolution: -1, firstAction: -1}
	bump := func(d, field string) {
		if c.days[d] == nil {
			c.days[d] = map[string]int64{}
		}
		c.days[d][field]++
	}
	d := day(r.CreatedAt)
	bump(d, "created")
	bump(d, "created:"+r.Type)
	for _, h := range r.History {
		if h.From != "" && h.From != hazard.Unconfirmed && h.From != h.To {
			bump(day(h.At), "status:"+string(h.To))
		}
		if h.Staff {
			bump(day(h.At), "by:"+h.By)
			if c.firstAction < 0 {
				c.firstAction = h.At.Sub(r.CreatedAt).Seconds()
			}
		}
	}
	if r.Status == hazard.Resolved {
		for i := len(r.History) - 1; i >= 0; i-- {
			if r.History[i].To == hazard.Resolved && r.History[i].From != hazard.Resolved {
				c.resolution = r.History[i].At.Sub(r.CreatedAt).Seconds()
				break
			}
		}
	}
	return c, true
}

// statsCreated counts a seeded report (its whole history at once).
func statsCreated(ctx context.Context, p redis.Pipeliner, r *Report) {
	c, ok := countsOf(r)
	if !ok {
		return
	}
	for d, fields := range c.days {
		for f, n := range fields {
			p.HIncrBy(ctx, statsDayKey(d), f, n)
		}
		p.Expire(ctx, statsDayKey(d), statsTTL)
	}
	p.PFAdd(ctx, statsReportersKey(c.reporterDay), r.ReporterID)
	p.Expire(ctx, statsReportersKey(c.reporterDay), statsTTL)
	p.ZIncrBy(ctx, statsAreasKey, 1, c.area)
	p.HIncrBy(ctx, statsNowKey, string(c.now), 1)
	if c.resolution >= 0 {
		p.ZAdd(ctx, statsResolutionKey, redis.Z{Score: c.resolution, Member: r.ID})
	}
	if c.firstAction >= 0 {
		p.ZAddNX(ctx, statsFirstKey, redis.Z{Score: c.firstAction, Member: r.ID})
	}
}

// onceScript runs a list of commands unless the event id is already in the applied set:
// KEYS[1] the applied set, KEYS[2...] the keys the commands touch (one slot); ARGV: event id, the
// set's TTL in seconds, then per command its word count, the command, the index of its key and
// its arguments. It is how an effect keyed by an event happens once under redelivery.
var onceScript = redis.NewScript(`#!lua
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local args = {ARGV[i+1], KEYS[tonumber(ARGV[i+2])]}
  for j = 3, n do args[#args+1] = ARGV[i+j] end
  redis.call(unpack(args))
  i = i + n + 1
end
return 1
`)

// once collects commands for onceScript.
type once struct {
	keys []string
	args []any
}

func newOnce(applied, eid string, ttl time.Duration) *once {
	return &once{keys: []string{applied}, args: []any{eid, int64(ttl.Seconds())}}
}

func (o *once) cmd(name, key string, args ...any) {
	idx := 0
	for i, k := range o.keys {
		if k == key {
			idx = i + 1
		}
	}
	if idx == 0 {
		o.keys = append(o.keys, key)
		idx = len(o.keys)
	}
	o.args = append(o.args, len(args)+2, name, idx)
	o.args = append(o.args, args...)
}

func (s *Store) runOnce(ctx context.Context, o *once) (bool, error) {
	n, err := onceScript.Run(ctx, s.rdb, o.keys, o.args...).Int()
	return n == 1, err
}

// ApplyStats counts one report change in the statistics, once per report version (a
// redelivered event, or a second event of the same change, counts nothing twice): creations per
// day and type, reporters, status changes per day, reports per status now, time to resolution,
// time to the first moderator's action, actions per moderator per day, and the busiest areas.
func (s *Store) ApplyStats(ctx context.Context, e Event) error {
	before, after := e.Markers()
	// Counted once per change (a version), whatever events it has.
	o := newOnce(statsAppliedKey(day(e.At)), e.Report+":"+strconv.FormatInt(e.Version, 10), statsAppliedTTL)
	switch {
	case before.Status == "" && after.mapped(), before.Status == hazard.Unconfirmed && after.mapped():
		// A new report (a guest's once confirmed): counted on the day it was made.
		d := day(after.Created)
		o.cmd("HINCRBY", statsDayKey(d), "created", 1)
		o.cmd("HINCRBY", statsDayKey(d), "created:"+after.Type, 1)
		o.cmd("EXPIRE", statsDayKey(d), int64(statsTTL.Seconds()))
		if e.Actor != "" {
			o.cmd("PFADD", statsReportersKey(d), e.Actor)
			o.cmd("EXPIRE", statsReportersKey(d), int64(statsTTL.Seconds()))
		}
		o.cmd("ZINCRBY", statsAreasKey, 1, areaCell(after.Lat, after.Lng))
		o.cmd("HINCRBY", statsNowKey, string(after.Status), 1)
	case before.mapped() && after.mapped():
		if before.Status != after.Status {
			d := day(e.At)
			o.cmd("HINCRBY", statsDayKey(d), "status:"+string(after.Status), 1)
			o.cmd("EXPIRE", statsDayKey(d), int64(statsTTL.Seconds()))
			o.cmd("HINCRBY", statsNowKey, string(before.Status), -1)
			o.cmd("HINCRBY", statsNowKey, string(after.Status), 1)
			if after.Status == hazard.Resolved {
				o.cmd("ZADD", statsResolutionKey, e.At.Sub(after.Created).Seconds(), e.Report)
			} else {
				o.cmd("ZREM", statsResolutionKey, e.Report) // reopened: no longer resolved
			}
		}
		if a, b := areaCell(before.Lat, before.Lng), areaCell(after.Lat, after.Lng); a != b {
			o.cmd("ZINCRBY", statsAreasKey, -1, a)
			o.cmd("ZINCRBY", statsAreasKey, 1, b)
		}
	}
	if e.Data["staff"] == "1" && after.mapped() {
		d := day(e.At)
		o.cmd("HINCRBY", statsDayKey(d), "by:"+e.Actor, 1)
		o.cmd("EXPIRE", statsDayKey(d), int64(statsTTL.Seconds()))
		o.cmd("ZADD", statsFirstKey, "NX", e.At.Sub(after.Created).Seconds(), e.Report)
	}
	if len(o.keys) == 1 {
		return nil // nothing to count
	}
	if _, err := s.runOnce(ctx, o); err != nil {
		return fmt.Errorf("store: unable to update statistics: %w", err)
	}
	return nil
}

// DayStats is one day's numbers.
type DayStats struct {
	Day       string
	Created   int64
	ByType    map[string]int64
	ByStatus  map[string]int64 // status changes into each status that day
	ByStaff   map[string]int64 // user id -> moderator actions that day
	Reporters int64            // distinct (HyperLogLog)
}

// Stats is what the statistics page shows. The figures over the period are sums of Days, so the
// headline and the table cannot disagree.
type Stats struct {
	Days              []DayStats // oldest first
	Created, Resolved int64      // over the days read: sums of the table's columns
	ByStaff           map[string]int64
	Now               map[hazard.Status]int64 // reports in each status now
	Open              int64                   // active now: pending, open, in progress
	MedianResolve     time.Duration
	Resolutions       int64
	MedianFirstAction time.Duration
	FirstActions      int64 // reports a moderator has acted on
	BusiestAreas      []AreaCount
	Reporters30d      int64
}

// AreaCount is a cell with its number of reports.
type AreaCount struct {
	Lat, Lng float64 // cell centre
	Count    int64
}

// Statistics reads the last n days and the current figures: one pipeline in one slot, reading no
// report.
func (s *Store) Statistics(ctx context.Context, now time.Time, n int) (*Stats, error) {
	days := make([]string, n)
	for i := range days {
		days[i] = day(now.AddDate(0, 0, i-n+1))
	}
	hashes := make([]*redis.MapStringStringCmd, n)
	hlls := make([]*redis.IntCmd, n)
	var all, resCount, firstCount *redis.IntCmd
	var areas *redis.ZSliceCmd
	var current *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		keys := make([]string, n)
		for i, d := range days {
			hashes[i] = p.HGetAll(ctx, statsDayKey(d))
			hlls[i] = p.PFCount(ctx, statsReportersKey(d))
			keys[i] = statsReportersKey(d)
		}
		all = p.PFCount(ctx, keys...)
		resCount = p.ZCard(ctx, statsResolutionKey)
		firstCount = p.ZCard(ctx, statsFirstKey)
		areas = p.ZRevRangeWithScores(ctx, statsAreasKey, 0, 9)
		current = p.HGetAll(ctx, statsNowKey)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read statistics: %w", err)
	}
	st := &Stats{Reporters30d: all.Val(), Resolutions: resCount.Val(), FirstActions: firstCount.Val(),
		Now: map[hazard.Status]int64{}, ByStaff: map[string]int64{}}
	for k, v := range current.Val() {
		c, _ := strconv.ParseInt(v, 10, 64)
		st.Now[hazard.Status(k)] = c
		if hazard.Status(k).Active() {
			st.Open += c
		}
	}
	for i, d := range days {
		ds := DayStats{Day: d, ByType: map[string]int64{}, ByStatus: map[string]int64{}, ByStaff: map[string]int64{}, Reporters: hlls[i].Val()}
		for k, v := range hashes[i].Val() {
			c, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case k == "created":
				ds.Created = c
			case strings.HasPrefix(k, "created:"):
				ds.ByType[strings.TrimPrefix(k, "created:")] = c
			case strings.HasPrefix(k, "status:"):
				ds.ByStatus[strings.TrimPrefix(k, "status:")] = c
			case strings.HasPrefix(k, "by:"):
				ds.ByStaff[strings.TrimPrefix(k, "by:")] = c
				st.ByStaff[strings.TrimPrefix(k, "by:")] += c
			}
		}
		st.Created += ds.Created
		st.Resolved += ds.ByStatus[string(hazard.Resolved)]
		st.Days = append(st.Days, ds)
	}
	median := func(key string, count int64) time.Duration {
		if count == 0 {
			return 0
		}
		mid, err := s.rdb.ZRangeWithScores(ctx, key, count/2, count/2).Result()
		if err != nil || len(mid) != 1 {
			return 0
		}
		return time.Duration(mid[0].Score * float64(time.Second))
	}
	st.MedianResolve = median(statsResolutionKey, st.Resolutions)
	st.MedianFirstAction = median(statsFirstKey, st.FirstActions)
	for _, z := range areas.Val() {
		var lat, lng float64
		if _, err := fmt.Sscanf(z.Member.(string), "%f,%f", &lat, &lng); err == nil {
			st.BusiestAreas = append(st.BusiestAreas, AreaCount{Lat: lat + 0.025, Lng: lng + 0.025, Count: int64(z.Score)})
		}
	}
	sort.SliceStable(st.BusiestAreas, func(i, j int) bool { return st.BusiestAreas[i].Count > st.BusiestAreas[j].Count })
	return st, nil
}
