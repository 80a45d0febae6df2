package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"hazardwatch/config"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// `user create|role --role staff --body ID`: the body is required with staff, must exist, and is
// refused with any other role; a refused command changes nothing.
func TestUserStaffCommands(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	ctx := t.Context()
	rdb, err := store.Dial(config.Redis{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	st := store.New(rdb)
	b := &store.Body{ID: store.NewBodyID(), Name: "Haifa Municipality", Lang: "en", Types: []string{"pothole"}, Method: store.ByEmail,
		Email: "roads@haifa.example.org", BBox: [4]float64{34.9, 32.7, 35.1, 32.9}}
	area := `{"type":"MultiPolygon","coordinates":[[[[34.9,32.7],[35.1,32.7],[35.1,32.9],[34.9,32.9],[34.9,32.7]]]]}`
	if err := st.SaveBody(ctx, b, []byte(area)); err != nil {
		t.Fatal(err)
	}
	user := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"user"}, args...), &out, &bytes.Buffer{})
		return out.String(), err
	}
	create := func(email string, more ...string) (string, error) {
		return user(append([]string{"create", "--email", email, "--password", "a long password", "--name", "Stav"}, more...)...)
	}
	staffOf := func() []string {
		us, err := st.BodyStaff(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, u := range us {
			emails = append(emails, u.Email)
		}
		return emails
	}
	refused := func(what string, err error, usage bool, says string) {
		t.Helper()
		var ue usageError
		switch {
		case err == nil:
			t.Errorf("%s: accepted", what)
		case errors.As(err, &ue) != usage || (exitCode(err) == 2) != usage:
			t.Errorf("%s: usage error %v, want %v (exit code %d): %v", what, !usage, usage, exitCode(err), err)
		case !strings.Contains(err.Error(), says):
			t.Errorf("%s: %q does not say %q", what, err, says)
		}
	}

	// create
	_, err = create("a@example.org", "--role", "staff")
	refused("create staff without --body", err, true, "--body: staff work for one body")
	_, err = create("b@example.org", "--role", "staff", "--body", "nosuchbody000000")
	refused("create staff of an unknown body", err, false, "no body has id nosuchbody000000")
	_, err = create("c@example.org", "--role", "moderator", "--body", b.ID)
	refused("create a moderator with --body", err, true, "--body: only with --role staff")
	_, err = create("d@example.org", "--body", b.ID)
	refused("create a citizen with --body", err, true, "--body: only with --role staff")
	for _, email := range []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org"} {
		if _, err := st.UserByEmail(ctx, email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused create made %s: %v", email, err)
		}
	}
	out, err := create("stav@example.org", "--role", "staff", "--body", b.ID)
	if err != nil || !strings.Contains(out, "created staff user Stav <stav@example.org>") {
		t.Fatalf("create staff: %v %q", err, out)
	}
	if u, _ := st.UserByEmail(ctx, "stav@example.org"); u.Role != store.RoleStaff || u.Body != b.ID {
		t.Fatalf("stored: %s %q", u.Role, u.Body)
	}
	if got := staffOf(); len(got) != 1 || got[0] != "stav@example.org" {
		t.Fatalf("the body's staff: %v", got)
	}

	// role
	if _, err := create("cid@example.org"); err != nil {
		t.Fatal(err)
	}
	_, err = user("role", "--email", "cid@example.org", "--role", "staff")
	refused("role staff without --body", err, true, "--body: staff work for one body")
	_, err = user("role", "--email", "cid@example.org", "--role", "staff", "--body", "nosuchbody000000")
	refused("role staff of an unknown body", err, false, "no body has id nosuchbody000000")
	_, err = user("role", "--email", "cid@example.org", "--role", "admin", "--body", b.ID)
	refused("role admin with --body", err, true, "--body: only with --role staff")
	if u, _ := st.UserByEmail(ctx, "cid@example.org"); u.Role != store.RoleCitizen || u.Body != "" {
		t.Fatalf("a refused role change changed the account: %s %q", u.Role, u.Body)
	}
	out, err = user("role", "--email", "cid@example.org", "--role", "staff", "--body", b.ID)
	if err != nil || !strings.Contains(out, "is now staff of body "+b.ID+" (was citizen)") {
		t.Fatalf("role staff: %v %q", err, out)
	}
	if got := staffOf(); len(got) != 2 {
		t.Fatalf("the body's staff: %v", got)
	}
	// Another role drops the body.
	if _, err := user("role", "--email", "stav@example.org", "--role", "moderator"); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.UserByEmail(ctx, "stav@example.org"); u.Role != store.RoleModerator || u.Body != "" {
		t.Fatalf("moderator keeps a body: %q", u.Body)
	}
	if got := staffOf(); len(got) != 1 || got[0] != "cid@example.org" {
		t.Fatalf("the body's staff after: %v", got)
	}
}
