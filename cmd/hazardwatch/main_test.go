package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBadConfigStopsWithOneLineNamingTheVariable(t *testing.T) {
	t.Setenv("REDIS_URL", "http://nope")
	err := run(t.Context(), nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("want a config error with exit code 2, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "REDIS_URL") || strings.Contains(msg, "\n") {
		t.Errorf("message should be one line naming REDIS_URL: %q", msg)
	}
}

func TestUnknownCommand(t *testing.T) {
	err := run(t.Context(), []string{"frobnicate"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("unknown command: %v", err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "serve") {
		t.Fatalf("help: %v %q", err, out.String())
	}
}
