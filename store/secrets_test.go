package store

import (
	"bytes"
	"context"
	"testing"
)

func TestSecretIsSharedAndRotates(t *testing.T) {
	s, r := newStore(t)
	ctx := context.Background()
	a, err := s.Secret(ctx, "cookies")
	if err != nil || len(a) != 32 {
		t.Fatalf("%x %v", a, err)
	}
	other := New(r.Client(t)) // a second instance
	b, err := other.Secret(ctx, "cookies")
	if err != nil || !bytes.Equal(a, b) {
		t.Fatal("two instances got different keys")
	}
	if c, _ := s.Secret(ctx, "other"); bytes.Equal(a, c) {
		t.Fatal("two names share a key")
	}
	if err := r.Client(t).Del(ctx, secretKey("cookies")).Err(); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Secret(ctx, "cookies"); len(c) != 32 || bytes.Equal(a, c) {
		t.Fatal("deleting the key did not rotate it")
	}
}
