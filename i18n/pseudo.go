package i18n

import (
	"strings"
	"unicode/utf8"
)

var accents = map[rune]rune{}

func loadPseudo() {
	from, to := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "àƀçđéƒĝĥíĵķĺɱñöþǫŕšţûṽŵẋýžÀƁÇĐÉƑĜĤÍĴĶĹṀÑÖÞǪŔŠŢÛṼŴẊÝŽ"
	t := []rune(to)
	for i, r := range from {
		accents[r] = t[i]
	}
}

// pseudo accents a message and makes it 40% longer, in brackets, so clipped text and strings
// that bypassed the catalogs stand out.
func pseudo(s string) string {
	var b strings.Builder
	b.WriteString("[")
	for _, r := range s {
		if a, ok := accents[r]; ok {
			r = a
		}
		b.WriteRune(r)
	}
	// The padding comes in words, as a longer language's would: one unbreakable run would
	// overflow where no real translation does.
	for pad := (utf8.RuneCountInString(s)*2 + 4) / 5; pad > 0; pad -= 6 {
		b.WriteString(" ")
		b.WriteString(strings.Repeat("~", min(pad, 5)))
	}
	b.WriteString("]")
	return b.String()
}
