package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"hazardwatch/hazard"
)

// Marker is what the map's indexes know of a report: where it is and what it is, enough to draw
// it and count it without reading its document. Events carry a report's marker before and after
// a change, so every index can follow the change.
type Marker struct {
	Lat, Lng float64
	Type     string
	Severity string
	Status   hazard.Status
	Created  time.Time
}

// MarkerOf is r's marker.
func MarkerOf(r *Report) Marker {
	return Marker{Lat: r.Lat, Lng: r.Lng, Type: r.Type, Severity: r.Severity, Status: r.Status, Created: time.UnixMilli(r.CreatedAt.UnixMilli()).UTC()}
}

// Same reports whether two markers describe the same place, kind and state.
func (m Marker) Same(o Marker) bool {
	return m.Lat == o.Lat && m.Lng == o.Lng && m.Type == o.Type && m.Severity == o.Severity && m.Status == o.Status && m.Created.Equal(o.Created)
}

// mapped reports whether the marker belongs on the map's indexes at all: a guest report waiting
// for its confirmation mail is nobody's to see.
func (m Marker) mapped() bool { return m.Status != "" && m.Status != hazard.Unconfirmed }

// String is the compact form kept in the position index and in events:
// "lat,lng,type,severity,status,created-ms".
func (m Marker) String() string {
	return strconv.FormatFloat(m.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(m.Lng, 'f', -1, 64) + "," +
		m.Type + "," + m.Severity + "," + string(m.Status) + "," + strconv.FormatInt(m.Created.UnixMilli(), 10)
}

// ParseMarker reads Marker.String's form; "" is the zero marker (no report).
func ParseMarker(s string) (Marker, error) {
	if s == "" {
		return Marker{}, nil
	}
	m, ok := parseMarker(s)
	if !ok {
		return Marker{}, fmt.Errorf("store: bad marker %q", s)
	}
	return m, nil
}

// parseMarker reads Marker.String's form with substrings of s instead of a split, which would
// allocate per field (a city view's edges parse thousands).
func parseMarker(s string) (Marker, bool) {
	var f [6]string
	for i := range f {
		var ok bool
		if f[i], s, ok = strings.Cut(s, ","); !ok && i < len(f)-1 {
			return Marker{}, false
		}
	}
	if s != "" {
		return Marker{}, false
	}
	lat, err1 := strconv.ParseFloat(f[0], 64)
	lng, err2 := strconv.ParseFloat(f[1], 64)
	ms, err3 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Marker{}, false
	}
	return Marker{Lat: lat, Lng: lng, Type: f[2], Severity: f[3], Status: hazard.Status(f[4]), Created: time.UnixMilli(ms).UTC()}, true
}

// The GEO sets hold the reports by class of status: "active" (pending, open, in progress: what
// the map shows by default), "closed" (the other public statuses) and "hidden" (rejected,
// withdrawn: moderators only). A default view reads one set; the member names the status, type,
// severity and id, so a view draws markers from the GEO set alone.
func geoClass(s hazard.Status) string {
	switch {
	case s.Active():
		return "active"
	case s.Public():
		return "closed"
	}
	return "hidden"
}

// geoClasses are the sets holding the given statuses.
func geoClasses(statuses []hazard.Status) []string {
	var out []string
	for _, s := range statuses {
		if c := geoClass(s); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func geoMember(rid string, m Marker) string {
	return string(m.Status) + ":" + m.Type + ":" + m.Severity + ":" + rid
}

// parseGeoMember cuts a GEO member into its parts without allocating (a street view reads hundreds).
func parseGeoMember(s string) (status hazard.Status, typ, sev, rid string, ok bool) {
	st, rest, ok1 := strings.Cut(s, ":")
	typ, rest, ok2 := strings.Cut(rest, ":")
	sev, rid, ok3 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || !ok3 {
		return "", "", "", "", false
	}
	return hazard.Status(st), typ, sev, rid, true
}

// typeCodes gives each hazard type a stable 16-bit number (a hash of its code, so reordering
// hazard.Types changes nothing stored). It is folded into a cell's identity words, so a cell
// holding exactly one report names it and its type.
var typeCodes, typeByCode = func() (map[string]uint32, map[uint32]string) {
	codes, back := map[string]uint32{}, map[uint32]string{}
	for _, t := range hazard.Types {
		h := fnv.New32a()
		h.Write([]byte(t.Code))
		v := h.Sum32()
		c := (v>>16 ^ v) & 0xffff
		if _, dup := back[c]; dup {
			panic("store: two hazard types share a grid code; rename one")
		}
		codes[t.Code], back[c] = c, t.Code
	}
	return codes, back
}()

// idWords are a report's 80-bit id and its type code as three 32-bit words. A cell keeps the XOR
// of its reports' words: while it holds exactly one report, the XOR is that report.
func idWords(rid, typ string) ([3]uint32, bool) {
	b, err := idEncoding.DecodeString(strings.ToUpper(rid))
	if err != nil || len(b) != 10 {
		return [3]uint32{}, false
	}
	return [3]uint32{
		binary.BigEndian.Uint32(b[0:4]),
		binary.BigEndian.Uint32(b[4:8]),
		uint32(binary.BigEndian.Uint16(b[8:10])) | typeCodes[typ]<<16,
	}, true
}

// wordsID is idWords' inverse: the id and type a cell's XOR names, if it names one.
func wordsID(w [3]uint32) (rid, typ string, ok bool) {
	typ, ok = typeByCode[w[2]>>16]
	if !ok {
		return "", "", false
	}
	var b [10]byte
	binary.BigEndian.PutUint32(b[0:4], w[0])
	binary.BigEndian.PutUint32(b[4:8], w[1])
	binary.BigEndian.PutUint16(b[8:10], uint16(w[2]))
	return strings.ToLower(idEncoding.EncodeToString(b[:])), typ, true
}
