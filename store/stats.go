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

func statsCreated(ctx context.Context, p redis.Pipeliner, r *Report) {
	d := day(r.CreatedAt)
	p.HIncrBy(ctx, statsDayKey(d), "created", 1)
	p.HIncrBy(ctx, statsDayKey(d), "created:"+r.Type, 1)
	p.Expire(ctx, statsDayKey(d), statsTTL)
	p.PFAdd(ctx, statsReportersKey(d), r.ReporterID)
	p.Expire(ctx, statsReportersKey(d), statsTTL)
	p.ZIncrBy(ctx, statsAreasKey, 1, areaCell(r.Lat, r.Lng))
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
// redelivered event, or a second event of the same change, counts nothing twice): creations per day and type, reporters, status changes per day, time to
// resolution and the busiest areas.
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
	case before.mapped() && after.mapped():
		if before.Status != after.Status {
			d := day(e.At)
			o.cmd("HINCRBY", statsDayKey(d), "status:"+string(after.Status), 1)
			o.cmd("EXPIRE", statsDayKey(d), int64(statsTTL.Seconds()))
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
	Reporters int64            // distinct (HyperLogLog)
}

// Stats is what the statistics page shows.
type Stats struct {
	Days           []DayStats // oldest first
	Open, Resolved int64      // now
	MedianResolve  time.Duration
	Resolutions    int64
	BusiestAreas   []AreaCount
	Reporters30d   int64
}

// AreaCount is a cell with its number of reports.
type AreaCount struct {
	Lat, Lng float64 // cell centre
	Count    int64
}

// Statistics reads the last n days (one pipeline, one slot).
func (s *Store) Statistics(ctx context.Context, now time.Time, n int) (*Stats, error) {
	days := make([]string, n)
	for i := range days {
		days[i] = day(now.AddDate(0, 0, i-n+1))
	}
	hashes := make([]*redis.MapStringStringCmd, n)
	hlls := make([]*redis.IntCmd, n)
	var all *redis.IntCmd
	var resCount *redis.IntCmd
	var areas *redis.ZSliceCmd
	var open, inProgress, pending, resolved *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		keys := make([]string, n)
		for i, d := range days {
			hashes[i] = p.HGetAll(ctx, statsDayKey(d))
			hlls[i] = p.PFCount(ctx, statsReportersKey(d))
			keys[i] = statsReportersKey(d)
		}
		all = p.PFCount(ctx, keys...)
		resCount = p.ZCard(ctx, statsResolutionKey)
		areas = p.ZRevRangeWithScores(ctx, statsAreasKey, 0, 9)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read statistics: %w", err)
	}
	// Current counts come from the status indexes (other slots: a second pipeline).
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		pending = p.ZCard(ctx, statusIndexKey(hazard.Pending))
		open = p.ZCard(ctx, statusIndexKey(hazard.Open))
		inProgress = p.ZCard(ctx, statusIndexKey(hazard.InProgress))
		resolved = p.ZCard(ctx, statusIndexKey(hazard.Resolved))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to count statuses: %w", err)
	}
	st := &Stats{Open: pending.Val() + open.Val() + inProgress.Val(), Resolved: resolved.Val(), Reporters30d: all.Val(), Resolutions: resCount.Val()}
	for i, d := range days {
		ds := DayStats{Day: d, ByType: map[string]int64{}, ByStatus: map[string]int64{}, Reporters: hlls[i].Val()}
		for k, v := range hashes[i].Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case k == "created":
				ds.Created = n
			case strings.HasPrefix(k, "created:"):
				ds.ByType[strings.TrimPrefix(k, "created:")] = n
			case strings.HasPrefix(k, "status:"):
				ds.ByStatus[strings.TrimPrefix(k, "status:")] = n
			}
		}
		st.Days = append(st.Days, ds)
	}
	if st.Resolutions > 0 {
		mid, err := s.rdb.ZRangeWithScores(ctx, statsResolutionKey, st.Resolutions/2, st.Resolutions/2).Result()
		if err == nil && len(mid) == 1 {
			st.MedianResolve = time.Duration(mid[0].Score * float64(time.Second))
		}
	}
	for _, z := range areas.Val() {
		var lat, lng float64
		if _, err := fmt.Sscanf(z.Member.(string), "%f,%f", &lat, &lng); err == nil {
			st.BusiestAreas = append(st.BusiestAreas, AreaCount{Lat: lat + 0.025, Lng: lng + 0.025, Count: int64(z.Score)})
		}
	}
	sort.SliceStable(st.BusiestAreas, func(i, j int) bool { return st.BusiestAreas[i].Count > st.BusiestAreas[j].Count })
	return st, nil
}
