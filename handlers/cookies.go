package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
)

// Signed cookies (the flash message, the device cookie) carry an HMAC-SHA256 made with a key
// every instance shares through Redis (store.Secret), so no key needs configuring.
// gorilla/securecookie ties each value to its cookie's name and to the time it was made: a value
// can be neither forged, nor moved to another cookie, nor used past maxAge.

type cookieKey struct {
	mu  sync.Mutex
	key []byte
}

// signedCookies returns the codec for cookies living at most maxAge. The key is fetched on first
// use (Redis may be down when the app starts) and then kept.
func (h *handler) signedCookies(ctx context.Context, maxAge time.Duration) (*securecookie.SecureCookie, error) {
	h.cookieKey.mu.Lock()
	defer h.cookieKey.mu.Unlock()
	if h.cookieKey.key == nil {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		key, err := h.store.Secret(ctx, "cookies")
		if err != nil {
			return nil, err
		}
		h.cookieKey.key = key
	}
	sc := securecookie.New(h.cookieKey.key, nil).MaxAge(int(maxAge / time.Second))
	sc.SetSerializer(securecookie.JSONEncoder{})
	return sc, nil
}
