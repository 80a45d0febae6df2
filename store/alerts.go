package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Area alerts. A user's alerts are one hash in the user's slot (id -> JSON), so the limit of
// MaxAlerts is one atomic script. Matching a new report must not read every alert: each alert is
// listed in the grid cells (package geohash.go's grid) that cover it, at the one level whose
// cells are at least as large as the alert, so it sits in at most four cells. A report's point
// lies in one cell per level: a pipeline of alertLevels SMEMBERS finds every candidate, and the
// member itself carries the alert's area, types and delivery, so the exact test needs no read.

// MaxAlerts is how many alerts one user may keep.
const MaxAlerts = 20

// Alert levels: cells of 2^-p of the GEO grid per axis; level 5 cells (11 x 5 degrees) hold the
// largest alert anywhere, level 17 (about 300 x 130 m) the smallest.
const (
	alertMinLevel = 5
	alertMaxLevel = 17
)

// Alert is "mail me about new hazards here": a box (the map view) or a circle (Radius > 0 metres
// round Lat, Lng), for some hazard types (none: all), mailed at once or in a daily digest.
type Alert struct {
	ID        string    `json:"id"`
	UserID    string    `json:"uid"`
	Name      string    `json:"name"`
	Box       BBox      `json:"box"` // the circle's bounding box for a circle
	Lat       float64   `json:"lat,omitempty"`
	Lng       float64   `json:"lng,omitempty"`
	Radius    float64   `json:"radius,omitempty"`
	Types     []string  `json:"types,omitempty"`
	Digest    bool      `json:"digest,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CircleBox is the box round a circle of radius metres.
func CircleBox(lat, lng, radius float64) BBox {
	dLat := radius / 111_320
	dLng := radius / (111_320 * math.Max(math.Cos(lat*math.Pi/180), 0.01))
	return BBox{MinLat: lat - dLat, MaxLat: lat + dLat, MinLng: lng - dLng, MaxLng: lng + dLng}
}

// Covers reports whether a report of type typ at lat, lng is one the alert asks for.
func (a *Alert) Covers(lat, lng float64, typ string) bool {
	if len(a.Types) > 0 && !slices.Contains(a.Types, typ) {
		return false
	}
	if a.Radius > 0 {
		return Metres(a.Lat, a.Lng, lat, lng) <= a.Radius
	}
	return a.Box.Contains(lat, lng)
}

// Metres is the great-circle distance between two points.
func Metres(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6_372_797.560856 // the Earth radius Redis's GEO commands use
	rad := math.Pi / 180
	dLat, dLng := (lat2-lat1)*rad, (lng2-lng1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// alertLevel is the finest level whose cells are at least as wide and as high as b.
func alertLevel(b BBox) uint8 {
	for p := uint8(alertMaxLevel); p > alertMinLevel; p-- {
		n := float64(uint64(1) << p)
		if b.MaxLng-b.MinLng <= (geoLngMax-geoLngMin)/n && b.MaxLat-b.MinLat <= (geoLatMax-geoLatMin)/n {
			return p
		}
	}
	return alertMinLevel
}

func cellName(c Cell) string {
	return strconv.Itoa(int(c.P)) + ":" + strconv.FormatUint(uint64(c.X), 10) + ":" + strconv.FormatUint(uint64(c.Y), 10)
}

// alertCells are the index keys an alert is listed under.
func alertCells(a *Alert) []string {
	cells, _ := CellsIn(alertLevel(a.Box), a.Box)
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = alertCellKey(cellName(c))
	}
	return out
}

// member is the alert as its cells list it: "uid|aid|minLat,minLng,maxLat,maxLng,lat,lng,radius|types|digest".
func (a *Alert) member() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
	geo := strings.Join([]string{f(a.Box.MinLat), f(a.Box.MinLng), f(a.Box.MaxLat), f(a.Box.MaxLng), f(a.Lat), f(a.Lng), strconv.FormatFloat(a.Radius, 'f', 0, 64)}, ",")
	d := "0"
	if a.Digest {
		d = "1"
	}
	return strings.Join([]string{a.UserID, a.ID, geo, strings.Join(a.Types, ","), d}, "|")
}

func parseAlertMember(m string) (*Alert, bool) {
	parts := strings.Split(m, "|")
	if len(parts) != 5 {
		return nil, false
	}
	g := strings.Split(parts[2], ",")
	if len(g) != 7 {
		return nil, false
	}
	var v [7]float64
	for i, s := range g {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false
		}
		v[i] = x
	}
	a := &Alert{UserID: parts[0], ID: parts[1], Box: BBox{MinLat: v[0], MinLng: v[1], MaxLat: v[2], MaxLng: v[3]}, Lat: v[4], Lng: v[5], Radius: v[6], Digest: parts[4] == "1"}
	if parts[3] != "" {
		a.Types = strings.Split(parts[3], ",")
	}
	return a, true
}

// ErrTooManyAlerts means the user has MaxAlerts already.
var ErrTooManyAlerts = errors.New("store: too many alerts")

// addAlertScript stores an alert unless the user has ARGV[3] already. KEYS: the user's alerts.
var addAlertScript = redis.NewScript(`#!lua
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// CreateAlert stores a new alert (checked by the caller) and lists it in its cells. The alert is
// saved first, then indexed (idempotent SADDs): a crash between leaves an alert that mails
// nothing until it is saved again, never a mail for an alert that does not exist.
func (s *Store) CreateAlert(ctx context.Context, a *Alert) error {
	if a.ID == "" {
		a.ID = newID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now().UTC()
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	ok, err := addAlertScript.Run(ctx, s.rdb, []string{userAlertsKey(a.UserID)}, a.ID, doc, MaxAlerts).Int()
	if err != nil {
		return fmt.Errorf("store: unable to save alert: %w", err)
	}
	if ok == 0 {
		return ErrTooManyAlerts
	}
	m := a.member()
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range alertCells(a) {
			p.SAdd(ctx, k, m)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to index alert: %w", err)
	}
	return nil
}

// Alerts lists a user's alerts, oldest first.
func (s *Store) Alerts(ctx context.Context, uid string) ([]*Alert, error) {
	if !validID(uid) {
		return nil, nil
	}
	vals, err := s.rdb.HGetAll(ctx, userAlertsKey(uid)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list alerts: %w", err)
	}
	out := make([]*Alert, 0, len(vals))
	for _, v := range vals {
		var a Alert
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			return nil, fmt.Errorf("store: corrupt alert: %w", err)
		}
		out = append(out, &a)
	}
	slices.SortFunc(out, func(a, b *Alert) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// DeleteAlert removes one of uid's alerts: its index entries first, then the alert, so a crash
// between never leaves a listed alert that mails a user who removed it. ErrNotFound: no such
// alert (removed already).
func (s *Store) DeleteAlert(ctx context.Context, uid, aid string) error {
	if !validID(uid) || !validID(aid) {
		return ErrNotFound
	}
	v, err := s.rdb.HGet(ctx, userAlertsKey(uid), aid).Result()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("store: unable to read alert: %w", err)
	}
	var a Alert
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return fmt.Errorf("store: corrupt alert: %w", err)
	}
	m := a.member()
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range alertCells(&a) {
			p.SRem(ctx, k, m)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to unindex alert: %w", err)
	}
	if err := s.rdb.HDel(ctx, userAlertsKey(uid), aid).Err(); err != nil {
		return fmt.Errorf("store: unable to delete alert: %w", err)
	}
	return nil
}

// AlertMatch is one user's alerts that cover a report.
type AlertMatch struct {
	UserID string
	Alerts []*Alert
}

// Immediate reports whether any of the user's matching alerts asks for a mail at once.
func (m AlertMatch) Immediate() bool {
	return slices.ContainsFunc(m.Alerts, func(a *Alert) bool { return !a.Digest })
}

// MatchAlerts finds the alerts covering a report of type typ at lat, lng, grouped by user: one
// pipeline over the point's cells (one per level), the exact test in Go, then one HMGET per
// matching user to keep only alerts that still exist (with their names).
func (s *Store) MatchAlerts(ctx context.Context, lat, lng float64, typ string) ([]AlertMatch, error) {
	cmds := make([]*redis.StringSliceCmd, 0, alertMaxLevel-alertMinLevel+1)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for lv := uint8(alertMinLevel); lv <= alertMaxLevel; lv++ {
			cmds = append(cmds, p.SMembers(ctx, alertCellKey(cellName(CellOf(lv, lat, lng)))))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to match alerts: %w", err)
	}
	byUser := map[string][]string{}
	var users []string
	for _, c := range cmds {
		for _, m := range c.Val() {
			a, ok := parseAlertMember(m)
			if !ok || !a.Covers(lat, lng, typ) {
				continue
			}
			if _, seen := byUser[a.UserID]; !seen {
				users = append(users, a.UserID)
			}
			if !slices.Contains(byUser[a.UserID], a.ID) {
				byUser[a.UserID] = append(byUser[a.UserID], a.ID)
			}
		}
	}
	if len(users) == 0 {
		return nil, nil
	}
	docs := make([]*redis.SliceCmd, len(users))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, uid := range users {
			docs[i] = p.HMGet(ctx, userAlertsKey(uid), byUser[uid]...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read alerts: %w", err)
	}
	var out []AlertMatch
	for i, uid := range users {
		m := AlertMatch{UserID: uid}
		for _, v := range docs[i].Val() {
			str, ok := v.(string)
			if !ok {
				continue // deleted since it was indexed
			}
			var a Alert
			if json.Unmarshal([]byte(str), &a) == nil {
				m.Alerts = append(m.Alerts, &a)
			}
		}
		if len(m.Alerts) > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

// --- the daily digest ---

// DigestEvery is how long a digest collects before it is mailed.
const DigestEvery = 24 * time.Hour

// AddToDigest puts a report in uid's next digest, and schedules that digest if none is.
func (s *Store) AddToDigest(ctx context.Context, uid, rid string, at time.Time) error {
	if err := s.rdb.ZAddNX(ctx, userDigestKey(uid), redis.Z{Score: float64(at.UnixMilli()), Member: rid}).Err(); err != nil {
		return fmt.Errorf("store: unable to add to a digest: %w", err)
	}
	due := float64(at.Add(DigestEvery).UnixMilli())
	if err := s.rdb.ZAddNX(ctx, alertDigestsKey, redis.Z{Score: due, Member: uid}).Err(); err != nil {
		return fmt.Errorf("store: unable to schedule a digest: %w", err)
	}
	return nil
}

// claimScript leases up to ARGV[3] due members of KEYS[1] (score <= ARGV[1]) by moving their
// score to ARGV[2]: of several instances, one gets each.
var claimScript = redis.NewScript(`#!lua
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m) end
return due
`)

func (s *Store) claim(ctx context.Context, key string, now time.Time, lease time.Duration, n int) ([]string, error) {
	return claimScript.Run(ctx, s.rdb, []string{key}, now.UnixMilli(), now.Add(lease).UnixMilli(), n).StringSlice()
}

// DueDigests claims up to n users whose digest is due, for lease: another instance takes a
// claimed digest over only after lease.
func (s *Store) DueDigests(ctx context.Context, now time.Time, lease time.Duration, n int) ([]string, error) {
	uids, err := s.claim(ctx, alertDigestsKey, now, lease, n)
	if err != nil {
		return nil, fmt.Errorf("store: unable to claim digests: %w", err)
	}
	return uids, nil
}

// DigestItems lists the report ids waiting in uid's digest, oldest first (at most 200).
func (s *Store) DigestItems(ctx context.Context, uid string) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, userDigestKey(uid), 0, 199).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read a digest: %w", err)
	}
	return ids, nil
}

// DigestKey names a digest by its reports: a digest sent twice after a crash has the same key,
// so the mail queue sends it once.
func DigestKey(uid string, rids []string) string {
	sum := sha256.Sum256([]byte(strings.Join(rids, ",")))
	return "digest:" + uid + ":" + hex.EncodeToString(sum[:8])
}

// FinishDigest removes the reports a sent digest held, and schedules the next one if more
// arrived meanwhile (or unschedules the user).
func (s *Store) FinishDigest(ctx context.Context, uid string, rids []string, now time.Time) error {
	if len(rids) > 0 {
		if err := s.rdb.ZRem(ctx, userDigestKey(uid), strSlice(rids)...).Err(); err != nil {
			return fmt.Errorf("store: unable to clear a digest: %w", err)
		}
	}
	// Unschedule first, then look: a report added meanwhile either finds the user unscheduled
	// (and schedules it) or is seen here.
	if err := s.rdb.ZRem(ctx, alertDigestsKey, uid).Err(); err != nil {
		return fmt.Errorf("store: unable to unschedule a digest: %w", err)
	}
	left, err := s.rdb.ZCard(ctx, userDigestKey(uid)).Result()
	if err != nil {
		return fmt.Errorf("store: unable to read a digest: %w", err)
	}
	if left > 0 {
		return s.rdb.ZAddNX(ctx, alertDigestsKey, redis.Z{Score: float64(now.Add(DigestEvery).UnixMilli()), Member: uid}).Err()
	}
	return nil
}

func strSlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// NewID is a fresh random id (public updates, alerts).
func NewID() string { return newID() }

// Alert area limits: nothing smaller than a street corner, nothing larger than a city.
const (
	AlertMinSide = 50.0     // metres
	AlertMaxSide = 50_000.0 // metres
)

// AlertProblem checks an alert's area and types; it returns the form field and the message id
// (i18n) of the first problem, or "", "".
func AlertProblem(a *Alert, knownType func(string) bool) (field, msgID string) {
	for _, t := range a.Types {
		if !knownType(t) {
			return "type", "alerts.error.type"
		}
	}
	if a.Radius != 0 {
		if a.Radius < AlertMinSide/2 || a.Radius > AlertMaxSide/2 || math.IsNaN(a.Radius) {
			return "radius", "alerts.error.radius"
		}
		a.Box = CircleBox(a.Lat, a.Lng, a.Radius)
	}
	b := a.Box
	if b.MinLat < -85 || b.MaxLat > 85 || b.MinLng < -180 || b.MaxLng > 180 || !(b.MinLat < b.MaxLat) || !(b.MinLng < b.MaxLng) {
		return "area", "alerts.error.area"
	}
	h := Metres(b.MinLat, b.MinLng, b.MaxLat, b.MinLng)
	mid := (b.MinLat + b.MaxLat) / 2
	w := Metres(mid, b.MinLng, mid, b.MaxLng)
	switch {
	case h < AlertMinSide*0.99 || w < AlertMinSide*0.99: // a circle's box is measured on another Earth model
		return "area", "alerts.error.too_small"
	case h > AlertMaxSide*1.01 || w > AlertMaxSide*1.01:
		return "area", "alerts.error.too_big"
	}
	return "", ""
}
