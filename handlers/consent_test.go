package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hazardwatch/store"
)

// Contact consent (issue 15): the form's contact_ok box starts unticked, keeps its state when the
// form comes back with errors, and only when ticked does the report keep the reporter's name
// (split into first word and rest) and address for the bodies; the reporter's own page says which.
func TestContactConsentOnTheForm(t *testing.T) {
	e := newEnv(t)
	c, u := e.signedIn(t, "Dana  Levi Cohen", store.RoleCitizen)
	box := `input[type="checkbox"][name="contact_ok"][value="1"]`
	_, form := c.get("/reports/new")
	if d := doc(t, form); d.Find(box).Length() != 1 || d.Find(box+"[checked]").Length() != 0 {
		t.Fatal("the form has no unticked contact_ok box")
	} else if !strings.Contains(d.Find(`label:has(`+box+`)`).Text(), "Share my name and email with the body that fixes this") {
		t.Fatalf("label: %q", d.Find(`label:has(`+box+`)`).Text())
	}

	// A form that comes back with an error keeps the box as it was.
	for _, ticked := range []bool{true, false} {
		v := reportFields("pothole", 32.8191, 34.9983)
		v.Del("severity")
		if ticked {
			v.Set("contact_ok", "1")
		}
		resp, body := c.postReport(v)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("no severity: %d", resp.StatusCode)
		}
		if got := doc(t, body).Find(box+"[checked]").Length() == 1; got != ticked {
			t.Fatalf("ticked %v came back ticked %v", ticked, got)
		}
	}

	consent := reportFields("pothole", 32.8191, 34.9983)
	consent.Set("contact_ok", "1")
	agreed := reportIDFrom(t, func() *http.Response { r, _ := c.postReport(consent); return r }())
	plain := reportIDFrom(t, func() *http.Response {
		v := reportFields("flooding", 32.8291, 34.9883)
		v.Set("contact_ok", "yes please") // only the box's own value counts
		r, _ := c.postReport(v)
		return r
	}())
	if r, _ := e.store.Report(t.Context(), agreed); r.Contact == nil || *r.Contact != (store.Contact{FirstName: "Dana", LastName: "Levi Cohen", Email: u.Email}) {
		t.Fatalf("agreed: %+v", r.Contact)
	}
	if r, _ := e.store.Report(t.Context(), plain); r.Contact != nil {
		t.Fatalf("not agreed, yet kept: %+v", r.Contact)
	}
	consentLine := func(cl *client, id string) string {
		t.Helper()
		_, page := cl.get("/reports/" + id)
		return doc(t, page).Find(`[data-testid="contact-consent"]`).Text()
	}
	if s := consentLine(c, agreed); !strings.Contains(s, "You agreed to share your name and email") {
		t.Fatalf("the reporter's page says %q", s)
	}
	if s := consentLine(c, plain); !strings.Contains(s, "not shared") {
		t.Fatalf("the reporter's page says %q", s)
	}
	other, _ := e.signedIn(t, "Other", store.RoleCitizen)
	if s := consentLine(other, agreed) + consentLine(e.client(t), agreed); s != "" {
		t.Fatalf("someone else sees the reporter's choice: %q", s)
	}

	// A guest: the name they gave (if any) and the address the link goes to.
	g := e.client(t)
	for _, tc := range []struct {
		name string
		want *store.Contact
		tick bool
	}{
		{"Gil", &store.Contact{FirstName: "Gil", Email: "gil@example.org"}, true},
		{"", &store.Contact{Email: "gil@example.org"}, true},
		{"Gil", nil, false},
	} {
		v := guestFields("gil@example.org", 32.8391, 34.9783+float64(len(tc.name))/100)
		if !tc.tick {
			v.Set("lat", "32.8491")
		}
		v.Set("name", tc.name)
		if tc.tick {
			v.Set("contact_ok", "1")
		}
		if resp, _ := g.postReport(v); resp.Header.Get("Location") != "/reports/sent" {
			t.Fatalf("guest report: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		r, err := e.store.Report(t.Context(), store.ReportID("", v.Get("idem")))
		if err != nil {
			t.Fatal(err)
		}
		if (r.Contact == nil) != (tc.want == nil) || (r.Contact != nil && *r.Contact != *tc.want) {
			t.Fatalf("guest %q ticked %v: %+v", tc.name, tc.tick, r.Contact)
		}
	}
}

// An Open311 client that sends its user's email or name passes on that user's agreement
// (GeoReport v2); one that sends neither shares nothing; a bad name is refused with a message.
func TestContactConsentThroughOpen311(t *testing.T) {
	e := newEnv(t)
	key, _, err := e.store.CreateAPIKey(t.Context(), "Client", 1000)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	post := func(lat string, extra url.Values) (int, string) {
		t.Helper()
		v := url.Values{"api_key": {key}, "service_code": {"pothole"}, "lat": {lat}, "long": {"20.1"}}
		for k, vs := range extra {
			v[k] = vs
		}
		resp, body := postOpen311(c, "json", v)
		var out []map[string]string
		if resp.StatusCode == http.StatusCreated {
			if err := json.Unmarshal([]byte(body), &out); err != nil || len(out) != 1 {
				t.Fatalf("answer: %s", body)
			}
			return resp.StatusCode, out[0]["service_request_id"]
		}
		return resp.StatusCode, body
	}
	for _, tc := range []struct {
		lat  string
		form url.Values
		want *store.Contact
	}{
		{"40.11", url.Values{"email": {"sam@example.org"}, "first_name": {" Sam "}, "last_name": {"de la Cruz"}},
			&store.Contact{FirstName: "Sam", LastName: "de la Cruz", Email: "sam@example.org"}},
		{"40.12", url.Values{"first_name": {"Sam"}}, &store.Contact{FirstName: "Sam"}},
		{"40.13", url.Values{"email": {"sam@example.org"}}, &store.Contact{Email: "sam@example.org"}},
		{"40.14", nil, nil},
	} {
		code, id := post(tc.lat, tc.form)
		if code != http.StatusCreated {
			t.Fatalf("%v: %d %s", tc.form, code, id)
		}
		r, err := e.store.Report(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if (r.Contact == nil) != (tc.want == nil) || (r.Contact != nil && *r.Contact != *tc.want) {
			t.Fatalf("%v: stored %+v", tc.form, r.Contact)
		}
	}
	for _, bad := range []url.Values{{"first_name": {strings.Repeat("x", 81)}}, {"last_name": {"a\x07b"}}} {
		code, body := post("40.15", bad)
		if code != http.StatusBadRequest || !strings.Contains(body, "first_name and last_name must each be valid text") {
			t.Fatalf("%v: %d %s", bad, code, body)
		}
	}
}

// From the form to the body: the mail to the body names the reporter who ticked the box, and
// no one else.
func TestContactConsentReachesTheBody(t *testing.T) {
	e := newEnv(t)
	b := &store.Body{ID: store.NewBodyID(), Name: "Haifa Roads", Lang: "en", Types: []string{"pothole"}, Method: store.ByEmail, Email: "roads@haifa.example",
		BBox: [4]float64{34.9, 32.7, 35.1, 32.9}}
	if err := e.store.SaveBody(t.Context(), b, []byte(`{"type":"MultiPolygon","coordinates":[[[[34.9,32.7],[35.1,32.7],[35.1,32.9],[34.9,32.9],[34.9,32.7]]]]}`)); err != nil {
		t.Fatal(err)
	}
	c, u := e.signedIn(t, "Dana Levi", store.RoleCitizen)
	v := reportFields("pothole", 32.8191, 34.9983)
	v.Set("contact_ok", "1")
	agreed := reportIDFrom(t, func() *http.Response { r, _ := c.postReport(v); return r }())
	plain := reportIDFrom(t, func() *http.Response { r, _ := c.postReport(reportFields("pothole", 32.8291, 34.9883)); return r }())
	e.drain(t)
	mails := e.waitMails(t, "roads@haifa.example", 2)
	byReport := map[string]string{}
	for _, m := range mails {
		for _, id := range []string{agreed, plain} {
			if strings.Contains(m.Body, id) {
				byReport[id] = m.Body
			}
		}
	}
	if m := byReport[agreed]; !strings.Contains(m, "Name: Dana Levi") || !strings.Contains(m, "Email: "+u.Email) {
		t.Fatalf("the mail for the report with consent:\n%s", m)
	}
	if m := byReport[plain]; m == "" || strings.Contains(m, "Dana") || strings.Contains(m, u.Email) {
		t.Fatalf("the mail for the report without consent:\n%s", m)
	}
}
