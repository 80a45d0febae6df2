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
func statsDayKey(day string) string       { return "hw:stats:{stats}:day:" + day }
func statsReportersKey(day string) string { return "hw:stats:{stats}:reporters:" + day }

const (
	statsResolutionKey = "hw:stats:{stats}:resolution" // zset: rid -> seconds from report to resolution
	statsAreasKey      = "hw:stats:{stats}:areas"      // zset: ~5 km cell -> reports created
	statsTTL           = 400 * 24 * time.Hour
)

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// areaCell is a 0.05-degree cell (about 5 km) as "lat,lng" of its south-west corner.
func areaCell(lat, lng float64) string {
	return fmt.Sprintf("%.2f,%.2f", math.Floor(lat*20)/20, math.Floor(lng*20)/20)
}

// countCreated records a new report in the statistics.
func (s *Store) countCreated(ctx context.Context, r *Report) {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		statsCreated(ctx, p, r)
		return nil
	})
	if err != nil {
		logger.Warn("statistics not updated", "err", err)
	}
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

// countTransition records a status change (and the time to resolution).
func (s *Store) countTransition(ctx context.Context, r *Report, at time.Time) {
	d := day(at)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, statsDayKey(d), "status:"+string(r.Status), 1)
		p.Expire(ctx, statsDayKey(d), statsTTL)
		if r.Status == hazard.Resolved {
			p.ZAdd(ctx, statsResolutionKey, redis.Z{Score: at.Sub(r.CreatedAt).Seconds(), Member: r.ID})
		} else {
			p.ZRem(ctx, statsResolutionKey, r.ID) // reopened: no longer resolved
		}
		return nil
	})
	if err != nil {
		logger.Warn("statistics not updated", "err", err)
	}
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
		pending = p.ZCard(ctx, statusIndexKey(string(hazard.Pending)))
		open = p.ZCard(ctx, statusIndexKey(string(hazard.Open)))
		inProgress = p.ZCard(ctx, statusIndexKey(string(hazard.InProgress)))
		resolved = p.ZCard(ctx, statusIndexKey(string(hazard.Resolved)))
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
