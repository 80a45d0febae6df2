package routing

import (
	"context"
	"strings"
	"testing"

	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// The reporter's name and address go to a body only when they agreed: the Open311 POST carries
// email, first_name and last_name (empty ones left out), the body's mail names them; a report
// without consent sends none of them.
func TestContactGoesOnlyWithConsent(t *testing.T) {
	f := newFake311(t)
	e := newEnv(t, Config{})
	e.body(t, open311Body("Roads Agency", f.URL+"/v2", "pothole"), square(32.8, 35.0, 1))
	e.body(t, &store.Body{Name: "City", Lang: "en", Types: []string{"pothole"}, Method: store.ByEmail, Email: "roads@city.test"}, square(32.8, 35.0, 1))
	create := func(c *store.Contact) *store.Report {
		t.Helper()
		r, _, err := e.life.Create(context.Background(), lifecycle.Draft{ID: store.NewReportID(), ReporterID: "citizen000000001",
			Type: "pothole", Severity: "high", Description: "Deep hole", Lat: 32.8, Lng: 35.0, HasPlace: true, AllowClose: true, Contact: c})
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		return r
	}
	cases := []struct {
		name    string
		contact *store.Contact
		form    map[string]string // what the POST carries ("" = absent)
		mail    []string          // lines the mail has
	}{
		{"agreed", lifecycle.SharedContact("  Dana   Levi Cohen ", "dana@example.org"),
			map[string]string{"email": "dana@example.org", "first_name": "Dana", "last_name": "Levi Cohen"},
			[]string{"The reporter agreed that you may contact them:", "Name: Dana Levi Cohen", "Email: dana@example.org"}},
		{"agreed, no name", lifecycle.SharedContact("", "guest@example.org"),
			map[string]string{"email": "guest@example.org", "first_name": "", "last_name": ""},
			[]string{"The reporter agreed that you may contact them:", "Email: guest@example.org"}},
		{"not asked", nil, map[string]string{"email": "", "first_name": "", "last_name": ""}, nil},
	}
	for i, tc := range cases {
		r := create(tc.contact)
		if f.postCount() != i+1 {
			t.Fatalf("%s: %d posts", tc.name, f.postCount())
		}
		f.mu.Lock()
		got := f.posts[i]
		f.mu.Unlock()
		if !strings.Contains(got["description"], r.ID) {
			t.Fatalf("%s: post %d is not this report: %v", tc.name, i, got)
		}
		for k, want := range tc.form {
			if v, ok := got[k]; v != want || (want == "" && ok) {
				t.Errorf("%s: posted %s=%q (present %v), want %q", tc.name, k, v, ok, want)
			}
		}
		mails := e.mails(t)
		if len(mails) != 1 {
			t.Fatalf("%s: %d mails", tc.name, len(mails))
		}
		for _, line := range tc.mail {
			if !strings.Contains(mails[0].Text, line) {
				t.Errorf("%s: the mail lacks %q:\n%s", tc.name, line, mails[0].Text)
			}
		}
		if tc.contact == nil && (strings.Contains(mails[0].Text, "contact them") || strings.Contains(mails[0].Text, "@example.org")) {
			t.Errorf("%s: the mail shares a contact:\n%s", tc.name, mails[0].Text)
		}
	}
}
