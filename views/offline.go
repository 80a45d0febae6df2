package views

import (
	"context"
	"encoding/json"

	cldr "golang.org/x/text/feature/plural"
	"golang.org/x/text/language"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
)

// pluralJSON is message id in each CLDR plural category of the request's language, with "{n}"
// where the count goes, as JSON {"one": ..., "other": ...}: scripts pick the category with
// Intl.PluralRules and fill in the number, so counts they make up read right in every language.
func pluralJSON(ctx context.Context, id string) string {
	tag := language.Make(i18n.From(ctx).Lang().Tag)
	names := map[cldr.Form]string{cldr.Zero: "zero", cldr.One: "one", cldr.Two: "two", cldr.Few: "few", cldr.Many: "many", cldr.Other: "other"}
	out := map[string]string{}
	for n := 0; n <= 200; n++ {
		name := names[cldr.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)]
		if _, ok := out[name]; !ok {
			out[name] = i18n.N(ctx, id, n, map[string]any{"Count": "{n}"})
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// typesJSON is every hazard type's icon and name in the request's language, for scripts that
// show reports kept on the device.
func typesJSON(ctx context.Context) string {
	out := map[string][2]string{}
	for _, t := range hazard.Types {
		out[t.Code] = [2]string{t.Icon, t.Label(ctx)}
	}
	b, _ := json.Marshal(out)
	return string(b)
}
