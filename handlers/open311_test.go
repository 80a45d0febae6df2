package handlers

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"hazardwatch/store"
)

// xmlNode is a generic XML tree, to compare documents with the spec's element names.
type xmlNode struct {
	XMLName xml.Name
	Nodes   []xmlNode `xml:",any"`
	Text    string    `xml:",chardata"`
}

func (n xmlNode) child(name string) *xmlNode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == name {
			return &n.Nodes[i]
		}
	}
	return nil
}

func (n xmlNode) names() []string {
	var out []string
	for _, c := range n.Nodes {
		out = append(out, c.XMLName.Local)
	}
	sort.Strings(out)
	return out
}

func sorted(xs ...string) []string { sort.Strings(xs); return xs }

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	serviceFields = sorted("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
	requestFields = sorted("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
		"agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address",
		"address_id", "zipcode", "lat", "long", "media_url")
	attributeFields = sorted("variable", "code", "datatype", "required", "datatype_description", "order", "description", "values")
)

func (c *client) o311JSON(path string, into any) *http.Response {
	c.t.Helper()
	resp, body := c.get("/open311/v2/" + path)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		c.t.Fatalf("%s: content type %q", path, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		c.t.Fatalf("%s: %v\n%s", path, err, body)
	}
	return resp
}

func (c *client) o311XML(path string) (*http.Response, xmlNode) {
	c.t.Helper()
	resp, body := c.get("/open311/v2/" + path)
	if resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" || !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`) {
		c.t.Fatalf("%s: not an XML document: %q %.80s", path, resp.Header.Get("Content-Type"), body)
	}
	var n xmlNode
	if err := xml.Unmarshal([]byte(body), &n); err != nil {
		c.t.Fatalf("%s: %v", path, err)
	}
	return resp, n
}

func TestOpen311DiscoveryAndServices(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	var d map[string]any
	c.o311JSON("discovery.json", &d)
	if !equal(keys(d), sorted("changeset", "contact", "key_service", "endpoints")) {
		t.Fatalf("discovery keys %v", keys(d))
	}
	ep := d["endpoints"].([]any)[0].(map[string]any)
	if ep["url"] != "http://localhost:8080/open311/v2" || len(ep["formats"].([]any)) != 2 {
		t.Fatalf("endpoint %v", ep)
	}
	_, dx := c.o311XML("discovery.xml")
	if dx.XMLName.Local != "discovery" || dx.child("endpoints").child("endpoint").child("formats").child("format") == nil {
		t.Fatalf("discovery.xml: %+v", dx.names())
	}

	var services []map[string]any
	c.o311JSON("services.json", &services)
	if len(services) != 12 || !equal(keys(services[0]), serviceFields) || services[0]["service_code"] != "pothole" {
		t.Fatalf("services.json: %d %v", len(services), keys(services[0]))
	}
	_, sx := c.o311XML("services.xml")
	if sx.XMLName.Local != "services" || len(sx.Nodes) != 12 || !equal(sx.Nodes[0].names(), serviceFields) {
		t.Fatalf("services.xml: %v", sx.Nodes[0].names())
	}

	var def map[string]any
	c.o311JSON("services/pothole.json", &def)
	attr := def["attributes"].([]any)[0].(map[string]any)
	if def["service_code"] != "pothole" || !equal(keys(attr), attributeFields) || attr["datatype"] != "singlevaluelist" || len(attr["values"].([]any)) != 3 {
		t.Fatalf("service definition: %v", def)
	}
	_, defx := c.o311XML("services/pothole.xml")
	ax := defx.child("attributes").child("attribute")
	if defx.XMLName.Local != "service_definition" || ax == nil || !equal(ax.names(), attributeFields) || len(ax.child("values").Nodes) != 3 {
		t.Fatalf("service definition xml: %+v", defx.names())
	}
	// Unknown service and format: 404, in the requested format.
	var errs []map[string]any
	if resp := c.o311JSON("services/volcano.json", &errs); resp.StatusCode != 404 || errs[0]["code"] != float64(404) || errs[0]["description"] == "" {
		t.Fatalf("unknown service: %d %v", resp.StatusCode, errs)
	}
	if resp, ex := c.o311XML("services/volcano.xml"); resp.StatusCode != 404 || ex.XMLName.Local != "errors" || ex.child("error").child("code").Text != "404" {
		t.Fatalf("unknown service xml: %d %+v", resp.StatusCode, ex)
	}
	if resp, _ := c.get("/open311/v2/services.csv"); resp.StatusCode != 404 {
		t.Fatalf("unknown format: %d", resp.StatusCode)
	}
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func postOpen311(c *client, format string, v url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.base+"/open311/v2/requests."+format, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// The round trip: post with a key, find it via GET requests, moderate it, see the change.
func TestOpen311RoundTrip(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	key, _, err := e.store.CreateAPIKey(t.Context(), "City works app", 100)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	resp, body := postOpen311(c, "json", url.Values{"api_key": {key}, "service_code": {"pothole"}, "lat": {"32.8191"}, "long": {"34.9983"},
		"description": {"Pothole by the bus stop"}, "attribute[severity]": {"high"}, "media_url": {"https://example.org/p.jpg"},
		"email": {"someone@example.org"}, "first_name": {"Sam"}})
	var created []map[string]string
	if err := json.Unmarshal([]byte(body), &created); err != nil || resp.StatusCode != http.StatusCreated || created[0]["service_request_id"] == "" {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	id := created[0]["service_request_id"]
	r, _ := e.store.Report(t.Context(), id)
	if r.Severity != "high" || r.Source != "open311:City works app" || r.MediaURL != "https://example.org/p.jpg" || !strings.Contains(r.Address, "Haifa") {
		t.Fatalf("stored: %+v", r)
	}

	var list []map[string]any
	c.o311JSON("requests.json", &list)
	if len(list) != 1 || list[0]["service_request_id"] != id || !equal(keys(list[0]), requestFields) || list[0]["status"] != "open" {
		t.Fatalf("requests.json: %v", list)
	}
	if _, err := time.Parse(time.RFC3339, list[0]["requested_datetime"].(string)); err != nil {
		t.Fatalf("requested_datetime: %v", err)
	}
	_, lx := c.o311XML("requests/" + id + ".xml")
	if lx.XMLName.Local != "service_requests" || !equal(lx.child("request").names(), requestFields) {
		t.Fatalf("request xml: %v", lx.child("request").names())
	}

	// A moderator resolves it in the app; the API shows closed with the note.
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	mod.post("/moderation/reports/"+id, url.Values{"action": {"approve"}, "version": {"1"}})
	mod.post("/moderation/reports/"+id, url.Values{"action": {"resolve"}, "note": {"Patched on Monday"}, "version": {"2"}})
	var one []map[string]any
	c.o311JSON("requests/"+id+".json", &one)
	if one[0]["status"] != "closed" || one[0]["status_notes"] != "Patched on Monday" {
		t.Fatalf("after moderation: %v", one[0])
	}
	var closed []map[string]any
	c.o311JSON("requests.json?status=closed&service_code=pothole", &closed)
	var open []map[string]any
	c.o311JSON("requests.json?status=open", &open)
	if len(closed) != 1 || len(open) != 0 {
		t.Fatalf("status filter: %d closed, %d open", len(closed), len(open))
	}
	var byID []map[string]any
	c.o311JSON("requests.json?service_request_id="+id+",nosuchreport0000&status=open", &byID)
	if len(byID) != 1 {
		t.Fatal("service_request_id must override the other filters")
	}
}

func TestOpen311Keys(t *testing.T) {
	e := newEnv(t)
	key, k, _ := e.store.CreateAPIKey(t.Context(), "Tiny", 2)
	c := e.client(t)
	post := func(apiKey string, lat string) (int, string) {
		resp, body := postOpen311(c, "xml", url.Values{"api_key": {apiKey}, "service_code": {"crack"}, "lat": {lat}, "long": {"35"}})
		return resp.StatusCode, body
	}
	if code, body := post("", "32.1"); code != 403 || !strings.Contains(body, "<code>403</code>") {
		t.Fatalf("missing key: %d %s", code, body)
	}
	if code, _ := post("hw_not-a-real-key", "32.1"); code != 403 {
		t.Fatalf("bad key: %d", code)
	}
	if code, _ := post(key, "32.1"); code != 201 {
		t.Fatalf("good key: %d", code)
	}
	if code, _ := post(key, "32.2"); code != 201 {
		t.Fatalf("second request: %d", code)
	}
	if code, body := post(key, "32.3"); code != 429 || !strings.Contains(body, "<errors>") {
		t.Fatalf("over the key's limit: %d %s", code, body)
	}
	if err := e.store.RevokeAPIKey(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(key, "32.4"); code != 403 {
		t.Fatalf("revoked key: %d", code)
	}
}

func TestOpen311BadInput(t *testing.T) {
	e := newEnv(t)
	key, _, _ := e.store.CreateAPIKey(t.Context(), "Client", 1000)
	c := e.client(t)
	base := func() url.Values {
		return url.Values{"api_key": {key}, "service_code": {"flooding"}, "lat": {"40.1"}, "long": {"20.1"}}
	}
	for name, tc := range map[string]struct {
		edit func(url.Values)
		code int
	}{
		"no service":    {func(v url.Values) { v.Del("service_code") }, 400},
		"bad service":   {func(v url.Values) { v.Set("service_code", "volcano") }, 404},
		"no location":   {func(v url.Values) { v.Del("lat"); v.Del("long") }, 400},
		"half location": {func(v url.Values) { v.Del("long") }, 400},
		"off the map":   {func(v url.Values) { v.Set("lat", "95") }, 400},
		"long text":     {func(v url.Values) { v.Set("description", strings.Repeat("x", 2001)) }, 400},
		"bad severity":  {func(v url.Values) { v.Set("attribute[severity]", "apocalyptic") }, 400},
		"bad media":     {func(v url.Values) { v.Set("media_url", "javascript:alert(1)") }, 400},
		"bad address":   {func(v url.Values) { v.Del("lat"); v.Del("long"); v.Set("address_string", "qqqzzzxxx") }, 400},
		"jurisdiction":  {func(v url.Values) {}, 201},
	} {
		v := base()
		v.Set("lat", "40."+strings.Repeat("1", len(name)%5+1)) // apart, so no duplicate check fires
		tc.edit(v)
		resp, body := postOpen311(c, "json", v)
		var errs []map[string]any
		_ = json.Unmarshal([]byte(body), &errs)
		if resp.StatusCode != tc.code || (tc.code != 201 && (len(errs) != 1 || errs[0]["description"] == "")) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// Geocoded address_string works.
	v := base()
	v.Del("lat")
	v.Del("long")
	v.Set("address_string", "Nazareth")
	if resp, body := postOpen311(c, "json", v); resp.StatusCode != 201 {
		t.Fatalf("address_string: %d %s", resp.StatusCode, body)
	}
	// A second request at the same place and service is refused as a duplicate, naming the first.
	v = base()
	v.Set("lat", "41.5")
	postOpen311(c, "json", v)
	if resp, body := postOpen311(c, "json", v); resp.StatusCode != 400 || !strings.Contains(body, "service_request_id") {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, body)
	}

	for _, q := range []string{"start_date=yesterday", "end_date=2026-13-01", "status=pending", "page=0", "page_size=1001", "page_size=x",
		"start_date=2026-11-20T00:00:00Z&end_date=2026-11-10T00:00:00Z"} {
		if resp, _ := c.get("/open311/v2/requests.json?" + q); resp.StatusCode != 400 {
			t.Errorf("%s: %d", q, resp.StatusCode)
		}
	}
	if resp, _ := c.get("/open311/v2/requests.json?service_code=volcano"); resp.StatusCode != 404 {
		t.Errorf("unknown service_code: %d", resp.StatusCode)
	}
	// Empty parameters behave as not sent.
	var all, empty []map[string]any
	c.o311JSON("requests.json", &all)
	c.o311JSON("requests.json?service_code=&status=&start_date=&end_date=&page=&page_size=", &empty)
	if len(all) == 0 || len(all) != len(empty) {
		t.Fatalf("empty parameters: %d vs %d", len(empty), len(all))
	}
	var paged []map[string]any
	c.o311JSON("requests.json?page=2&page_size=1", &paged)
	if len(paged) != 1 || paged[0]["service_request_id"] != all[1]["service_request_id"] {
		t.Fatal("paging")
	}
	if resp, _ := c.get("/open311/v2/requests/nosuchreport0000.json"); resp.StatusCode != 404 {
		t.Fatal("unknown request")
	}
}

func TestOpen311Jurisdiction(t *testing.T) {
	e := newEnv(t, "OPEN311_JURISDICTION", "haifa.example.org")
	c := e.client(t)
	if resp, _ := c.get("/open311/v2/services.json?jurisdiction_id=haifa.example.org"); resp.StatusCode != 200 {
		t.Fatalf("right jurisdiction: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/open311/v2/services.json?jurisdiction_id=elsewhere"); resp.StatusCode != 404 {
		t.Fatalf("wrong jurisdiction: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/open311/v2/services.json?jurisdiction_id="); resp.StatusCode != 200 {
		t.Fatalf("empty jurisdiction: %d", resp.StatusCode)
	}
}

func TestAdminAPIKeysPage(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	resp, body := admin.post("/admin/api-keys", url.Values{"name": {"Fix app"}, "per_hour": {"50"}})
	key := strings.TrimSpace(doc(t, body).Find(`[data-testid="new-key"]`).Text())
	if resp.StatusCode != 201 || !strings.HasPrefix(key, "hw_") {
		t.Fatalf("create: %d %q", resp.StatusCode, key)
	}
	k, err := e.store.APIKeyFor(t.Context(), key)
	if err != nil || k.Name != "Fix app" || k.PerHour != 50 {
		t.Fatalf("stored: %+v %v", k, err)
	}
	// Only the hash is stored.
	all, _ := e.store.Client().Keys(t.Context(), "*").Result()
	for _, name := range all {
		if strings.Contains(name, key) {
			t.Fatal("the raw key is a key name")
		}
	}
	if _, body := admin.get("/admin/api-keys"); strings.Contains(body, key) {
		t.Fatal("the key is shown again")
	}
	if resp, _ := admin.post("/admin/api-keys", url.Values{"name": {""}, "per_hour": {"0"}}); resp.StatusCode != 422 {
		t.Fatalf("bad form: %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/admin/api-keys/"+k.ID+"/revoke", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := e.store.APIKeyFor(t.Context(), key); err == nil {
		t.Fatal("revoked key still works")
	}
}
