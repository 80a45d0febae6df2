package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Body is an organisation that fixes hazards in an area (a council, a utility, a park
// authority): its document holds everything but the area, which is its own key in the same slot
// (it can be megabytes, and most reads need only the bounding box).
type Body struct {
	ID        string      `json:"id"`
	Version   int64       `json:"version"`
	Name      string      `json:"name"`
	Lang      string      `json:"lang"`  // the language its mail is written in
	Types     []string    `json:"types"` // hazard types it handles
	Method    string      `json:"method"`
	Email     string      `json:"email,omitempty"`
	Open311   *Open311    `json:"open311,omitempty"`
	BBox      [4]float64  `json:"bbox"` // min lng, min lat, max lng, max lat of its area
	Vertices  int         `json:"vertices"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Cells     []string    `json:"cells"` // where the body sits in the cell index (see bodyCells)
	Extra     *BodyCounts `json:"-"`
}

// Delivery methods.
const (
	ByEmail   = "email"
	ByOpen311 = "open311"
)

// Open311 is where and how a body's GeoReport v2 server takes requests.
type Open311 struct {
	Endpoint     string            `json:"endpoint"` // base URL, e.g. https://city.example/open311/v2
	APIKey       string            `json:"api_key,omitempty"`
	Jurisdiction string            `json:"jurisdiction,omitempty"`
	ServiceCodes map[string]string `json:"service_codes"` // hazard type -> the body's service_code
}

// BodyCounts are a body's figures for the admin list.
type BodyCounts struct{ Reports int64 }

// Handles reports whether the body takes reports of hazard type typ.
func (b *Body) Handles(typ string) bool { return slices.Contains(b.Types, typ) }

// Covers reports whether the point lies in the body's bounding box.
func (b *Body) Covers(lat, lng float64) bool {
	return lng >= b.BBox[0] && lat >= b.BBox[1] && lng <= b.BBox[2] && lat <= b.BBox[3]
}

// NewBodyID is a fresh body id.
func NewBodyID() string { return newID() }

// The bounding-box index: cells of a grid at several levels (level L cuts the world into cells of
// 360/2^L degrees). A body is listed in the cells of the finest level at which its box spans at
// most 4 x 4 cells, so a city sits in a few cells of about 1 km and a country in a few big ones;
// a point looks in its one cell at each level: 17 small sets in one pipeline, whatever the number
// of bodies, then exact tests in Go on the few candidates.
const (
	cellLevels  = 17
	cellsPerBox = 4
)

func cellSize(level int) float64 { return 360 / math.Exp2(float64(level)) }

func bodyCellName(level int, lat, lng float64) string {
	size := cellSize(level)
	x := int(math.Floor((lng + 180) / size))
	y := int(math.Floor((lat + 90) / size))
	return strconv.Itoa(level) + ":" + strconv.Itoa(x) + ":" + strconv.Itoa(y)
}

// bodyCells lists the cells a bounding box is filed under.
func bodyCells(bbox [4]float64) []string {
	level := 0
	for l := cellLevels - 1; l >= 0; l-- {
		size := cellSize(l)
		nx := int(math.Floor((bbox[2]+180)/size)) - int(math.Floor((bbox[0]+180)/size)) + 1
		ny := int(math.Floor((bbox[3]+90)/size)) - int(math.Floor((bbox[1]+90)/size)) + 1
		if nx <= cellsPerBox && ny <= cellsPerBox {
			level = l
			break
		}
	}
	size := cellSize(level)
	x0, x1 := int(math.Floor((bbox[0]+180)/size)), int(math.Floor((bbox[2]+180)/size))
	y0, y1 := int(math.Floor((bbox[1]+90)/size)), int(math.Floor((bbox[3]+90)/size))
	var out []string
	for x := x0; x <= x1; x++ {
		for y := y0; y <= y1; y++ {
			out = append(out, strconv.Itoa(level)+":"+strconv.Itoa(x)+":"+strconv.Itoa(y))
		}
	}
	return out
}

// SaveBody creates or replaces a body. area is its GeoJSON (nil keeps the stored one; the
// caller then keeps BBox as it was). The document and area change together (one slot, MULTI);
// the cell index and the list follow with idempotent commands, stale cells removed.
func (s *Store) SaveBody(ctx context.Context, b *Body, area []byte) error {
	if !validID(b.ID) {
		return fmt.Errorf("store: bad body id %q", b.ID)
	}
	prev, err := s.Body(ctx, b.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		prev = nil
		if area == nil {
			return fmt.Errorf("store: a new body needs an area")
		}
	case err != nil:
		return err
	}
	now := time.Now().UTC()
	b.UpdatedAt = now
	if prev != nil {
		b.Version, b.CreatedAt = prev.Version+1, prev.CreatedAt
	} else {
		b.Version, b.CreatedAt = 1, now
	}
	b.Cells = bodyCells(b.BBox)
	doc, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, bodyKey(b.ID), doc, 0)
		if area != nil {
			p.Set(ctx, bodyAreaKey(b.ID), area, 0)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to save body: %w", err)
	}
	return s.indexBody(ctx, b, prev)
}

func (s *Store) indexBody(ctx context.Context, b, prev *Body) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if prev != nil {
			for _, c := range prev.Cells {
				if !slices.Contains(b.Cells, c) {
					p.SRem(ctx, bodyCellKey(c), b.ID)
				}
			}
		}
		for _, c := range b.Cells {
			p.SAdd(ctx, bodyCellKey(c), b.ID)
		}
		p.ZAdd(ctx, bodiesKey, redis.Z{Score: float64(b.CreatedAt.UnixMilli()), Member: b.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to index body: %w", err)
	}
	return nil
}

// DeleteBody removes a body, its area, its indexes and its per-body lists. Reports keep their
// delivery records (with the body's name); queued sends find it gone and say so; its staff keep
// the role but no longer see any report (SentTo and their queue read the lists deleted here).
func (s *Store) DeleteBody(ctx context.Context, bid string) error {
	b, err := s.Body(ctx, bid)
	if err != nil {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, bodiesKey, bid)
		for _, c := range b.Cells {
			p.SRem(ctx, bodyCellKey(c), bid)
		}
		p.Del(ctx, queueBodyKey(bid))
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to unindex body: %w", err)
	}
	// One slot: one command. The staff set goes too: the users keep the body's id, which names
	// nothing now (the admin page says so).
	if err := s.rdb.Del(ctx, bodyKey(bid), bodyAreaKey(bid), bodyReportsKey(bid), bodyPollingKey(bid), bodyTokensKey(bid), bodyWindowKey(bid), bodyStaffKey(bid)).Err(); err != nil {
		return fmt.Errorf("store: unable to delete body: %w", err)
	}
	return nil
}

// Body loads one body (without its area).
func (s *Store) Body(ctx context.Context, bid string) (*Body, error) {
	if !validID(bid) {
		return nil, ErrNotFound
	}
	doc, err := s.rdb.Get(ctx, bodyKey(bid)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to load body: %w", err)
	}
	return decodeBody(doc)
}

func decodeBody(doc string) (*Body, error) {
	var b Body
	if err := json.Unmarshal([]byte(doc), &b); err != nil {
		return nil, fmt.Errorf("store: corrupt body document: %w", err)
	}
	return &b, nil
}

// BodyArea is a body's area as stored (GeoJSON).
func (s *Store) BodyArea(ctx context.Context, bid string) ([]byte, error) {
	if !validID(bid) {
		return nil, ErrNotFound
	}
	b, err := s.rdb.Get(ctx, bodyAreaKey(bid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to load an area: %w", err)
	}
	return b, nil
}

// Bodies lists every body, oldest first, with its count of reports.
func (s *Store) Bodies(ctx context.Context) ([]*Body, error) {
	ids, err := s.rdb.ZRange(ctx, bodiesKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list bodies: %w", err)
	}
	out, err := s.bodies(ctx, ids)
	if err != nil {
		return nil, err
	}
	counts := make([]*redis.IntCmd, len(out))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, b := range out {
			counts[i] = p.ZCard(ctx, bodyReportsKey(b.ID))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to count reports: %w", err)
	}
	for i, b := range out {
		b.Extra = &BodyCounts{Reports: counts[i].Val()}
	}
	return out, nil
}

// bodies loads documents by id, skipping missing ones.
func (s *Store) bodies(ctx context.Context, ids []string) ([]*Body, error) {
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, bodyKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to load bodies: %w", err)
	}
	out := make([]*Body, 0, len(ids))
	for _, c := range cmds {
		if c.Err() != nil {
			continue
		}
		b, err := decodeBody(c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// BodiesNear lists the bodies whose bounding box holds the point: the candidates for an exact
// test against their areas. It reads one cell per level, never every body.
func (s *Store) BodiesNear(ctx context.Context, lat, lng float64) ([]*Body, error) {
	cmds := make([]*redis.StringSliceCmd, cellLevels)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for l := range cellLevels {
			cmds[l] = p.SMembers(ctx, bodyCellKey(bodyCellName(l, lat, lng)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to look up bodies: %w", err)
	}
	var ids []string
	for _, c := range cmds {
		for _, id := range c.Val() {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	bs, err := s.bodies(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := bs[:0]
	for _, b := range bs {
		if b.Covers(lat, lng) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *Body) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// BodyReports lists the reports sent to a body, newest first (the per-body index a staff view
// reads).
func (s *Store) BodyReports(ctx context.Context, bid string, start, stop int64) ([]string, error) {
	return s.rdb.ZRevRange(ctx, bodyReportsKey(bid), start, stop).Result()
}

// SentTo reports whether report rid was sent to body bid (its report index; a deleted body has
// none): the reports its staff may see and act on.
func (s *Store) SentTo(ctx context.Context, rid, bid string) (bool, error) {
	if !validID(bid) || !validID(rid) {
		return false, nil
	}
	_, err := s.rdb.ZScore(ctx, bodyReportsKey(bid), rid).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: unable to read a body's reports: %w", err)
	}
	return true, nil
}

// SentOf keeps the reports of rids that were sent to body bid (one ZMSCORE).
func (s *Store) SentOf(ctx context.Context, bid string, rids []string) ([]string, error) {
	if len(rids) == 0 || !validID(bid) {
		return nil, nil
	}
	scores, err := s.rdb.ZMScore(ctx, bodyReportsKey(bid), rids...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read a body's reports: %w", err)
	}
	var out []string
	for i, sc := range scores {
		if sc != 0 { // go-redis reads a missing member as 0; a sent report's score is its time
			out = append(out, rids[i])
		}
	}
	return out, nil
}
