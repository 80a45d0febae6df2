package geocode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"hazardwatch/i18n"
)

// Nominatim asks a Nominatim server (https://nominatim.org/release-docs/latest/api/), politely:
// a User-Agent naming the app and a contact, at most one request per second across every app
// instance (Throttle), a timeout, retries with backoff on 5xx and 429, and the offline gazetteer
// as a fallback whose answers are marked approximate.
type Nominatim struct {
	Base      *url.URL
	UserAgent string
	Client    *http.Client
	// Throttle blocks until a request may be sent (store.Throttle in production).
	Throttle func(ctx context.Context) error
	Fallback Provider
	Log      *slog.Logger
	Attempts int           // default 3
	Backoff  time.Duration // default 500ms, doubled per retry
}

type nominatimPlace struct {
	DisplayName string `json:"display_name"`
	Lat         string `json:"lat"`
	Lon         string `json:"lon"`
	Error       string `json:"error"`
}

func (n *Nominatim) Search(ctx context.Context, q string, limit int, near ...Point) ([]Place, error) {
	lang := i18n.From(ctx).Lang().Tag
	v := url.Values{"q": {q}, "format": {"jsonv2"}, "limit": {strconv.Itoa(limit)}, "accept-language": {lang}}
	if len(near) > 0 {
		// A box of about 100 km round the point: Nominatim prefers places inside it but, without
		// bounded=1, still finds the rest of the world.
		p := near[0]
		v.Set("viewbox", fmt.Sprintf("%.4f,%.4f,%.4f,%.4f", max(p.Lng-0.5, -180), min(p.Lat+0.5, 90), min(p.Lng+0.5, 180), max(p.Lat-0.5, -90)))
	}
	var raw []nominatimPlace
	if err := n.get(ctx, "search", v, &raw); err != nil {
		n.Log.Warn("nominatim search failed; answering from the offline gazetteer", "err", err)
		places, ferr := n.Fallback.Search(ctx, q, limit, near...)
		for i := range places {
			places[i].Approximate = true
		}
		return places, ferr
	}
	out := make([]Place, 0, len(raw))
	for _, r := range raw {
		if p, ok := r.place(); ok {
			p.Lang = lang
			out = append(out, p)
		}
	}
	return out, nil
}

func (n *Nominatim) Reverse(ctx context.Context, lat, lng float64) (Place, error) {
	lang := i18n.From(ctx).Lang().Tag
	v := url.Values{"lat": {strconv.FormatFloat(lat, 'f', 6, 64)}, "lon": {strconv.FormatFloat(lng, 'f', 6, 64)}, "format": {"jsonv2"}, "accept-language": {lang}}
	var raw nominatimPlace
	if err := n.get(ctx, "reverse", v, &raw); err != nil {
		n.Log.Warn("nominatim reverse failed; answering from the offline gazetteer", "err", err)
		p, ferr := n.Fallback.Reverse(ctx, lat, lng)
		p.Approximate = true
		return p, ferr
	}
	if raw.Error != "" {
		return Place{}, ErrNoResult
	}
	p, ok := raw.place()
	if !ok {
		return Place{}, ErrNoResult
	}
	p.Lang = lang
	return p, nil
}

func (r nominatimPlace) place() (Place, bool) {
	lat, err1 := strconv.ParseFloat(r.Lat, 64)
	lng, err2 := strconv.ParseFloat(r.Lon, 64)
	if err1 != nil || err2 != nil || r.DisplayName == "" {
		return Place{}, false
	}
	return Place{Label: r.DisplayName, Lat: lat, Lng: lng}, true
}

// errRetry marks answers worth another try (5xx, 429, network trouble).
var errRetry = errors.New("retryable")

func (n *Nominatim) get(ctx context.Context, path string, v url.Values, into any) error {
	attempts, delay := n.Attempts, n.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	u := n.Base.JoinPath(path)
	u.RawQuery = v.Encode()
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		if err = n.Throttle(ctx); err != nil {
			return err
		}
		err = n.once(ctx, u.String(), into)
		if err == nil || !errors.Is(err, errRetry) {
			return err
		}
	}
	return err
}

func (n *Nominatim) once(ctx context.Context, u string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", n.UserAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := n.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return fmt.Errorf("%w: reading answer: %v", errRetry, err)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("%w: status %d", errRetry, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("nominatim: status %d", resp.StatusCode)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("nominatim: bad JSON: %w", err)
	}
	return nil
}
