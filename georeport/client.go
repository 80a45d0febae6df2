// Package georeport is a client for Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2):
// posting a service request to a body's server, resolving a token into the request's id, and
// reading requests' status back (by id, or by date window). JSON only. Every call is bounded by
// the context and the HTTP client's timeout, and every answer by size; errors in the spec's
// format come back as *Error.
package georeport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one server.
type Client struct {
	HTTP         *http.Client // nil: a client with Timeout
	Endpoint     string       // base URL, e.g. https://city.example/open311/v2
	APIKey       string
	Jurisdiction string
	UserAgent    string
}

// Timeout bounds each call when the client brings no http.Client of its own.
const Timeout = 15 * time.Second

const maxAnswer = 1 << 20

// Request is a new service request. Empty fields are not sent.
type Request struct {
	ServiceCode   string
	Lat, Long     float64
	AddressString string
	Description   string
	MediaURL      string
	// Only when the reporter agreed to share them.
	Email, FirstName, LastName string
}

// Created is the server's answer to a POST: the request's id, or a token to resolve later.
type Created struct {
	ID     string `json:"service_request_id"`
	Token  string `json:"token"`
	Notice string `json:"service_notice"`
}

// Status is a request as the server reports it.
type Status struct {
	ID      string    `json:"service_request_id"`
	Status  string    `json:"status"` // open or closed
	Notes   string    `json:"status_notes"`
	Updated time.Time `json:"-"`
	RawTime string    `json:"updated_datetime"`
	// Description is the request's text: ours carry the report's link, which names the report
	// when a server lists a request whose id we have not learnt.
	Description string `json:"description"`
}

// Error is a failure: the server's own words (the spec's {code, description} list) when it gave
// them, and whether trying again later could help.
type Error struct {
	HTTPStatus  int
	Code        string
	Description string
	Temporary   bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Open311 server answered %d", e.HTTPStatus)
	if e.Code != "" || e.Description != "" {
		fmt.Fprintf(&b, ": error %s: %s", e.Code, e.Description)
	}
	return b.String()
}

// Temporary reports whether err (from this package) may go away when tried again: network
// trouble, timeouts, server errors and rate limits do; a refused request does not.
func Temporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return true
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: Timeout}
}

func (c *Client) url(path string, q url.Values) string {
	u := strings.TrimRight(c.Endpoint, "/") + "/" + path
	if c.Jurisdiction != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("jurisdiction_id", c.Jurisdiction)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Post creates a service request.
func (c *Client) Post(ctx context.Context, r Request) (Created, error) {
	f := url.Values{}
	set := func(k, v string) {
		if v != "" {
			f.Set(k, v)
		}
	}
	set("api_key", c.APIKey)
	set("jurisdiction_id", c.Jurisdiction)
	set("service_code", r.ServiceCode)
	f.Set("lat", fmt.Sprintf("%.6f", r.Lat))
	f.Set("long", fmt.Sprintf("%.6f", r.Long))
	set("address_string", r.AddressString)
	set("description", r.Description)
	set("media_url", r.MediaURL)
	set("email", r.Email)
	set("first_name", r.FirstName)
	set("last_name", r.LastName)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Endpoint, "/")+"/requests.json", strings.NewReader(f.Encode()))
	if err != nil {
		return Created{}, &Error{Description: "bad endpoint URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out []Created
	if err := c.do(req, &out); err != nil {
		return Created{}, err
	}
	if len(out) == 0 || (out[0].ID == "" && out[0].Token == "") {
		return Created{}, &Error{HTTPStatus: 200, Description: "the answer names no service_request_id or token", Temporary: true}
	}
	return out[0], nil
}

// Token resolves a token into the request's id ("" while the server has not made one yet).
func (c *Client) Token(ctx context.Context, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("tokens/"+url.PathEscape(token)+".json", nil), nil)
	if err != nil {
		return "", &Error{Description: err.Error()}
	}
	var out []Created
	if err := c.do(req, &out); err != nil {
		var e *Error
		if errors.As(err, &e) && e.HTTPStatus == http.StatusNotFound {
			return "", nil // not yet
		}
		return "", err
	}
	if len(out) == 0 {
		return "", nil
	}
	return out[0].ID, nil
}

// Requests reads the status of the given requests (the spec allows a comma list).
func (c *Client) Requests(ctx context.Context, ids []string) ([]Status, error) {
	return c.list(ctx, url.Values{"service_request_id": {strings.Join(ids, ",")}})
}

// Window reads the requests the server lists between start and end (start_date and end_date,
// ISO 8601 in whole seconds; the spec lets a window span at most 90 days).
func (c *Client) Window(ctx context.Context, start, end time.Time) ([]Status, error) {
	return c.list(ctx, url.Values{"start_date": {start.UTC().Format(time.RFC3339)}, "end_date": {end.UTC().Format(time.RFC3339)}})
}

func (c *Client) list(ctx context.Context, q url.Values) ([]Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("requests.json", q), nil)
	if err != nil {
		return nil, &Error{Description: err.Error()}
	}
	var out []Status
	if err := c.do(req, &out); err != nil {
		return nil, err
	}
	for i := range out {
		if t, err := time.Parse(time.RFC3339, out[i].RawTime); err == nil {
			out[i].Updated = t
		}
	}
	return out, nil
}

// do sends req and decodes a JSON answer into v, or the spec's error list into *Error.
func (c *Client) do(req *http.Request, v any) error {
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return &Error{Description: unwrapURL(err), Temporary: true}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return &Error{HTTPStatus: resp.StatusCode, Description: "the answer broke off: " + unwrapURL(err), Temporary: true}
	}
	if len(body) > maxAnswer {
		return &Error{HTTPStatus: resp.StatusCode, Description: "the answer is larger than 1 MB", Temporary: false}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{HTTPStatus: resp.StatusCode, Temporary: resp.StatusCode >= 500 || resp.StatusCode == 429 || resp.StatusCode == 408}
		var list []struct {
			Code        json.RawMessage `json:"code"`
			Description string          `json:"description"`
		}
		if json.Unmarshal(body, &list) == nil && len(list) > 0 {
			e.Code, e.Description = strings.Trim(string(list[0].Code), `"`), list[0].Description
		} else {
			e.Description = snippet(body)
		}
		return e
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{HTTPStatus: resp.StatusCode, Description: "the answer is not GeoReport JSON: " + snippet(body), Temporary: true}
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// unwrapURL drops the method and URL net/http puts in front of an error (the URL may carry the
// api_key-free query, but it says nothing a moderator needs).
func unwrapURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "no answer in time"
		}
		return ue.Err.Error()
	}
	return err.Error()
}
