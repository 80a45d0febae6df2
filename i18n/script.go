package i18n

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// The browser's words: every message whose id starts with "js." goes to the browser as a small
// script per language, served at a content-hashed URL (so it is cached for a year and changes
// when a catalog does) and loaded before the site's scripts, with no inline script. static/js/app.js
// reads it (window.hwI18n) and says messages with hwT(id, data), choosing plural forms with the
// browser's Intl.PluralRules.

// ScriptPrefix is where the scripts are served: ScriptPrefix + "<tag>.<hash>.js".
const ScriptPrefix = "/i18n/"

type script struct {
	url  string
	body []byte
}

var scripts = map[string]script{}

// jsMessages are the browser's messages of one language: id -> plural form -> text ("other"
// for messages without plural forms), with {{.Name}} placeholders.
func jsMessages(l *Localizer) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, id := range Messages {
		if !strings.HasPrefix(id, "js.") {
			continue
		}
		forms := map[string]string{}
		for _, form := range []string{"zero", "one", "two", "few", "many", "other"} {
			if s, ok := l.form(id, form); ok {
				forms[form] = s
			}
		}
		out[id] = forms
	}
	return out
}

// form is a message's text in one plural form, with its placeholders left in.
func (l *Localizer) form(id, form string) (string, bool) {
	if l.lang.Tag == Pseudo.Tag {
		s, ok := localizers[Languages[0].Tag].form(id, form)
		if !ok {
			return "", false
		}
		return pseudo(s), true
	}
	msg, ok := rawMessages[l.lang.Tag][id]
	if !ok {
		msg, ok = rawMessages[Languages[0].Tag][id]
	}
	if !ok {
		return "", false
	}
	var s string
	switch form {
	case "zero":
		s = msg.Zero
	case "one":
		s = msg.One
	case "two":
		s = msg.Two
	case "few":
		s = msg.Few
	case "many":
		s = msg.Many
	default:
		s = msg.Other
	}
	return s, s != ""
}

// rawMessages are the catalogs' messages as written, by language and id.
var rawMessages = map[string]map[string]*goi18n.Message{}

func buildScripts() {
	for _, l := range append(Languages, Pseudo) {
		data := map[string]any{"lang": l.Tag, "dir": l.Dir, "messages": jsMessages(localizers[l.Tag])}
		b, err := json.Marshal(data)
		if err != nil {
			panic(err)
		}
		body := append(append([]byte("window.hwI18n="), b...), ";\n"...)
		sum := sha256.Sum256(body)
		scripts[l.Tag] = script{url: ScriptPrefix + l.Tag + "." + hex.EncodeToString(sum[:6]) + ".js", body: body}
	}
}

// ScriptURL is the URL of the browser's messages in language tag (English for one not offered).
func ScriptURL(tag string) string {
	if s, ok := scripts[For(tag).lang.Tag]; ok {
		return s.url
	}
	return scripts[Languages[0].Tag].url
}

// Script is the body served at a ScriptURL (ok false for any other path).
func Script(path string) ([]byte, bool) {
	for _, s := range scripts {
		if s.url == path {
			return s.body, true
		}
	}
	return nil, false
}
