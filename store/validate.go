package store

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EmailProblem says what is wrong with an email address, or "" if nothing. The web forms and the
// CLI share it, so an account made either way obeys the same rules.
func EmailProblem(email string) string {
	switch {
	case email == "":
		return "Enter your email address."
	case len(email) > 254:
		return "That email address is too long."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "Enter an email address like name@example.org."
	}
	return ""
}

// CleanName folds white space in a display name.
func CleanName(name string) string { return strings.Join(strings.Fields(name), " ") }

// NameProblem says what is wrong with a (cleaned) display name: 1 to 80 characters, printable.
func NameProblem(name string) string {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "Enter your name."
	case n > 80:
		return "Keep your name to 80 characters or fewer."
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "Your name contains characters we cannot show."
	}
	return ""
}
