package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// The map's aggregates: for every other grid level from GridMinLevel to GridMaxLevel (odd ones:
// a level's cells are four times the next one's, so every other level keeps the cells a view
// reads within a factor of four of the ideal, at half the memory), per cell, status
// and type, how many reports there are by severity, the sums of their coordinates (for the
// cluster's centre) and the XOR of their ids (which names the report of a cell that holds just
// one). A zoomed-out map view reads these counts instead of every point. Cells are grouped in
// blocks of 64 x 64 (one hash per block, status and type, all in the block's slot), and the same
// counts are kept per creation day for the last GridDays days, for the map's "reported since" filter.
//
// Counts change by deltas that commute, so concurrent writers need no ordering; each block
// applies an event's delta once (a per-block set of recently applied event ids), so a retried or
// replayed write cannot count twice.
const (
	GridMinLevel = 3  // 8 x 8 cells over the world: the map's zoom 0
	GridMaxLevel = 17 // about 300 m x 150 m: zoom 15
	gridStep     = 2  // levels kept: GridMinLevel, +2, ... GridMaxLevel
	GridDays     = 32 // days of per-day counts kept ("since" reaches back this far, a month and a day)
	blockBits    = 6  // a block is 64 x 64 cells

	gridSeenWindow = 24 * time.Hour // how long a block remembers an applied event id
)

// AnyActive is the aggregates' summed class of the active statuses (pending, open, in
// progress): the default map reads one count per cell instead of three. A cell total read from it
// that holds one report does not know that report's status (CellTotal.Single says AnyActive).
const AnyActive hazard.Status = "active"

// gridClasses are the count hashes a report in status st is counted in.
func gridClasses(st hazard.Status) []hazard.Status {
	if st.Active() {
		return []hazard.Status{st, AnyActive}
	}
	return []hazard.Status{st}
}

// GridLevel is the kept level closest to p from above: the finer one, when p is not kept.
func GridLevel(p int) uint8 {
	p = min(max(p, GridMinLevel), GridMaxLevel)
	if (p-GridMinLevel)%gridStep != 0 {
		p++
	}
	return uint8(p)
}

// CellCount is what the aggregates hold for one cell, status and type (or all types).
type CellCount struct {
	BySeverity [3]int64 // low, medium, high
	SumLat     int64    // sum of latitudes in 1e-5 degrees
	SumLng     int64
	IDs        [3]uint32 // XOR of idWords
}

// N is the number of reports counted.
func (c CellCount) N() int64 { return c.BySeverity[0] + c.BySeverity[1] + c.BySeverity[2] }

// Add folds o into c.
func (c *CellCount) Add(o CellCount) {
	for i := range c.BySeverity {
		c.BySeverity[i] += o.BySeverity[i]
		c.IDs[i] ^= o.IDs[i]
	}
	c.SumLat += o.SumLat
	c.SumLng += o.SumLng
}

// Single names the one report a count holds, when it holds exactly one.
func (c CellCount) Single() (rid, typ string, ok bool) {
	if c.N() != 1 {
		return "", "", false
	}
	return wordsID(c.IDs)
}

// Severity is the highest severity counted ("" for none).
func (c CellCount) Severity() string {
	for i := 2; i >= 0; i-- {
		if c.BySeverity[i] > 0 {
			return hazard.Severities[i].Code
		}
	}
	return ""
}

func severityIndex(code string) int {
	for i, s := range hazard.Severities {
		if s.Code == code {
			return i
		}
	}
	return 0
}

func (c CellCount) encode() string {
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d,%d,%d", c.BySeverity[0], c.BySeverity[1], c.BySeverity[2], c.SumLat, c.SumLng,
		int32(c.IDs[0]), int32(c.IDs[1]), int32(c.IDs[2]))
}

// parseCellCount reads encode's form. A view reads thousands of these, so it scans the digits
// itself rather than splitting (which allocates).
func parseCellCount(s string) (CellCount, bool) {
	var c CellCount
	var v [8]int64
	i := 0
	for k := range v {
		neg := i < len(s) && s[i] == '-'
		if neg {
			i++
		}
		start := i
		var n int64
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n = n*10 + int64(s[i]-'0')
		}
		if i == start || i-start > 18 {
			return c, false
		}
		if neg {
			n = -n
		}
		v[k] = n
		if k < len(v)-1 {
			if i >= len(s) || s[i] != ',' {
				return c, false
			}
			i++
		}
	}
	if i != len(s) {
		return c, false
	}
	c.BySeverity = [3]int64{v[0], v[1], v[2]}
	c.SumLat, c.SumLng = v[3], v[4]
	c.IDs = [3]uint32{uint32(int32(v[5])), uint32(int32(v[6])), uint32(int32(v[7]))}
	return c, true
}

// markerCount is one report's contribution.
func markerCount(rid string, m Marker) CellCount {
	var c CellCount
	c.BySeverity[severityIndex(m.Severity)] = 1
	c.SumLat, c.SumLng = round5(m.Lat), round5(m.Lng)
	c.IDs, _ = idWords(rid, m.Type)
	return c
}

func round5(f float64) int64 {
	if f < 0 {
		return -int64(-f*1e5 + 0.5)
	}
	return int64(f*1e5 + 0.5)
}

func (c CellCount) negate() CellCount {
	return CellCount{BySeverity: [3]int64{-c.BySeverity[0], -c.BySeverity[1], -c.BySeverity[2]}, SumLat: -c.SumLat, SumLng: -c.SumLng, IDs: c.IDs}
}

// typeField is a cell's field for one type: the counts of all types and of each type share the
// block's hash, so a block costs one key per status (and day), not one per type.
func typeField(cell, typ string) string { return cell + ":" + typ }

// block is the hash tag of the block holding a cell, and the cell's field within it.
func block(c Cell) (tag string, field string) {
	return blockTag(blockOf(c)), cellField(c)
}

// blockID names a block: a level and the block's column and row.
type blockID struct {
	p      uint8
	bx, by uint32
}

func blockOf(c Cell) blockID { return blockID{c.P, uint32(c.X >> blockBits), uint32(c.Y >> blockBits)} }

func blockTag(b blockID) string {
	buf := make([]byte, 0, 24)
	buf = strconv.AppendUint(buf, uint64(b.p), 10)
	buf = append(buf, ':')
	buf = strconv.AppendUint(buf, uint64(b.bx), 10)
	buf = append(buf, ':')
	buf = strconv.AppendUint(buf, uint64(b.by), 10)
	return string(buf)
}

// cellField is a cell's field within its block.
func cellField(c Cell) string { return cellFields[cellIndex(c)] }

func cellIndex(c Cell) int { return int(c.X&(1<<blockBits-1) | (c.Y&(1<<blockBits-1))<<blockBits) }

// cellFields and cellFieldArgs name every field of a block once: a city view asks for a thousand
// of them, and would otherwise format and box each one per request.
var cellFields, cellFieldArgs = func() (names [1 << (2 * blockBits)]string, args [1 << (2 * blockBits)]any) {
	for i := range names {
		names[i] = strconv.Itoa(i)
		args[i] = names[i]
	}
	return names, args
}()

func gridDay(t time.Time) string { return t.UTC().Format("20060102") }

// gridOp is one change to one cell of one block hash.
type gridOp struct {
	key, field string
	delta      CellCount
	expireAt   int64 // unix seconds; 0: none (all-time counts)
}

// gridOps lists, per block tag, what moving a report from before to after changes (either may be
// the zero marker: created, or gone from the map).
func gridOps(rid string, before, after Marker, now time.Time) map[string][]gridOp {
	out := map[string][]gridOp{}
	add := func(m Marker, sign bool) {
		if !m.mapped() {
			return
		}
		d := markerCount(rid, m)
		if !sign {
			d = d.negate()
		}
		day := ""
		var exp int64
		if dayStart := m.Created.UTC().Truncate(24 * time.Hour); now.Sub(dayStart) < GridDays*24*time.Hour {
			day, exp = gridDay(m.Created), dayStart.Add((GridDays+1)*24*time.Hour).Unix()
		}
		for p := uint8(GridMinLevel); p <= GridMaxLevel; p += gridStep {
			tag, field := block(CellOf(p, m.Lat, m.Lng))
			ops := out[tag]
			for _, st := range gridClasses(m.Status) {
				ops = append(ops, gridOp{gridKey(tag, st, ""), field, d, 0}, gridOp{gridKey(tag, st, ""), typeField(field, m.Type), d, 0})
				if day != "" {
					ops = append(ops, gridOp{gridKey(tag, st, day), field, d, exp}, gridOp{gridKey(tag, st, day), typeField(field, m.Type), d, exp})
				}
			}
			out[tag] = ops
		}
	}
	if before.Same(after) {
		return out
	}
	add(before, false)
	add(after, true)
	if before.mapped() && after.mapped() {
		// A move between two active statuses in one cell leaves the summed class as it was.
		for tag, ops := range out {
			if out[tag] = mergeOps(ops); len(out[tag]) == 0 {
				delete(out, tag)
			}
		}
	}
	return out
}

// gridScript applies one event's changes to one block, once. KEYS[1] is the block's set of
// applied event ids, KEYS[2...] its hashes; ARGV: event id, now (ms), window (ms), then per change
// the key's index, the field, eight deltas (severity counts, coordinate sums, id words) and an
// expiry time (unix seconds, 0 for none). Id words are XORed, the rest added; a cell whose
// numbers all return to zero is removed.
var gridScript = redis.NewScript(`#!lua
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
for i = 4, #ARGV, 11 do
  local k = KEYS[tonumber(ARGV[i])]
  local f = ARGV[i+1]
  local v = {0, 0, 0, 0, 0, 0, 0, 0}
  local cur = redis.call('HGET', k, f)
  if cur then
    local j = 1
    for n in string.gmatch(cur, '[^,]+') do v[j] = tonumber(n); j = j + 1 end
  end
  for j = 1, 5 do v[j] = v[j] + tonumber(ARGV[i+1+j]) end
  for j = 6, 8 do v[j] = bit.bxor(v[j], tonumber(ARGV[i+1+j])) end
  local zero = true
  for j = 1, 8 do if v[j] ~= 0 then zero = false end end
  if zero then
    redis.call('HDEL', k, f)
  else
    redis.call('HSET', k, f, string.format('%d,%d,%d,%d,%d,%d,%d,%d', v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]))
    local exp = tonumber(ARGV[i+10])
    if exp > 0 then redis.call('EXPIREAT', k, exp) end
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]))
return 1
`)

// applyGrid applies every block's share of an event (one script per block, pipelined: the blocks
// sit in different slots on a cluster).
func (s *Store) applyGrid(ctx context.Context, eid string, byBlock map[string][]gridOp, now time.Time) error {
	if len(byBlock) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for tag, ops := range byBlock {
			keys, args := gridArgs(tag, eid, ops, now)
			gridScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	if err != nil && strings.Contains(err.Error(), "NOSCRIPT") {
		// The script cache is empty after a restart or failover: load once, then again.
		if err := gridScript.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("store: unable to load the grid script: %w", err)
		}
		return s.applyGrid(ctx, eid, byBlock, now)
	}
	if err != nil {
		return fmt.Errorf("store: unable to update the map's counts: %w", err)
	}
	return nil
}

func gridArgs(tag, eid string, ops []gridOp, now time.Time) ([]string, []any) {
	keys := []string{gridSeenKey(tag)}
	index := map[string]int{}
	args := []any{eid, now.UnixMilli(), gridSeenWindow.Milliseconds()}
	for _, op := range ops {
		i, ok := index[op.key]
		if !ok {
			keys = append(keys, op.key)
			i = len(keys)
			index[op.key] = i
		}
		d := op.delta
		args = append(args, i, op.field, d.BySeverity[0], d.BySeverity[1], d.BySeverity[2], d.SumLat, d.SumLng,
			int32(d.IDs[0]), int32(d.IDs[1]), int32(d.IDs[2]), op.expireAt)
	}
	return keys, args
}

// mergeOps sums the ops that change the same field of the same key, leaving out those that
// cancel.
func mergeOps(ops []gridOp) []gridOp {
	type kf struct{ key, field string }
	at := map[kf]int{}
	var out []gridOp
	for _, op := range ops {
		if i, ok := at[kf{op.key, op.field}]; ok {
			out[i].delta.Add(op.delta)
			out[i].expireAt = max(out[i].expireAt, op.expireAt)
			continue
		}
		at[kf{op.key, op.field}] = len(out)
		out = append(out, op)
	}
	return slices.DeleteFunc(out, func(op gridOp) bool { return op.delta == CellCount{} })
}

// GridQuery selects which counts to read: statuses, types (none: all), and days (none: all time).
type GridQuery struct {
	Statuses []hazard.Status
	Types    []string
	Days     []string // creation days as gridDay formats them
}

// CellCounts are one cell's counts per status (summed over the query's types and days).
type CellCounts map[hazard.Status]CellCount

// Total sums the statuses.
func (cc CellCounts) Total() CellCount {
	var t CellCount
	for _, c := range cc {
		t.Add(c)
	}
	return t
}

// GridCounts reads the counts of cells (of one level or several) for the query's statuses,
// summed over its types and days, in one pipeline. Cells without reports are left out.
func (s *Store) GridCounts(ctx context.Context, cells []Cell, q GridQuery) (map[Cell]CellCounts, error) {
	out := map[Cell]CellCounts{}
	err := s.gridRead(ctx, cells, q, func(i int, st hazard.Status, cc CellCount) {
		c := cells[i]
		if out[c] == nil {
			out[c] = CellCounts{}
		}
		sum := out[c][st]
		sum.Add(cc)
		out[c][st] = sum
	})
	if err != nil {
		return nil, err
	}
	for c, byStatus := range out {
		for st, cc := range byStatus {
			if cc.N() <= 0 {
				delete(byStatus, st)
			}
		}
		if len(byStatus) == 0 {
			delete(out, c)
		}
	}
	return out, nil
}

// CellTotal is one cell's counts summed over the query's statuses, and the status of its one
// report when it holds exactly one.
type CellTotal struct {
	CellCount
	Single hazard.Status
}

// GridTotals is GridCounts summed over the statuses, in the order of cells (a zero count for a
// cell without reports): what a map view needs, without a map per cell.
func (s *Store) GridTotals(ctx context.Context, cells []Cell, q GridQuery) ([]CellTotal, error) {
	out := make([]CellTotal, len(cells))
	if sameStatuses(q.Statuses, hazard.ActiveStatuses) && s.activeClassReady(ctx) {
		q.Statuses = []hazard.Status{AnyActive}
	}
	err := s.gridRead(ctx, cells, q, func(i int, st hazard.Status, cc CellCount) {
		if cc.N() > 0 { // counts are never negative: a total of one came from one status
			out[i].Add(cc)
			out[i].Single = st
		}
	})
	for i := range out {
		if out[i].N() != 1 {
			out[i].Single = ""
		}
	}
	return out, err
}

// gridRead reads the query's counts of cells and hands each (cell index, status, count) to add.
func (s *Store) gridRead(ctx context.Context, cells []Cell, q GridQuery, add func(i int, st hazard.Status, cc CellCount)) error {
	type read struct {
		tag    string
		status hazard.Status
		cmd    *redis.SliceCmd
	}
	// Per block, the fields to read and the cell each belongs to.
	byTag := map[string][]int{}
	fields := map[string][]any{}
	var order []string
	tags := map[blockID]string{} // a view's cells share a few blocks: name each once
	for i, c := range cells {
		id := blockOf(c)
		tag, ok := tags[id]
		if !ok {
			tag = blockTag(id)
			tags[id] = tag
			order = append(order, tag)
		}
		if len(q.Types) == 0 {
			byTag[tag] = append(byTag[tag], i)
			fields[tag] = append(fields[tag], cellFieldArgs[cellIndex(c)])
			continue
		}
		for _, t := range q.Types {
			byTag[tag] = append(byTag[tag], i)
			fields[tag] = append(fields[tag], typeField(cellField(c), t))
		}
	}
	days := q.Days
	if len(days) == 0 {
		days = []string{""}
	}
	var reads []read
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, tag := range order {
			for _, st := range q.Statuses {
				for _, d := range days {
					cmd := redis.NewSliceCmd(ctx, append([]any{"hmget", gridKey(tag, st, d)}, fields[tag]...)...)
					reads = append(reads, read{tag, st, cmd})
					_ = p.Process(ctx, cmd)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to read the map's counts: %w", err)
	}
	for _, r := range reads {
		for i, v := range r.cmd.Val() {
			str, ok := v.(string)
			if !ok {
				continue
			}
			if cc, ok := parseCellCount(str); ok {
				add(byTag[r.tag][i], r.status, cc)
			}
		}
	}
	return nil
}

// sameStatuses says whether a and b hold the same statuses.
func sameStatuses(a, b []hazard.Status) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(st hazard.Status) bool { return !slices.Contains(b, st) })
}

// activeClassReady says whether the summed active class counts every report: it does when it
// has been kept since the database was empty (the first process to find no reports marks it) or
// since `redis repair` rebuilt the grid; data from before it existed is read status by status
// until then. The answer is asked of Redis at most once a minute.
func (s *Store) activeClassReady(ctx context.Context) bool {
	if s.activeReady.Load() {
		return true
	}
	now := time.Now().UnixNano()
	if last := s.activeChecked.Load(); last != 0 && now-last < int64(time.Minute) || !s.activeChecked.CompareAndSwap(last, now) {
		return false
	}
	n, err := s.rdb.Exists(ctx, gridActiveReadyKey).Result()
	if err == nil && n == 0 {
		var reports int64
		if reports, err = s.rdb.ZCard(ctx, reportsByTimeKey).Result(); err == nil && reports == 0 {
			n, err = 1, s.markActiveClass(ctx)
		}
	}
	ok := err == nil && n > 0
	s.activeReady.Store(ok)
	return ok
}

func (s *Store) markActiveClass(ctx context.Context) error {
	return s.rdb.SetNX(ctx, gridActiveReadyKey, time.Now().UTC().Format(time.RFC3339), 0).Err()
}

// GridDaysSince lists the creation days from since's day to today, for GridQuery.Days, and
// whether since's own day starts before since (so part of it must be counted point by point).
// It fails when since is further back than the per-day counts reach.
func GridDaysSince(since, now time.Time) (days []string, partial bool, err error) {
	start := since.UTC().Truncate(24 * time.Hour)
	if now.Sub(start) >= GridDays*24*time.Hour {
		return nil, false, fmt.Errorf("store: per-day counts reach back %d days", GridDays)
	}
	for d := start; !d.After(now); d = d.Add(24 * time.Hour) {
		days = append(days, gridDay(d))
	}
	return days, !since.UTC().Equal(start), nil
}

// RebuildGrid recomputes every count from the reports given (all of them, from Repair or a test)
// and writes them, replacing what was there. Writes made while it runs can be lost, so it is an
// operator's tool, like Repair.
func (s *Store) RebuildGrid(ctx context.Context, reports []*Report, keys []string, now time.Time) error {
	if keys == nil {
		var err error
		if keys, err = s.gridKeys(ctx); err != nil {
			return err
		}
	}
	for start := 0; start < len(keys); start += 500 {
		if err := s.delEach(ctx, keys[start:min(start+500, len(keys))]); err != nil {
			return err
		}
	}
	counts := map[string]map[string]CellCount{}
	expires := map[string]int64{}
	points := map[string]map[string][]string{}
	for _, r := range reports {
		if m := MarkerOf(r); m.mapped() {
			k, f := cellOf(m)
			if points[k] == nil {
				points[k] = map[string][]string{}
			}
			points[k][f] = append(points[k][f], r.ID+","+m.String())
		}
		for _, ops := range gridOps(r.ID, Marker{}, MarkerOf(r), now) {
			for _, op := range ops {
				m := counts[op.key]
				if m == nil {
					m = map[string]CellCount{}
					counts[op.key] = m
				}
				c := m[op.field]
				c.Add(op.delta)
				m[op.field] = c
				if op.expireAt > 0 {
					expires[op.key] = op.expireAt
				}
			}
		}
	}
	if err := s.writeCounts(ctx, counts, expires); err != nil {
		return err
	}
	if err := s.markActiveClass(ctx); err != nil {
		return fmt.Errorf("store: unable to mark the map's counts rebuilt: %w", err)
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, cells := range points {
			vals := make([]any, 0, 2*len(cells))
			for f, entries := range cells {
				vals = append(vals, f, strings.Join(entries, "|"))
			}
			p.HSet(ctx, k, vals...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to write the map's cells: %w", err)
	}
	return nil
}

func (s *Store) writeCounts(ctx context.Context, counts map[string]map[string]CellCount, expires map[string]int64) error {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	for start := 0; start < len(keys); start += 200 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[start:min(start+200, len(keys))] {
				vals := make([]any, 0, 2*len(counts[k]))
				for f, c := range counts[k] {
					vals = append(vals, f, c.encode())
				}
				p.HSet(ctx, k, vals...)
				if e := expires[k]; e > 0 {
					p.ExpireAt(ctx, k, time.Unix(e, 0))
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: unable to write the map's counts: %w", err)
		}
	}
	return nil
}

// gridKeys lists every count hash (SCAN on every master: an operator's path).
func (s *Store) gridKeys(ctx context.Context) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	err := s.scanAll(ctx, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, gridScanPattern, 500).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	})
	return keys, err
}

// delEach deletes keys one command each (they sit in many slots).
func (s *Store) delEach(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	return err
}
