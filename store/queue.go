package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// The review queue is built from its own indexes, so a filter never shortens a page: a tab (one
// status, a flag such as "reported fixed", or the reports assigned to someone) is a sorted set
// scored by urgency; type and severity are sets; a GEO set holds every report for the area
// filter. They share the {queue} slot, so one read-only script intersects a tab with its filters
// and returns one full page and the total, on one server or a Cluster.
//
// A report's place in them is kept as one entry of queueStateKey; queueScript moves it from the
// stored entry to the new one only if the stored entry is still the one the writer read (compare
// and set), so writers racing on one report cannot leave it in two tabs, and writing the same
// entry twice changes nothing (converge repeats it).

// Flags are the queue's tabs beside the statuses.
const (
	FlagReportedFixed = string(hazard.ReportedFixed) // the public says it is fixed
	FlagReopened      = string(hazard.ReopenedByPublic)
	FlagAbuse         = "abuse" // someone used "report abuse" on it or on one of its updates
)

// QueueFlags lists the flags in the order the queue shows their tabs.
var QueueFlags = []string{FlagReportedFixed, FlagReopened, FlagAbuse}

// Urgency orders the review queue, most urgent first. The tier comes first: a staff priority of
// P1 above everything and P3 below everything, otherwise the reporter's severity (high, medium,
// low). Within a tier: hours waiting + 12 x log2(1 + confirmations), so each doubling of the
// people who confirmed a hazard counts as half a day of waiting. Waiting grows alike for every
// report, so the stored score leaves "now" out (-created hours instead of +hours waiting) and
// orders the queue correctly for ever without being rewritten.
func Urgency(r *Report) float64 {
	tier := float64(severityIndex(r.Severity) + 1)
	if _, ok := hazard.SeverityByCode(r.Severity); !ok {
		tier = 0
	}
	switch r.Priority {
	case "p1":
		tier = 4
	case "p3":
		tier = 0
	}
	return tier*1e7 + 12*math.Log2(1+float64(r.Confirmations)) - float64(r.CreatedAt.Unix())/3600
}

// queueEntry is a report as the queue's indexes know it.
type queueEntry struct {
	status             hazard.Status
	typ, severity      string
	flags              []string
	assignee, reporter string
	urgency            float64
	created            int64 // ms
	lat, lng           float64
}

// queueEntryOf is r's entry; false for a report the queue does not show (a guest's report
// waiting for its confirmation mail).
func queueEntryOf(r *Report) (queueEntry, bool) {
	if !MarkerOf(r).mapped() {
		return queueEntry{}, false
	}
	e := queueEntry{status: r.Status, typ: r.Type, severity: r.Severity, reporter: r.ReporterID, urgency: Urgency(r),
		created: r.CreatedAt.UnixMilli(), lat: r.Lat, lng: r.Lng}
	if r.Attention != "" {
		e.flags = append(e.flags, string(r.Attention))
	}
	if len(r.Abuse) > 0 {
		e.flags = append(e.flags, FlagAbuse)
	}
	if r.Status.Active() {
		e.assignee = r.Assignee // "mine" lists the work still to do
	}
	return e, true
}

func (e queueEntry) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return strings.Join([]string{string(e.status), e.typ, e.severity, strings.Join(e.flags, ","), e.assignee, e.reporter,
		f(e.urgency), strconv.FormatInt(e.created, 10), f(e.lat), f(e.lng)}, "|")
}

func parseQueueEntry(s string) (queueEntry, bool) {
	p := strings.Split(s, "|")
	if len(p) != 10 {
		return queueEntry{}, false
	}
	e := queueEntry{status: hazard.Status(p[0]), typ: p[1], severity: p[2], assignee: p[4], reporter: p[5]}
	if p[3] != "" {
		e.flags = strings.Split(p[3], ",")
	}
	e.urgency, _ = strconv.ParseFloat(p[6], 64)
	e.created, _ = strconv.ParseInt(p[7], 10, 64)
	e.lat, _ = strconv.ParseFloat(p[8], 64)
	e.lng, _ = strconv.ParseFloat(p[9], 64)
	return e, true
}

// members are the tab and filter keys an entry belongs to, each with its kind: "z" a sorted set
// scored by urgency (tabs), "s" a set (filters).
func (e queueEntry) members() (keys, kinds []string) {
	add := func(k, kind string) { keys, kinds = append(keys, k), append(kinds, kind) }
	add(queueStatusKey(e.status), "z")
	for _, f := range e.flags {
		add(queueFlagKey(f), "z")
	}
	if e.assignee != "" {
		add(queueAssigneeKey(e.assignee), "z")
	}
	add(queueTypeKey(e.typ), "s")
	add(queueSeverityKey(e.severity), "s")
	return keys, kinds
}

// queueScript moves report ARGV[1] from queue entry ARGV[2] (as the caller read it) to ARGV[3]
// ("" removes it). KEYS: the state hash, time, GEO, reporters; then the old entry's member keys
// (ARGV[4] of them), then the new one's. ARGV[5..12]: created, lng, lat, urgency, old reporter,
// new reporter, old rejected, new rejected; then each member key's kind (z or s). Answers 0 when
// the stored entry is no longer ARGV[2] (the caller reads again).
var queueScript = redis.NewScript(`#!lua
local rid = ARGV[1]
if (redis.call('HGET', KEYS[1], rid) or '') ~= ARGV[2] then return 0 end
local nOld = tonumber(ARGV[4])
for i = 5, 4 + nOld do
  if ARGV[i + 8] == 'z' then redis.call('ZREM', KEYS[i], rid) else redis.call('SREM', KEYS[i], rid) end
end
local function count(field, by)
  if redis.call('HINCRBY', KEYS[4], field, by) <= 0 then redis.call('HDEL', KEYS[4], field) end
end
if ARGV[9] ~= '' then
  count(ARGV[9], -1)
  if ARGV[11] == '1' then count(ARGV[9] .. ':rejected', -1) end
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], rid)
  redis.call('ZREM', KEYS[2], rid)
  redis.call('ZREM', KEYS[3], rid)
  return 1
end
for i = 5 + nOld, #KEYS do
  if ARGV[i + 8] == 'z' then redis.call('ZADD', KEYS[i], ARGV[8], rid) else redis.call('SADD', KEYS[i], rid) end
end
redis.call('ZADD', KEYS[2], ARGV[5], rid)
redis.call('GEOADD', KEYS[3], ARGV[6], ARGV[7], rid)
count(ARGV[10], 1)
if ARGV[12] == '1' then count(ARGV[10] .. ':rejected', 1) end
redis.call('HSET', KEYS[1], rid, ARGV[3])
return 1
`)

// queueArgs are queueScript's keys and arguments for moving rid from the stored entry old ("":
// none) to next (nil: out of the queue).
func queueArgs(rid, old string, next *queueEntry) ([]string, []any) {
	keys := []string{queueStateKey, queueTimeKey, queueGeoKey, queueReportersKey}
	var kinds []string
	var prev queueEntry
	hasPrev := false
	if old != "" {
		prev, hasPrev = parseQueueEntry(old)
	}
	nOld := 0
	if hasPrev {
		k, kd := prev.members()
		keys, kinds, nOld = append(keys, k...), append(kinds, kd...), len(k)
	}
	want := ""
	var n queueEntry
	if next != nil {
		n, want = *next, next.String()
		k, kd := n.members()
		keys, kinds = append(keys, k...), append(kinds, kd...)
	}
	flag := func(ok bool) string {
		if ok {
			return "1"
		}
		return "0"
	}
	args := []any{rid, old, want, nOld, n.created, n.lng, n.lat, n.urgency,
		prev.reporter, n.reporter, flag(hasPrev && prev.status == hazard.Rejected), flag(next != nil && n.status == hazard.Rejected)}
	for _, k := range kinds {
		args = append(args, k)
	}
	return keys, args
}

// indexQueue puts r where it belongs in the queue's indexes (or takes it out).
func (s *Store) indexQueue(ctx context.Context, r *Report) error {
	next, ok := queueEntryOf(r)
	want := ""
	if ok {
		want = next.String()
	}
	var np *queueEntry
	if ok {
		np = &next
	}
	for range 5 {
		cur, err := s.rdb.HGet(ctx, queueStateKey, r.ID).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("store: unable to read the queue: %w", err)
		}
		if cur == want {
			return nil
		}
		keys, args := queueArgs(r.ID, cur, np)
		done, err := queueScript.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil {
			return fmt.Errorf("store: unable to index the queue: %w", err)
		}
		if done == 1 {
			return nil
		}
	}
	return errors.New("store: a report's queue entry kept changing")
}

// refreshQueue re-reads report id and updates its queue entry (its confirmations changed).
func (s *Store) refreshQueue(ctx context.Context, id string) error {
	r, err := s.Report(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.indexQueue(ctx, r)
}

// QueueOrder is how a queue page is sorted.
type QueueOrder string

const (
	ByUrgency QueueOrder = "urgency" // Urgency, highest first (the default)
	Oldest    QueueOrder = "oldest"
	Newest    QueueOrder = "newest"
)

// QueueQuery is one page of the review queue: one tab (a status, a flag, or the active reports
// assigned to someone), narrowed by type, severity and area.
type QueueQuery struct {
	Status   hazard.Status
	Flag     string // instead of Status: one of QueueFlags
	Assignee string // instead of Status: a user id ("mine")
	Type     string
	Severity string
	Box      *BBox
	Body     string // a body's staff: only the reports sent to that body
	Order    QueueOrder
	Offset   int
	Count    int
}

// queueQueryScript answers a QueueQuery without writing anything. KEYS: the tab (rid -> urgency),
// time (rid -> created), GEO, then the filter sets. ARGV: order, offset, count, then for an area
// the search's centre lng, lat, width and height (km) and the exact bounds min lng, min lat, max
// lng, max lat. Answers {total, ids of the page}.
var queueQueryScript = redis.NewScript(`#!lua flags=no-writes
local order, offset, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if #KEYS == 3 and #ARGV == 3 and order == 'urgency' then
  return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], offset, offset + count - 1, 'REV')}
end
local keys, weights = {}, {}
keys[1], weights[1] = KEYS[1], (order == 'urgency') and 1 or 0
if order ~= 'urgency' then keys[#keys + 1], weights[#weights + 1] = KEYS[2], 1 end
for i = 4, #KEYS do keys[#keys + 1], weights[#weights + 1] = KEYS[i], 0 end
local args = {'ZINTER', #keys}
for _, k in ipairs(keys) do args[#args + 1] = k end
args[#args + 1] = 'WEIGHTS'
for _, w in ipairs(weights) do args[#args + 1] = w end
local all = redis.call(unpack(args))
if #ARGV > 3 then
  local minLng, minLat, maxLng, maxLat = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
  local inside = {}
  for _, f in ipairs(redis.call('GEOSEARCH', KEYS[3], 'FROMLONLAT', ARGV[4], ARGV[5], 'BYBOX', ARGV[6], ARGV[7], 'km', 'WITHCOORD')) do
    local lng, lat = tonumber(f[2][1]), tonumber(f[2][2])
    if lat >= minLat and lat < maxLat and lng >= minLng and lng < maxLng then inside[f[1]] = true end
  end
  local kept = {}
  for _, id in ipairs(all) do
    if inside[id] then kept[#kept + 1] = id end
  end
  all = kept
end
local total, page = #all, {}
if order == 'oldest' then
  for i = offset + 1, math.min(offset + count, total) do page[#page + 1] = all[i] end
else
  for i = total - offset, math.max(total - offset - count + 1, 1), -1 do page[#page + 1] = all[i] end
end
return {total, page}
`)

// Queue reads one page of the review queue and the number of reports matching the query.
func (s *Store) Queue(ctx context.Context, q QueueQuery) ([]*Report, int64, error) {
	ids, total, err := s.QueueIDs(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	rs, err := s.reports(ctx, ids)
	return rs, total, err
}

// QueueIDs is Queue without reading the documents.
func (s *Store) QueueIDs(ctx context.Context, q QueueQuery) ([]string, int64, error) {
	var tab string
	switch {
	case q.Flag != "":
		tab = queueFlagKey(q.Flag)
	case q.Assignee != "":
		tab = queueAssigneeKey(q.Assignee)
	default:
		tab = queueStatusKey(q.Status)
	}
	keys := []string{tab, queueTimeKey, queueGeoKey}
	if q.Type != "" {
		keys = append(keys, queueTypeKey(q.Type))
	}
	if q.Severity != "" {
		keys = append(keys, queueSeverityKey(q.Severity))
	}
	if q.Body != "" {
		keys = append(keys, queueBodyKey(q.Body))
	}
	order := q.Order
	if order == "" {
		order = ByUrgency
	}
	args := []any{string(order), q.Offset, q.Count}
	if q.Box != nil {
		b := q.Box.clampGeo()
		w, h := b.searchKm()
		args = append(args, (b.MinLng+b.MaxLng)/2, (b.MinLat+b.MaxLat)/2, w, h, b.MinLng, b.MinLat, b.MaxLng, b.MaxLat)
	}
	res, err := queueQueryScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, 0, fmt.Errorf("store: unable to read the queue: %w", err)
	}
	total, _ := res[0].(int64)
	raw, _ := res[1].([]any)
	ids := make([]string, 0, len(raw))
	for _, v := range raw {
		if id, ok := v.(string); ok {
			ids = append(ids, id)
		}
	}
	return ids, total, nil
}

// QueueCounts are the tabs' counts.
type QueueCounts struct {
	Status map[hazard.Status]int64
	Flag   map[string]int64
	Mine   int64 // active reports assigned to the asker
}

// QueueTabCounts counts every tab (one pipeline, one slot); uid is the asker, for "mine"; body
// (when not "") counts only the reports sent to that body.
func (s *Store) QueueTabCounts(ctx context.Context, uid, body string) (QueueCounts, error) {
	st := map[hazard.Status]*redis.IntCmd{}
	fl := map[string]*redis.IntCmd{}
	var mine *redis.IntCmd
	count := func(p redis.Pipeliner, tab string) *redis.IntCmd {
		if body == "" {
			return p.ZCard(ctx, tab)
		}
		return p.ZInterCard(ctx, 0, tab, queueBodyKey(body))
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, x := range hazard.Statuses {
			st[x] = count(p, queueStatusKey(x))
		}
		for _, f := range QueueFlags {
			fl[f] = count(p, queueFlagKey(f))
		}
		mine = count(p, queueAssigneeKey(uid))
		return nil
	})
	if err != nil {
		return QueueCounts{}, fmt.Errorf("store: unable to count the queue: %w", err)
	}
	out := QueueCounts{Status: map[hazard.Status]int64{}, Flag: map[string]int64{}, Mine: mine.Val()}
	for k, c := range st {
		out.Status[k] = c.Val()
	}
	for k, c := range fl {
		out.Flag[k] = c.Val()
	}
	return out, nil
}

// ReporterHistory is what the queue knows of a reporter: reports on the map, and how many of them
// moderators rejected.
type ReporterHistory struct{ Reports, Rejected int64 }

// ReporterHistories reads the histories of several reporters (one HMGET).
func (s *Store) ReporterHistories(ctx context.Context, uids []string) (map[string]ReporterHistory, error) {
	out := map[string]ReporterHistory{}
	if len(uids) == 0 {
		return out, nil
	}
	fields := make([]string, 0, 2*len(uids))
	for _, u := range uids {
		fields = append(fields, u, u+":rejected")
	}
	vals, err := s.rdb.HMGet(ctx, queueReportersKey, fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read reporter histories: %w", err)
	}
	num := func(v any) int64 { s, _ := v.(string); n, _ := strconv.ParseInt(s, 10, 64); return n }
	for i, u := range uids {
		out[u] = ReporterHistory{Reports: num(vals[2*i]), Rejected: num(vals[2*i+1])}
	}
	return out, nil
}

// Similar is an active report near another one, of a related type.
type Similar struct {
	ID, Type string
	Metres   float64
}

// SimilarNearby finds, for each report, the active reports of a related type (hazard.Related)
// within radius metres, nearest first, at most limit each: one pipeline of GEOSEARCHes over the
// active GEO set, reading no documents.
func (s *Store) SimilarNearby(ctx context.Context, rs []*Report, radius float64, limit int) (map[string][]Similar, error) {
	cmds := make([]*redis.GeoSearchLocationCmd, len(rs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range rs {
			cmds[i] = p.GeoSearchLocation(ctx, geoKey(geoClass(hazard.Open)), &redis.GeoSearchLocationQuery{
				GeoSearchQuery: redis.GeoSearchQuery{Longitude: r.Lng, Latitude: r.Lat, Radius: radius, RadiusUnit: "m", Sort: "ASC", Count: 200},
				WithDist:       true,
			})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to search similar reports: %w", err)
	}
	out := make(map[string][]Similar, len(rs))
	for i, r := range rs {
		for _, l := range cmds[i].Val() {
			_, typ, _, id, ok := parseGeoMember(l.Name)
			if !ok || id == r.ID || !hazard.Related(r.Type, typ) || slices.ContainsFunc(out[r.ID], func(x Similar) bool { return x.ID == id }) {
				continue
			}
			if len(out[r.ID]) < limit {
				out[r.ID] = append(out[r.ID], Similar{ID: id, Type: typ, Metres: l.Dist})
			}
		}
	}
	return out, nil
}

// rebuildQueue replaces every queue index with the entries of the given reports (repair).
func (s *Store) rebuildQueue(ctx context.Context, rs []*Report) error {
	var keys []string
	err := s.scanAll(ctx, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, queueScanPattern, 500).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return iter.Err()
	})
	if err != nil {
		return fmt.Errorf("store: repair scan of the queue: %w", err)
	}
	for _, k := range keys {
		if err := s.rdb.Del(ctx, k).Err(); err != nil {
			return fmt.Errorf("store: unable to clear the queue: %w", err)
		}
	}
	if err := s.rebuildBodyQueues(ctx); err != nil {
		return err
	}
	for start := 0; start < len(rs); start += 500 {
		err := s.pipelineScripts(ctx, func(p redis.Pipeliner) {
			for _, r := range rs[start:min(start+500, len(rs))] {
				if e, ok := queueEntryOf(r); ok {
					keys, args := queueArgs(r.ID, "", &e)
					queueScript.EvalSha(ctx, p, keys, args...)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("store: unable to rebuild the queue: %w", err)
		}
	}
	return nil
}

// rebuildBodyQueues copies every body's report index into the queue's slot again (repair cleared
// the queue's keys, the mirrors among them).
func (s *Store) rebuildBodyQueues(ctx context.Context) error {
	bids, err := s.rdb.ZRange(ctx, bodiesKey, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("store: unable to list bodies: %w", err)
	}
	for _, bid := range bids {
		rids, err := s.rdb.ZRange(ctx, bodyReportsKey(bid), 0, -1).Result()
		if err != nil {
			return fmt.Errorf("store: unable to read a body's reports: %w", err)
		}
		for start := 0; start < len(rids); start += 1000 {
			if err := s.rdb.SAdd(ctx, queueBodyKey(bid), strSlice(rids[start:min(start+1000, len(rids))])...).Err(); err != nil {
				return fmt.Errorf("store: unable to rebuild a body's queue: %w", err)
			}
		}
	}
	return nil
}
