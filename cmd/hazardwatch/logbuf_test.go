package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines reach the log by themselves on the timer, whole and in order, and Close leaves nothing
// behind.
func TestLineBufferWritesOnTimerAndClose(t *testing.T) {
	var out lockedBuffer
	b := newLineBuffer(&out, 10*time.Millisecond)
	fmt.Fprintln(b, "first")
	deadline := time.Now().Add(30 * time.Second)
	for out.String() != "first\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the timer never wrote the line: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var want strings.Builder
	want.WriteString("first\n")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 { // more than the buffer holds: some are written while full
				fmt.Fprintf(b, "goroutine %d line %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+4*5000 {
		t.Fatalf("got %d lines, want %d", len(lines), 1+4*5000)
	}
	next := map[string]int{}
	for _, l := range lines[1:] {
		var g, i int
		if _, err := fmt.Sscanf(l, "goroutine %d line %d", &g, &i); err != nil {
			t.Fatalf("a torn line: %q", l)
		}
		if key := fmt.Sprint(g); next[key] != i {
			t.Fatalf("goroutine %d: line %d came where %d should", g, i, next[key])
		} else {
			next[key]++
		}
	}
}
