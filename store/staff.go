package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetShortcuts switches the review queue's keyboard shortcuts on or off for a user (screen reader
// users may want every key for their reader).
func (s *Store) SetShortcuts(ctx context.Context, uid string, on bool) error {
	return s.updateUser(ctx, uid, map[string]any{"no_shortcuts": boolStr(!on)}, false)
}

// Template is a response template: a note admins write once for one moderator action, which a
// moderator picks instead of typing (the reporter reads it).
type Template struct {
	ID        string    `json:"id"`
	Action    string    `json:"action"` // a moderator action (hazard.Action)
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	UpdatedAt time.Time `json:"updated_at"`
}

// maxTemplates bounds the list (one small hash, read whole by every queue page).
const maxTemplates = 200

// ErrTooMany means a bounded list is full.
var ErrTooMany = errors.New("store: too many")

// SaveTemplate creates (t.ID "") or replaces a template.
func (s *Store) SaveTemplate(ctx context.Context, t *Template) error {
	if t.ID == "" {
		n, err := s.rdb.HLen(ctx, templatesKey).Result()
		if err != nil {
			return fmt.Errorf("store: unable to count templates: %w", err)
		}
		if n >= maxTemplates {
			return ErrTooMany
		}
		t.ID = newID()
	} else if !validID(t.ID) {
		return ErrNotFound
	}
	t.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, templatesKey, t.ID, b).Err(); err != nil {
		return fmt.Errorf("store: unable to save a template: %w", err)
	}
	return nil
}

// DeleteTemplate removes a template.
func (s *Store) DeleteTemplate(ctx context.Context, id string) error {
	n, err := s.rdb.HDel(ctx, templatesKey, id).Result()
	if err != nil {
		return fmt.Errorf("store: unable to delete a template: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Templates lists every template, by action then title.
func (s *Store) Templates(ctx context.Context) ([]Template, error) {
	m, err := s.rdb.HGetAll(ctx, templatesKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to read templates: %w", err)
	}
	out := make([]Template, 0, len(m))
	for _, v := range m {
		var t Template
		if json.Unmarshal([]byte(v), &t) == nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Template) int {
		return cmp.Or(strings.Compare(a.Action, b.Action), strings.Compare(a.Title, b.Title), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// TemplateByID finds one template.
func (s *Store) TemplateByID(ctx context.Context, id string) (Template, error) {
	var t Template
	if !validID(id) {
		return t, ErrNotFound
	}
	v, err := s.rdb.HGet(ctx, templatesKey, id).Result()
	if errors.Is(err, redis.Nil) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("store: unable to read a template: %w", err)
	}
	if err := json.Unmarshal([]byte(v), &t); err != nil {
		return t, fmt.Errorf("store: corrupt template: %w", err)
	}
	return t, nil
}
