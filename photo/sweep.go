package photo

import (
	"context"
	"os"
	"strings"
	"time"
)

// Grace is how long a stored photo may sit unreferenced before Sweep removes it: longer than a
// kept-photo reference lives (KeepFor), so a form can never name a photo that is gone.
const (
	Grace   = 24 * time.Hour
	KeepFor = 6 * time.Hour
)

// Sweep removes the photos in dir that are older than grace and that no report names
// (referenced answers that), and returns how many it removed. It is safe to run on several
// instances sharing dir: removing twice is harmless, and a photo saved again meanwhile has a
// fresh time (Save touches it), which Sweep checks once more just before removing.
func Sweep(ctx context.Context, dir string, grace time.Duration, now time.Time, referenced func(ctx context.Context, hash string) (bool, error)) (int, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	old := func(path string) bool {
		st, err := os.Stat(path)
		return err == nil && now.Sub(st.ModTime()) > grace
	}
	removed := 0
	for _, e := range entries {
		hash, ok := strings.CutSuffix(e.Name(), ".jpg")
		if !ok || !ValidHash(hash) || ctx.Err() != nil {
			continue // thumbnails go with their photo; temporary files are Save's
		}
		full, thumb := Paths(dir, hash)
		if !old(full) {
			continue
		}
		used, err := referenced(ctx, hash)
		if err != nil {
			return removed, err
		}
		if used || !old(full) {
			continue
		}
		if err := os.Remove(full); err == nil {
			removed++
		}
		_ = os.Remove(thumb)
	}
	return removed, ctx.Err()
}
