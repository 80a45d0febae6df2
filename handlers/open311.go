package handlers

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/geocode"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): services are the hazard types,
// requests are reports. Formats by suffix: .json (arrays at the root) and .xml. Errors are a
// list of {code, description} in the requested format. Only POST needs an api_key; those
// requests carry no cookies, so they are exempt from CSRF.

const open311Prefix = "/open311/v2/"

type o311Error struct {
	XMLName     xml.Name `json:"-" xml:"error"`
	Code        int      `json:"code" xml:"code"`
	Description string   `json:"description" xml:"description"`
}

type o311Errors struct {
	XMLName xml.Name    `xml:"errors"`
	Errors  []o311Error `xml:"error"`
}

// open311Format is "json" or "xml" from the :fmt suffix; anything else is 404.
func open311Format(c *fiber.Ctx) (string, error) {
	switch f := c.Params("fmt"); f {
	case "json", "xml":
		return f, nil
	}
	return "", fiber.NewError(fiber.StatusNotFound, "Unknown format: use .json or .xml.")
}

// open311Write sends v as JSON or as XML with the declaration.
func open311Write(c *fiber.Ctx, status int, format string, jsonValue, xmlValue any) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if format == "xml" {
		b, err := xml.MarshalIndent(xmlValue, "", "  ")
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
		return c.Status(status).Send(append([]byte(xml.Header), b...))
	}
	b, err := json.Marshal(jsonValue)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).Send(b)
}

// open311ErrorResponse renders any error under /open311/ the way the spec says.
func open311ErrorResponse(c *fiber.Ctx, status int, msg string) error {
	format := "json"
	if strings.HasSuffix(c.Path(), ".xml") {
		format = "xml"
	}
	e := o311Error{Code: status, Description: msg}
	return open311Write(c, status, format, []o311Error{e}, o311Errors{Errors: []o311Error{e}})
}

func (h *handler) checkJurisdiction(c *fiber.Ctx) error {
	if j := c.Query("jurisdiction_id"); j != "" && h.cfg.Open311Jurisdiction != "" && j != h.cfg.Open311Jurisdiction {
		return fiber.NewError(fiber.StatusNotFound, "Unknown jurisdiction_id "+strconv.Quote(j)+".")
	}
	return nil
}

// --- discovery ---

type o311Endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

type o311Discovery struct {
	XMLName    xml.Name       `json:"-" xml:"discovery"`
	Changeset  string         `json:"changeset" xml:"changeset"`
	Contact    string         `json:"contact" xml:"contact"`
	KeyService string         `json:"key_service" xml:"key_service"`
	Endpoints  []o311Endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

const open311Changeset = "2026-11-26T00:00:00Z"

func (h *handler) open311Discovery(c *fiber.Ctx) error {
	format, err := open311Format(c)
	if err != nil {
		return err
	}
	base := h.cfg.BaseURL.String()
	d := o311Discovery{
		Changeset: open311Changeset, Contact: "Hazard Watch moderators: " + base,
		KeyService: "Ask an administrator for a key: " + base + "/admin/api-keys",
		Endpoints: []o311Endpoint{{
			Specification: "http://wiki.open311.org/GeoReport_v2", URL: base + "/open311/v2",
			Changeset: open311Changeset, Type: "production", Formats: []string{"application/json", "text/xml"},
		}},
	}
	return open311Write(c, fiber.StatusOK, format, d, d)
}

// --- services ---

type o311Service struct {
	XMLName     xml.Name `json:"-" xml:"service"`
	Code        string   `json:"service_code" xml:"service_code"`
	Name        string   `json:"service_name" xml:"service_name"`
	Description string   `json:"description" xml:"description"`
	Metadata    bool     `json:"metadata" xml:"metadata"`
	Type        string   `json:"type" xml:"type"`
	Keywords    string   `json:"keywords" xml:"keywords"`
	Group       string   `json:"group" xml:"group"`
}

type o311Services struct {
	XMLName  xml.Name      `xml:"services"`
	Services []o311Service `xml:"service"`
}

func service(t hazard.Type) o311Service {
	return o311Service{Code: t.Code, Name: t.Label, Description: t.Help, Metadata: true, Type: "realtime",
		Keywords: strings.ToLower(t.Label), Group: "hazards"}
}

func (h *handler) open311Services(c *fiber.Ctx) error {
	format, err := open311Format(c)
	if err != nil {
		return err
	}
	if err := h.checkJurisdiction(c); err != nil {
		return err
	}
	list := make([]o311Service, len(hazard.Types))
	for i, t := range hazard.Types {
		list[i] = service(t)
	}
	return open311Write(c, fiber.StatusOK, format, list, o311Services{Services: list})
}

type o311Value struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

type o311Attribute struct {
	Variable            bool        `json:"variable" xml:"variable"`
	Code                string      `json:"code" xml:"code"`
	Datatype            string      `json:"datatype" xml:"datatype"`
	Required            bool        `json:"required" xml:"required"`
	DatatypeDescription string      `json:"datatype_description" xml:"datatype_description"`
	Order               int         `json:"order" xml:"order"`
	Description         string      `json:"description" xml:"description"`
	Values              []o311Value `json:"values" xml:"values>value"`
}

type o311ServiceDefinition struct {
	XMLName     xml.Name        `json:"-" xml:"service_definition"`
	ServiceCode string          `json:"service_code" xml:"service_code"`
	Attributes  []o311Attribute `json:"attributes" xml:"attributes>attribute"`
}

func (h *handler) open311ServiceDefinition(c *fiber.Ctx) error {
	format, err := open311Format(c)
	if err != nil {
		return err
	}
	if err := h.checkJurisdiction(c); err != nil {
		return err
	}
	t, ok := hazard.TypeByCode(c.Params("code"))
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "Unknown service_code "+strconv.Quote(c.Params("code"))+".")
	}
	sev := o311Attribute{Variable: true, Code: "severity", Datatype: "singlevaluelist", Required: false,
		DatatypeDescription: "One of low, medium, high (default medium).", Order: 1, Description: "How dangerous is it?"}
	for _, s := range hazard.Severities {
		sev.Values = append(sev.Values, o311Value{Key: s.Code, Name: s.Label + ": " + s.Help})
	}
	d := o311ServiceDefinition{ServiceCode: t.Code, Attributes: []o311Attribute{sev}}
	return open311Write(c, fiber.StatusOK, format, d, d)
}

// --- requests ---

type o311Request struct {
	XMLName           xml.Name `json:"-" xml:"request"`
	ID                string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       string   `json:"status_notes" xml:"status_notes"`
	ServiceName       string   `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       string   `json:"description" xml:"description"`
	AgencyResponsible string   `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string   `json:"service_notice" xml:"service_notice"`
	Requested         string   `json:"requested_datetime" xml:"requested_datetime"`
	Updated           string   `json:"updated_datetime" xml:"updated_datetime"`
	Expected          string   `json:"expected_datetime" xml:"expected_datetime"`
	Address           string   `json:"address" xml:"address"`
	AddressID         string   `json:"address_id" xml:"address_id"`
	Zipcode           string   `json:"zipcode" xml:"zipcode"`
	Lat               float64  `json:"lat" xml:"lat"`
	Long              float64  `json:"long" xml:"long"`
	MediaURL          string   `json:"media_url" xml:"media_url"`
}

type o311Requests struct {
	XMLName  xml.Name      `xml:"service_requests"`
	Requests []o311Request `xml:"request"`
}

func (h *handler) o311(r *store.Report) o311Request {
	t, _ := hazard.TypeByCode(r.Type)
	q := o311Request{
		ID: r.ID, Status: r.Status.Open311(), ServiceName: t.Label, ServiceCode: r.Type, Description: r.Description,
		ServiceNotice: r.Status.Label(), Requested: r.CreatedAt.Format(time.RFC3339), Updated: r.UpdatedAt.Format(time.RFC3339),
		Address: r.Address, Lat: r.Lat, Long: r.Lng, MediaURL: r.MediaURL,
	}
	for i := len(r.History) - 1; i >= 0; i-- {
		if r.History[i].Note != "" {
			q.StatusNotes = r.History[i].Note
			break
		}
	}
	if len(r.Photos) > 0 {
		q.MediaURL = h.cfg.BaseURL.String() + "/photos/" + r.Photos[0] + ".jpg"
	}
	return q
}

func (h *handler) open311Request(c *fiber.Ctx) error {
	format, err := open311Format(c)
	if err != nil {
		return err
	}
	if err := h.checkJurisdiction(c); err != nil {
		return err
	}
	r, err := h.store.Report(c.UserContext(), strings.Clone(c.Params("id")))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !h.life.CanSee(nil, r)) {
		return fiber.NewError(fiber.StatusNotFound, "No service request with that id.")
	} else if err != nil {
		return err
	}
	list := []o311Request{h.o311(r)}
	return open311Write(c, fiber.StatusOK, format, list, o311Requests{Requests: list})
}

// open311Requests is GET requests.{fmt}: service_request_id (overrides the rest), service_code,
// start_date, end_date (default: the last 90 days), status (open, closed), page, page_size.
func (h *handler) open311Requests(c *fiber.Ctx) error {
	format, err := open311Format(c)
	if err != nil {
		return err
	}
	if err := h.checkJurisdiction(c); err != nil {
		return err
	}
	bad := func(msg string) error { return fiber.NewError(fiber.StatusBadRequest, msg) }
	var list []o311Request
	if ids := queryList(c, "service_request_id"); len(ids) > 0 {
		if len(ids) > 100 {
			return bad("Ask for at most 100 service_request_id values at once.")
		}
		rs, err := h.store.ReportsByID(c.UserContext(), ids)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if h.life.CanSee(nil, r) {
				list = append(list, h.o311(r))
			}
		}
		return open311Write(c, fiber.StatusOK, format, nonNil(list), o311Requests{Requests: list})
	}
	codes := queryList(c, "service_code")
	for _, code := range codes {
		if _, ok := hazard.TypeByCode(code); !ok {
			return fiber.NewError(fiber.StatusNotFound, "Unknown service_code "+strconv.Quote(code)+".")
		}
	}
	statuses := queryList(c, "status")
	for _, s := range statuses {
		if s != "open" && s != "closed" {
			return bad("status must be open or closed.")
		}
	}
	end, start := time.Now(), time.Time{}
	if s := c.Query("end_date"); s != "" {
		if end, err = time.Parse(time.RFC3339, s); err != nil {
			return bad("end_date must be an ISO 8601 date-time with a zone, such as 2026-11-26T00:00:00Z.")
		}
	}
	if s := c.Query("start_date"); s != "" {
		if start, err = time.Parse(time.RFC3339, s); err != nil {
			return bad("start_date must be an ISO 8601 date-time with a zone, such as 2026-11-01T00:00:00Z.")
		}
	} else {
		start = end.Add(-90 * 24 * time.Hour)
	}
	if !start.Before(end) {
		return bad("start_date must be before end_date.")
	}
	page, size := 1, 1000
	if s := c.Query("page"); s != "" {
		if page, err = strconv.Atoi(s); err != nil || page < 1 || page > 100000 {
			return bad("page must be a whole number from 1.")
		}
	}
	if s := c.Query("page_size"); s != "" {
		if size, err = strconv.Atoi(s); err != nil || size < 1 || size > 1000 {
			return bad("page_size must be a whole number from 1 to 1000.")
		}
	}
	skip := (page - 1) * size
	for offset := 0; offset < 20000 && len(list) < size; offset += 500 {
		rs, err := h.store.ReportsBetween(c.UserContext(), start, end, offset, 500)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !h.life.CanSee(nil, r) || (len(codes) > 0 && !slices.Contains(codes, r.Type)) || (len(statuses) > 0 && !slices.Contains(statuses, r.Status.Open311())) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(list) < size {
				list = append(list, h.o311(r))
			}
		}
		if len(rs) < 500 {
			break
		}
	}
	return open311Write(c, fiber.StatusOK, format, nonNil(list), o311Requests{Requests: list})
}

func nonNil(l []o311Request) []o311Request {
	if l == nil {
		return []o311Request{}
	}
	return l
}

type o311Created struct {
	XMLName       xml.Name `json:"-" xml:"request"`
	ID            string   `json:"service_request_id" xml:"service_request_id"`
	ServiceNotice string   `json:"service_notice" xml:"service_notice"`
	AccountID     string   `json:"account_id" xml:"account_id"`
}

type o311CreatedList struct {
	XMLName  xml.Name      `xml:"service_requests"`
	Requests []o311Created `xml:"request"`
}

// open311Create is POST requests.{fmt}: a request posted with an api_key becomes a normal report
// (same validation, duplicate check and moderation), attributed to the key.
func (h *handler) open311Create(c *fiber.Ctx) error {
	format, err := open311Format(c)
	if err != nil {
		return err
	}
	if err := h.checkJurisdiction(c); err != nil {
		return err
	}
	key, err := h.store.APIKeyFor(c.UserContext(), bodyValue(c, "api_key"))
	if errors.Is(err, store.ErrNotFound) {
		return fiber.NewError(fiber.StatusForbidden, "A valid api_key is required to post requests.")
	} else if err != nil {
		return err
	}
	if ok, retry, err := h.store.Hit(c.UserContext(), "apikey", key.ID, key.PerHour, time.Hour); err != nil {
		return err
	} else if !ok && h.cfg.RateLimits {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retry.Seconds())+1))
		return fiber.NewError(fiber.StatusTooManyRequests, "This api_key has used its requests for this hour. Try again in "+humanDuration(retry)+".")
	}
	bad := func(msg string) error { return fiber.NewError(fiber.StatusBadRequest, msg) }
	t, ok := hazard.TypeByCode(c.FormValue("service_code"))
	if c.FormValue("service_code") == "" {
		return bad("service_code is required.")
	} else if !ok {
		return fiber.NewError(fiber.StatusNotFound, "Unknown service_code "+strconv.Quote(c.FormValue("service_code"))+".")
	}
	severity := c.FormValue("attribute[severity]", "medium")
	if _, ok := hazard.SeverityByCode(severity); !ok {
		return bad("attribute[severity] must be low, medium or high.")
	}
	desc := strings.TrimSpace(strings.Clone(c.FormValue("description")))
	if utf8.RuneCountInString(desc) > hazard.MaxDescription || !utf8.ValidString(desc) {
		return bad(fmt.Sprintf("description must be valid text of at most %d characters.", hazard.MaxDescription))
	}
	media := strings.TrimSpace(strings.Clone(c.FormValue("media_url")))
	if media != "" {
		u, err := url.Parse(media)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(media) > 2000 {
			return bad("media_url must be an http(s) URL.")
		}
	}
	var lat, lng float64
	switch ls, gs, addr := c.FormValue("lat"), c.FormValue("long"), strings.TrimSpace(c.FormValue("address_string")); {
	case ls != "" || gs != "":
		var err1, err2 error
		lat, err1 = strconv.ParseFloat(ls, 64)
		lng, err2 = strconv.ParseFloat(gs, 64)
		if err1 != nil || err2 != nil {
			return bad("lat and long must both be decimal degrees.")
		}
		if msg := geocode.CheckPoint(lat, lng); msg != "" {
			return bad(msg)
		}
	case addr != "":
		if msg := geocode.CheckQuery(addr); msg != "" {
			return bad("address_string: " + msg)
		}
		places, err := h.geo.Search(c.UserContext(), addr, 1)
		if err != nil {
			return err
		}
		if len(places) == 0 {
			return bad("address_string could not be found; send lat and long instead.")
		}
		lat, lng = places[0].Lat, places[0].Lng
	default:
		return bad("A location is required: lat and long, or address_string.")
	}
	r, _, err := h.life.Create(c.UserContext(), lifecycle.Draft{
		ID: store.NewReportID(), ReporterID: "apikey:" + key.ID[:16], Type: t.Code, Severity: severity,
		Description: desc, Lat: lat, Lng: lng, HasPlace: true, Source: "open311:" + key.Name, MediaURL: media,
	})
	var le *lifecycle.Error
	if errors.As(err, &le) {
		if len(le.Close) > 0 {
			return bad("A request of this service already exists within " + strconv.Itoa(int(h.cfg.TooCloseRadius)) + " m: service_request_id " + le.Close[0].ID + ".")
		}
		for _, msg := range le.Fields {
			return bad(msg)
		}
		return bad(le.Msg)
	}
	if err != nil {
		return err
	}
	if err := h.store.Audit(c.UserContext(), store.AuditEntry{Actor: "apikey:" + key.ID[:16], Action: "report.create.open311", Target: r.ID, IP: c.IP(), Note: key.Name}); err != nil {
		h.log.Error("audit entry lost", "err", err)
	}
	out := []o311Created{{ID: r.ID, ServiceNotice: h.moderationNote(c)}}
	return open311Write(c, fiber.StatusCreated, format, out, o311CreatedList{Requests: out})
}
