// Package links makes and checks the signed links that mails carry and that work without
// signing in: one-click unsubscribe from an area alert (or from a report's mails, for reporters
// without an account) and "it is still there". They are stateless (nothing is stored per mail):
// gorilla/securecookie signs each value with a key every instance shares through Redis
// (store.Secret), tied to the link's purpose and to when it was made, so a link can be neither
// forged, nor used for another purpose, nor used once too old. The mail workers make them, the
// handlers check them; hence a package of its own.
package links

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"hazardwatch/store"
)

// How long each kind of link works.
const (
	UnsubscribeAge = 2 * 365 * 24 * time.Hour // an old alert mail must still stop the alerts
	StillThereAge  = 30 * 24 * time.Hour
)

// Unsubscribe is what an unsubscribe link stops: one alert of a user, every alert of a user
// (Alert "*", in digests), or the mails about a report to its contact address (Report).
type Unsubscribe struct {
	User   string `json:"u,omitempty"`
	Alert  string `json:"a,omitempty"`
	Report string `json:"r,omitempty"`
}

// StillThere is "it is still there" for a report, said by its reporter or another user By.
type StillThere struct {
	Report string `json:"r"`
	By     string `json:"b"`
}

// Links signs and checks links with the shared key, fetched on first use (Redis may be down
// when the process starts) and then kept.
type Links struct {
	st  *store.Store
	mu  sync.Mutex
	key []byte
}

// New makes links signed with the key store.Secret keeps under "links".
func New(st *store.Store) *Links { return &Links{st: st} }

func (l *Links) codec(ctx context.Context, maxAge time.Duration) (*securecookie.SecureCookie, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key == nil {
		key, err := l.st.Secret(ctx, "links")
		if err != nil {
			return nil, err
		}
		l.key = key
	}
	sc := securecookie.New(l.key, nil).MaxAge(int(maxAge / time.Second)).MaxLength(0)
	sc.SetSerializer(securecookie.JSONEncoder{})
	return sc, nil
}

func (l *Links) make(ctx context.Context, purpose string, age time.Duration, v any) (string, error) {
	sc, err := l.codec(ctx, age)
	if err != nil {
		return "", err
	}
	return sc.Encode(purpose, v)
}

// ErrInvalid means a link is forged, damaged or too old.
var ErrInvalid = securecookie.ErrMacInvalid

func (l *Links) read(ctx context.Context, purpose string, age time.Duration, token string, v any) error {
	if token == "" || len(token) > 2000 {
		return ErrInvalid
	}
	sc, err := l.codec(ctx, age)
	if err != nil {
		return err
	}
	if err := sc.Decode(purpose, token, v); err != nil {
		if e, ok := err.(securecookie.Error); ok && (e.IsDecode() || e.IsUsage()) {
			return ErrInvalid
		}
		return err
	}
	return nil
}

// UnsubscribeToken signs u.
func (l *Links) UnsubscribeToken(ctx context.Context, u Unsubscribe) (string, error) {
	return l.make(ctx, "unsubscribe", UnsubscribeAge, u)
}

// ReadUnsubscribe checks an unsubscribe token.
func (l *Links) ReadUnsubscribe(ctx context.Context, token string) (Unsubscribe, error) {
	var u Unsubscribe
	err := l.read(ctx, "unsubscribe", UnsubscribeAge, token, &u)
	return u, err
}

// StillThereToken signs s.
func (l *Links) StillThereToken(ctx context.Context, s StillThere) (string, error) {
	return l.make(ctx, "still-there", StillThereAge, s)
}

// ReadStillThere checks a "still there" token.
func (l *Links) ReadStillThere(ctx context.Context, token string) (StillThere, error) {
	var s StillThere
	err := l.read(ctx, "still-there", StillThereAge, token, &s)
	return s, err
}
