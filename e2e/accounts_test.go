package e2e

import (
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/password"
	"hazardwatch/store"
)

const pw = "correct horse battery"

var userSeq atomic.Int64

// newUser creates an account through the store, as `hazardwatch user create` does.
func newUser(t *testing.T, role store.Role) (name, email string) {
	t.Helper()
	n := userSeq.Add(1)
	name, email = fmt.Sprintf("Tester %d", n), fmt.Sprintf("tester%d-%d@example.org", n, time.Now().UnixNano())
	hash, err := password.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := theApp.Store.CreateUser(t.Context(), &store.User{Name: name, Email: email, PasswordHash: hash, Role: role}); err != nil {
		t.Fatal(err)
	}
	return name, email
}

func (s *session) fill(label, value string) {
	s.t.Helper()
	if err := s.page.GetByLabel(label, playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(value); err != nil {
		s.t.Fatalf("fill %s: %v", label, err)
	}
}

func (s *session) click(role playwright.AriaRole, name string) {
	s.t.Helper()
	if err := s.page.GetByRole(role, playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)}).Click(); err != nil {
		s.t.Fatalf("click %s %q: %v", role, name, err)
	}
}

func (s *session) see(testID, text string) {
	s.t.Helper()
	if err := expect.Locator(s.page.GetByTestId(testID)).ToContainText(text); err != nil {
		s.t.Fatalf("%s should say %q: %v", testID, text, err)
	}
}

// signIn signs in through the real form.
func (s *session) signIn(email, password string) {
	s.t.Helper()
	s.goto_("/login")
	s.fill("Email", email)
	s.fill("Password", password)
	s.click("button", "Sign in")
}

func (s *session) signOut() {
	s.t.Helper()
	if err := s.page.GetByTestId("sign-out").Click(); err != nil {
		s.t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Sign in"})).ToBeVisible(); err != nil {
		s.t.Fatal("not signed out: ", err)
	}
}

var linkRe = regexp.MustCompile(`https?://\S+`)

// mailLink waits for the newest mail to `to` with a subject containing subject and returns
// its link.
func mailLink(t *testing.T, to, subject string, after int) (string, int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
		sort.Strings(files)
		var links []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			m, err := mail.ReadMessage(strings.NewReader(string(b)))
			if err != nil || m.Header.Get("To") != to {
				continue
			}
			// Subjects outside ASCII (Hebrew) are encoded words.
			if subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || !strings.Contains(subj, subject) {
				continue
			}
			body, _ := io.ReadAll(m.Body)
			links = append(links, linkRe.FindString(string(body)))
		}
		if len(links) > after {
			return links[len(links)-1], len(links)
		}
	}
	t.Fatalf("no mail %q to %s in %s", subject, to, mailDir)
	return "", 0
}

func TestRegisterSignOutSignIn(t *testing.T) {
	s := open(t)
	email := fmt.Sprintf("ada-%d@example.org", time.Now().UnixNano())
	s.goto_("/")
	if err := s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Register"}).Click(); err != nil {
		t.Fatal(err)
	}
	// A mistake first: the message sits by the field and what was typed stays.
	s.fill("Your name", "Ada Lovelace")
	s.fill("Email", email)
	s.fill("Password", "short")
	s.click("button", "Create account")
	s.see("error-password", "at least 10 characters")
	if err := expect.Locator(s.page.GetByLabel("Email")).ToHaveValue(email); err != nil {
		t.Fatal("typed email lost: ", err)
	}
	s.fill("Password", pw)
	s.click("button", "Create account")
	// The same answer as for an address that already has an account: check your email.
	s.see("register-sent", email)
	link, _ := mailLink(t, email, "Confirm your email", 0)
	if _, err := s.page.Goto(link); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(s.page.Locator("#flash")).ToContainText("your email address is confirmed"); err != nil {
		t.Fatal(err)
	}
	s.fill("Email", email)
	s.fill("Password", pw)
	s.click("button", "Sign in")
	s.see("nav-user", "Ada Lovelace")
	s.goto_("/account")
	s.see("email-verified", "Verified")

	s.signOut()
	s.signIn(email, pw)
	s.see("nav-user", "Ada Lovelace")
	s.noProblems()
}

func TestWrongPassword(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := open(t)
	s.signIn(email, "not the password")
	s.see("form-error", "That email and password do not match an account.")
	if err := expect.Locator(s.page.GetByLabel("Email")).ToHaveValue(email); err != nil {
		t.Fatal("typed email lost: ", err)
	}
	if n, _ := s.page.GetByTestId("nav-user").Count(); n != 0 {
		t.Fatal("signed in with a wrong password")
	}
	s.noProblems()
}

func TestForgotPassword(t *testing.T) {
	name, email := newUser(t, store.RoleCitizen)
	s := open(t)
	s.goto_("/login")
	if err := s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Forgot your password?"}).Click(); err != nil {
		t.Fatal(err)
	}
	s.fill("Email", email)
	s.click("button", "Send the link")
	s.see("forgot-sent", "we have sent it a link")
	link, _ := mailLink(t, email, "Reset your", 0)

	s.goto_(strings.TrimPrefix(link, baseURL))
	s.fill("New password", "a fresh new password")
	s.click("button", "Save the new password")
	if err := expect.Locator(s.page.Locator("#flash")).ToContainText("Your password has been changed"); err != nil {
		t.Fatal(err)
	}

	s.signIn(email, pw)
	s.see("form-error", "do not match")
	s.signIn(email, "a fresh new password")
	s.see("nav-user", name)

	// The link worked once.
	if _, err := s.page.Goto(link); err != nil {
		t.Fatal(err)
	}
	s.see("reset-invalid", "work once")
}

func TestRevokeAnotherSession(t *testing.T) {
	name, email := newUser(t, store.RoleCitizen)
	phone := open(t, playwright.BrowserNewContextOptions{
		UserAgent: playwright.String("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/156.0 Mobile Safari/537.36"),
		Viewport:  &playwright.Size{Width: 390, Height: 800},
	})
	phone.signIn(email, pw)
	phone.see("nav-user", name)

	laptop := open(t)
	laptop.signIn(email, pw)
	laptop.goto_("/account")
	rows := laptop.page.GetByTestId("session-row")
	if err := expect.Locator(rows).ToHaveCount(2); err != nil {
		t.Fatal(err)
	}
	other := laptop.page.Locator(`[data-testid="session-row"][data-current="false"]`)
	if err := expect.Locator(other).ToContainText("Chrome on Android"); err != nil {
		t.Fatal(err)
	}
	if err := other.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Sign out this device"}).Click(); err != nil {
		t.Fatal(err)
	}
	// htmx removes the row in place.
	if err := expect.Locator(rows).ToHaveCount(1); err != nil {
		t.Fatal(err)
	}
	phone.goto_("/")
	if err := expect.Locator(phone.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Sign in"})).ToBeVisible(); err != nil {
		t.Fatal("the revoked phone is still signed in: ", err)
	}
	laptop.goto_("/account")
	laptop.see("account-name", name)
	laptop.noProblems()
}

func TestAccountPagesAccessibility(t *testing.T) {
	for _, p := range []string{"/login", "/register", "/password/forgot", "/password/reset?token=nope"} {
		checkAccessibility(t, p)
	}
	// The account page, signed in: sign in inside the axe context itself.
	_, email := newUser(t, store.RoleCitizen)
	checkAccessibilityAfter(t, "/account", func(s *session) { s.signIn(email, pw); s.see("nav-user", "Tester") })
}
