package handlers

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/geocode"
	"hazardwatch/hazard"
	"hazardwatch/i18n"
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
	return "", refuse(fiber.StatusNotFound, "api.open311.format")
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
		return refuse(fiber.StatusNotFound, "api.open311.jurisdiction", "Value", strconv.Quote(j))
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
		Changeset: open311Changeset, Contact: say(c, "api.open311.contact", map[string]any{"URL": base}),
		KeyService: say(c, "api.open311.key_service", map[string]any{"URL": base + "/admin/api-keys"}),
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

// service is a hazard type as an Open311 service, named in the language the request asked for
// (Accept-Language, as GeoReport v2 allows).
func service(ctx context.Context, t hazard.Type) o311Service {
	return o311Service{Code: t.Code, Name: t.Label(ctx), Description: t.Help(ctx), Metadata: true, Type: "realtime",
		Keywords: strings.ToLower(t.Label(ctx)), Group: i18n.T(ctx, "api.open311.group")}
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
		list[i] = service(c.UserContext(), t)
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
		return refuse(fiber.StatusNotFound, "api.open311.service_code", "Value", strconv.Quote(c.Params("code")))
	}
	ctx := c.UserContext()
	sev := o311Attribute{Variable: true, Code: "severity", Datatype: "singlevaluelist", Required: false,
		DatatypeDescription: i18n.T(ctx, "api.open311.severity.datatype"), Order: 1, Description: i18n.T(ctx, "api.open311.severity.question")}
	for _, s := range hazard.Severities {
		sev.Values = append(sev.Values, o311Value{Key: s.Code, Name: i18n.T(ctx, "api.open311.severity.value", map[string]any{"Label": s.Label(ctx), "Help": s.Help(ctx)})})
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

func (h *handler) o311(ctx context.Context, r *store.Report) o311Request {
	t, _ := hazard.TypeByCode(r.Type)
	q := o311Request{
		ID: r.ID, Status: r.Status.Open311(), ServiceName: t.Label(ctx), ServiceCode: r.Type, Description: r.Description,
		ServiceNotice: r.Status.Label(ctx), Requested: r.CreatedAt.Format(time.RFC3339), Updated: r.UpdatedAt.Format(time.RFC3339),
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
	if errors.Is(err, store.ErrNotFound) || (err == nil && !h.life.CanSee(c.UserContext(), nil, r)) {
		return refuse(fiber.StatusNotFound, "api.open311.no_request")
	} else if err != nil {
		return err
	}
	list := []o311Request{h.o311(c.UserContext(), r)}
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
	bad := func(id string, pairs ...any) error { return refuse(fiber.StatusBadRequest, id, pairs...) }
	var list []o311Request
	if ids := queryList(c, "service_request_id"); len(ids) > 0 {
		if len(ids) > 100 {
			return bad("api.open311.too_many_ids", "Max", 100)
		}
		rs, err := h.store.ReportsByID(c.UserContext(), ids)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if h.life.CanSee(c.UserContext(), nil, r) {
				list = append(list, h.o311(c.UserContext(), r))
			}
		}
		return open311Write(c, fiber.StatusOK, format, nonNil(list), o311Requests{Requests: list})
	}
	codes := queryList(c, "service_code")
	for _, code := range codes {
		if _, ok := hazard.TypeByCode(code); !ok {
			return refuse(fiber.StatusNotFound, "api.open311.service_code", "Value", strconv.Quote(code))
		}
	}
	statuses := queryList(c, "status")
	for _, s := range statuses {
		if s != "open" && s != "closed" {
			return bad("api.open311.status")
		}
	}
	end, start := time.Now(), time.Time{}
	if s := c.Query("end_date"); s != "" {
		if end, err = time.Parse(time.RFC3339, s); err != nil {
			return bad("api.open311.end_date")
		}
	}
	if s := c.Query("start_date"); s != "" {
		if start, err = time.Parse(time.RFC3339, s); err != nil {
			return bad("api.open311.start_date")
		}
	} else {
		start = end.Add(-90 * 24 * time.Hour)
	}
	if !start.Before(end) {
		return bad("api.open311.date_order")
	}
	page, size := 1, 1000
	if s := c.Query("page"); s != "" {
		if page, err = strconv.Atoi(s); err != nil || page < 1 || page > 100000 {
			return bad("api.open311.page")
		}
	}
	if s := c.Query("page_size"); s != "" {
		if size, err = strconv.Atoi(s); err != nil || size < 1 || size > 1000 {
			return bad("api.open311.page_size", "Max", 1000)
		}
	}
	// The public statuses, narrowed to open or closed; every page costs the same, however deep.
	var want []hazard.Status
	for _, st := range hazard.Statuses {
		if len(statuses) == 0 || slices.Contains(statuses, st.Open311()) {
			want = append(want, st)
		}
	}
	if msg, err := h.overLimit(c, searchLimit(c)); err != nil {
		return err
	} else if !msg.IsZero() {
		return refuseMsg(fiber.StatusTooManyRequests, msg)
	}
	res, err := h.store.List(c.UserContext(), store.ListQuery{
		Statuses: h.life.VisibleStatuses(nil, want), Types: codes, From: start, To: end,
		Skip: (page - 1) * size, Limit: size,
	})
	if err != nil {
		return err
	}
	for _, r := range res.Reports {
		list = append(list, h.o311(c.UserContext(), r))
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
		return refuse(fiber.StatusForbidden, "api.open311.api_key")
	} else if err != nil {
		return err
	}
	if ok, retry, err := h.store.Hit(c.UserContext(), "apikey", key.ID, key.PerHour, time.Hour); err != nil {
		return err
	} else if !ok && h.cfg.RateLimits {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retry.Seconds())+1))
		return refuse(fiber.StatusTooManyRequests, "api.open311.key_limit", "Wait", i18n.DurationMsg(retry))
	}
	bad := func(id string, pairs ...any) error { return refuse(fiber.StatusBadRequest, id, pairs...) }
	t, ok := hazard.TypeByCode(c.FormValue("service_code"))
	if c.FormValue("service_code") == "" {
		return bad("api.open311.service_code_required")
	} else if !ok {
		return refuse(fiber.StatusNotFound, "api.open311.service_code", "Value", strconv.Quote(c.FormValue("service_code")))
	}
	severity := c.FormValue("attribute[severity]", "medium")
	if _, ok := hazard.SeverityByCode(severity); !ok {
		return bad("api.open311.severity")
	}
	desc := strings.TrimSpace(strings.Clone(c.FormValue("description")))
	if utf8.RuneCountInString(desc) > hazard.MaxDescription || !utf8.ValidString(desc) {
		return bad("api.open311.description", "Max", hazard.MaxDescription)
	}
	media := strings.TrimSpace(strings.Clone(c.FormValue("media_url")))
	if media != "" {
		u, err := url.Parse(media)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(media) > 2000 {
			return bad("api.open311.media_url")
		}
	}
	// An email given with the request is where its reporter hears back: expiry, duplicates and
	// "has it been fixed?", each mail with a link that stops them.
	email := strings.TrimSpace(strings.Clone(c.FormValue("email")))
	if email != "" && !store.EmailProblem(email).IsZero() {
		return bad("api.open311.email")
	}
	// A client that sends its user's email or name has that user's agreement to pass them on
	// (GeoReport v2): they go with the report to the bodies that fix it.
	first, last := store.CleanName(strings.Clone(c.FormValue("first_name"))), store.CleanName(strings.Clone(c.FormValue("last_name")))
	for _, n := range []string{first, last} {
		if n != "" && !store.NameProblem(n).IsZero() {
			return bad("api.open311.name")
		}
	}
	var contact *store.Contact
	if email != "" || first != "" || last != "" {
		contact = &store.Contact{FirstName: first, LastName: last, Email: email}
	}
	var lat, lng float64
	switch ls, gs, addr := c.FormValue("lat"), c.FormValue("long"), strings.TrimSpace(c.FormValue("address_string")); {
	case ls != "" || gs != "":
		var err1, err2 error
		lat, err1 = strconv.ParseFloat(ls, 64)
		lng, err2 = strconv.ParseFloat(gs, 64)
		if err1 != nil || err2 != nil {
			return bad("api.open311.lat_long")
		}
		if msg := geocode.CheckPoint(lat, lng); !msg.IsZero() {
			return refuseMsg(fiber.StatusBadRequest, msg)
		}
	case addr != "":
		if msg := geocode.CheckQuery(addr); !msg.IsZero() {
			return bad("api.open311.address_problem", "Problem", msg)
		}
		places, err := h.geo.Search(c.UserContext(), addr, 1)
		if err != nil {
			return err
		}
		if len(places) == 0 {
			return bad("api.open311.address_unknown")
		}
		lat, lng = places[0].Lat, places[0].Lng
	default:
		return bad("api.open311.location")
	}
	r, _, err := h.life.Create(c.UserContext(), lifecycle.Draft{
		ID: store.NewReportID(), ReporterID: "apikey:" + key.ID[:16], Type: t.Code, Severity: severity,
		Description: desc, Lat: lat, Lng: lng, HasPlace: true, Source: "open311:" + key.Name, MediaURL: media,
		ContactEmail: email, Contact: contact,
	})
	var le *lifecycle.Error
	if errors.As(err, &le) {
		if len(le.Close) > 0 {
			return bad("api.open311.too_close", "Metres", int(h.cfg.TooCloseRadius), "ID", le.Close[0].ID)
		}
		for _, msg := range le.Fields {
			return refuseMsg(fiber.StatusBadRequest, msg)
		}
		return refuseMsg(fiber.StatusBadRequest, le.Msg)
	}
	if err != nil {
		return err
	}
	if err := h.store.Audit(c.UserContext(), store.AuditEntry{Actor: "apikey:" + key.ID[:16], Action: "report.create.open311", Target: r.ID, IP: c.IP(), Note: key.Name}); err != nil {
		h.log.Error("audit entry lost", "err", err)
	}
	out := []o311Created{{ID: r.ID, ServiceNotice: i18n.Say(c.UserContext(), h.moderationNote())}}
	return open311Write(c, fiber.StatusCreated, format, out, o311CreatedList{Requests: out})
}
