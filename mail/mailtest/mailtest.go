// Package mailtest is a real SMTP server on loopback (go-smtp) for tests that follow mail across
// processes: it records what it accepts, and can hold every DATA command until released, which
// is how a test catches a sender in the middle of a send.
package mailtest

import (
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Server is a plain SMTP server (no TLS, no auth).
type Server struct {
	Addr string

	mu       sync.Mutex
	received []Message
	stall    chan struct{} // non-nil: DATA waits until it is closed
	sending  chan struct{} // closed at the first DATA
	once     sync.Once
}

// Message is one accepted mail.
type Message struct {
	To, Subject string
	Raw         []byte
}

// Start runs a server for t.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{sending: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { s.Release(); srv.Close() })
	return s
}

// URL is the server as SMTP_URL.
func (s *Server) URL() string { return "smtp://" + s.Addr }

// Stall makes every DATA wait until Release.
func (s *Server) Stall() { s.mu.Lock(); s.stall = make(chan struct{}); s.mu.Unlock() }

// Release lets stalled and later DATA commands through.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
}

// Sending is closed once a sender has reached DATA.
func (s *Server) Sending() <-chan struct{} { return s.sending }

// To lists the accepted mails for an address.
func (s *Server) To(addr string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.received {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

type session struct {
	srv *Server
	to  string
}

func (s *session) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *session) Reset()                                    {}
func (s *session) Logout() error                             { return nil }

func (s *session) Data(r io.Reader) error {
	s.srv.once.Do(func() { close(s.srv.sending) })
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	stall := s.srv.stall
	s.srv.mu.Unlock()
	if stall != nil {
		<-stall
		return &smtp.SMTPError{Code: 451, Message: "the sender went away"} // never accepted
	}
	subject := ""
	if m, err := mail.ReadMessage(strings.NewReader(string(b))); err == nil {
		subject = m.Header.Get("Subject")
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.received = append(s.srv.received, Message{To: s.to, Subject: subject, Raw: b})
	return nil
}
