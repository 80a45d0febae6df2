package store

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"hazardwatch/i18n"
)

// EmailProblem says what is wrong with an email address (the zero Msg: nothing). The web forms
// and the CLI share it, so an account made either way obeys the same rules.
func EmailProblem(email string) i18n.Msg {
	switch {
	case email == "":
		return i18n.M("errors.email.empty")
	case len(email) > 254:
		return i18n.M("errors.email.long")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return i18n.M("errors.email.invalid")
	}
	return i18n.Msg{}
}

// CleanName folds white space in a display name.
func CleanName(name string) string { return strings.Join(strings.Fields(name), " ") }

// NameProblem says what is wrong with a (cleaned) display name: 1 to 80 characters, printable.
func NameProblem(name string) i18n.Msg {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return i18n.M("errors.name.empty")
	case n > 80:
		return i18n.M("errors.name.long")
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return i18n.M("errors.name.chars")
	}
	return i18n.Msg{}
}
