// Package i18n holds every user-facing string of Hazard Watch in message catalogs, one folder per
// language under locales/ (go-i18n, TOML, CLDR plural rules), and picks the language of each
// request. It is its own package because pages, htmx fragments, mails, JSON errors and the
// browser's scripts all speak through it, and none of handlers, views or mail owns the others.
//
// Adding a language is a folder of catalogs under locales/ and a line in Languages.
package i18n

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/BurntSushi/toml"
	cldr "github.com/go-playground/locales"
	cldren "github.com/go-playground/locales/en"
	cldrhe "github.com/go-playground/locales/he"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Lang is a language the site speaks.
type Lang struct {
	Tag  string // BCP 47: "en", "he"
	Name string // in itself: "English", "עברית"
	Dir  string // "ltr" or "rtl"
	// CLDR formats dates, times and numbers (github.com/go-playground/locales, generated from
	// CLDR): never hand-written month names.
	CLDR cldr.Translator
}

// Languages lists the languages offered, the source language (English) first.
var Languages = []Lang{
	{Tag: "en", Name: "English", Dir: "ltr", CLDR: cldren.New()},
	{Tag: "he", Name: "עברית", Dir: "rtl", CLDR: cldrhe.New()},
}

// Pseudo is a development language made from English: accented and 40% longer, to find clipped
// layouts and strings that escaped the catalogs. The server offers it only when I18N_PSEUDO is on.
var Pseudo = Lang{Tag: "en-XA", Name: "Ƥšéûðö", Dir: "ltr", CLDR: cldren.New()}

//go:embed locales
var locales embed.FS

var (
	bundle  = goi18n.NewBundle(language.English)
	matcher language.Matcher
	// Messages lists every message id in the source (English) catalogs, for the tests.
	Messages []string
)

func init() {
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for _, l := range Languages {
		files, err := fs.Glob(locales, "locales/"+l.Tag+"/*.toml")
		if err != nil || len(files) == 0 {
			panic(fmt.Sprintf("i18n: no catalogs for %s", l.Tag))
		}
		for _, f := range files {
			b, err := locales.ReadFile(f)
			if err != nil {
				panic(err)
			}
			// go-i18n takes the language from the file name: <name>.<tag>.toml
			mf, err := bundle.ParseMessageFileBytes(b, strings.TrimSuffix(path.Base(f), ".toml")+"."+l.Tag+".toml")
			if err != nil {
				panic(fmt.Sprintf("i18n: %s: %v", f, err))
			}
			if rawMessages[l.Tag] == nil {
				rawMessages[l.Tag] = map[string]*goi18n.Message{}
			}
			for _, m := range mf.Messages {
				rawMessages[l.Tag][m.ID] = m
				if l.Tag == Languages[0].Tag {
					Messages = append(Messages, m.ID)
				}
			}
		}
	}
	tags := make([]language.Tag, len(Languages))
	for i, l := range Languages {
		tags[i] = language.MustParse(l.Tag)
	}
	matcher = language.NewMatcher(tags)
	loadPseudo()
}

// ByTag finds an offered language (never Pseudo: the server decides whether to offer it).
func ByTag(tag string) (Lang, bool) {
	for _, l := range Languages {
		if strings.EqualFold(l.Tag, tag) {
			return l, true
		}
	}
	return Lang{}, false
}

// Match picks the offered language an Accept-Language header prefers (English when none).
func Match(acceptLanguage string) Lang {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Languages[0]
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return Languages[0]
	}
	return Languages[i]
}

// Localizer speaks one language.
type Localizer struct {
	lang Lang
	loc  *goi18n.Localizer
}

var localizers = map[string]*Localizer{}

func init() {
	for _, l := range append(Languages, Pseudo) {
		localizers[l.Tag] = &Localizer{lang: l, loc: goi18n.NewLocalizer(bundle, l.Tag, Languages[0].Tag)}
	}
	buildScripts()
}

// For is the localizer of a language, Pseudo included (English for one not offered).
func For(tag string) *Localizer {
	if l, ok := ByTag(tag); ok {
		return localizers[l.Tag]
	}
	if strings.EqualFold(tag, Pseudo.Tag) {
		return localizers[Pseudo.Tag]
	}
	return localizers[Languages[0].Tag]
}

// Lang is the localizer's language.
func (l *Localizer) Lang() Lang { return l.lang }

// T is message id, filled with data (a map or struct for the message's {{.Fields}}). A missing
// message is a bug the tests catch; in production it shows its id rather than fail the page.
func (l *Localizer) T(id string, data ...any) string {
	cfg := &goi18n.LocalizeConfig{MessageID: id}
	if len(data) > 0 {
		cfg.TemplateData = l.fill(data[0])
	}
	return l.localize(cfg)
}

// N is message id in the plural form CLDR gives count in this language; {{.Count}} is count
// unless data says otherwise.
func (l *Localizer) N(id string, count int, data ...any) string {
	cfg := &goi18n.LocalizeConfig{MessageID: id, PluralCount: count}
	if len(data) > 0 {
		cfg.TemplateData = l.fill(data[0])
	} else {
		cfg.TemplateData = map[string]any{"Count": l.Int(count)}
	}
	return l.localize(cfg)
}

// fill localizes the Msg values of a data map, so a message can name a status or a hazard type
// in the reader's language.
func (l *Localizer) fill(data any) any {
	m, ok := data.(map[string]any)
	if !ok {
		return data
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if msg, ok := v.(Msg); ok {
			v = l.Msg(msg)
		}
		out[k] = v
	}
	return out
}

func (l *Localizer) localize(cfg *goi18n.LocalizeConfig) string {
	if l.lang.Tag == Pseudo.Tag {
		return pseudo(localizers[Languages[0].Tag].localize(cfg))
	}
	s, err := l.loc.Localize(cfg)
	if err != nil {
		return cfg.MessageID
	}
	return s
}

type ctxKey struct{}

// With puts a localizer into a context (the request's, or a mail's for its recipient).
func With(ctx context.Context, l *Localizer) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From is the context's localizer (English when none was put there).
func From(ctx context.Context) *Localizer {
	if l, ok := ctx.Value(ctxKey{}).(*Localizer); ok {
		return l
	}
	return localizers[Languages[0].Tag]
}

// T is From(ctx).T: how templates and handlers say things.
func T(ctx context.Context, id string, data ...any) string { return From(ctx).T(id, data...) }

// N is From(ctx).N.
func N(ctx context.Context, id string, count int, data ...any) string {
	return From(ctx).N(id, count, data...)
}
