package password

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHashAndCheck(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash does not record OWASP parameters: %s", h)
	}
	if ok, err := Check("correct horse battery", h); !ok || err != nil {
		t.Fatalf("right password rejected: %v", err)
	}
	if ok, _ := Check("correct horse batterY", h); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := Hash("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestMalformed(t *testing.T) {
	for _, h := range []string{"", "plaintext", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=8,t=1,p=1$!!$AA"} {
		if ok, err := Check("x", h); ok || err == nil {
			t.Errorf("%q: want ErrMalformed, got %v %v", h, ok, err)
		}
	}
}

func TestProblem(t *testing.T) {
	const email, name = "ann.long@example.org", "Ann Longworth"
	for _, tc := range []struct{ pw, want string }{
		{"short", "at least 10"},
		{strings.Repeat("p", 129), "at most 128"},
		// The review's examples, and more from the list.
		{"password1234", "most common"},
		{"1234567890", "most common"},
		{"qwertyuiop", "most common"},
		{"aaaaaaaaaa", "most common"},
		{"Password1234", "most common"}, // case does not help
		{"1q2w3e4r5t", "most common"},
		// Patterns the list may not hold.
		{"qqqqqqqqqqqqqqqqqqqqqqqqq", "repeated or sequential"},
		{"ghijklmnopqrstu", "repeated or sequential"},
		{"9876543210987", "repeated or sequential"},
		{"xyzxyzxyzxyzx", "repeated or sequential"},
		{"kmqkmqkmqkmq", "repeated or sequential"},
		{"aaabbbcccdddeee", "repeated or sequential"},
		{"7890123456789", "repeated or sequential"},
		// Personal and site words.
		{"ann.long@example.org", "email address or name"},
		{"my ann.long secret", "email address or name"},
		{"Longworth rules 42", "email address or name"},
		{"ANN LONGWORTH!!", "email address or name"},
		{"my hazard-watch pw", "site's name"},
	} {
		if got := Problem(tc.pw, email, name).String(); !strings.Contains(got, tc.want) {
			t.Errorf("Problem(%q) = %q, want it to say %q", tc.pw, got, tc.want)
		}
	}
	for _, ok := range []string{"correct horse battery", "a long password", "ann's ice cream van", "blue cat 123 jumps", "Tr0ub4dor&3 tango", "the 1234 tigers"} {
		if got := Problem(ok, email, name); !got.IsZero() {
			t.Errorf("Problem(%q) = %q, want it accepted", ok, got)
		}
	}
}

func TestCommonListIsSortedAndLarge(t *testing.T) {
	list := commonList()
	if len(list) < 100_000 || !slices.IsSorted(list) {
		t.Fatalf("%d entries, sorted: %v", len(list), slices.IsSorted(list))
	}
	for _, pw := range list[:100] {
		if n := utf8.RuneCountInString(pw); n < MinLength || n > MaxLength || pw != strings.ToLower(pw) {
			t.Fatalf("entry %q: the list holds lowercased passwords of allowed length only", pw)
		}
	}
}
