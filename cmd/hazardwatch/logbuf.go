package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// lineBuffer gathers log lines and writes them every interval and at Close: a write per request
// was a twentieth of a busy server's CPU. A crash loses at most the last interval's lines (a
// handler's panic is recovered and logged like any line).
type lineBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLineBuffer(w io.Writer, every time.Duration) *lineBuffer {
	b := &lineBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write takes one line (slog writes each record whole); a full buffer is written at once.
func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes what is gathered.
func (b *lineBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Buffered() == 0 {
		return nil
	}
	return b.w.Flush()
}

// Close stops the timer and writes the rest.
func (b *lineBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}
