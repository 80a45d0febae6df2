package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// fakeSMTP is a real SMTP server on loopback (go-smtp) offering STARTTLS and PLAIN auth.
type fakeSMTP struct {
	mu       sync.Mutex
	received []received
	failNext int // answer this many DATA commands with a temporary failure
	tlsUsed  bool
	authUser string
}

type received struct {
	from, to string
	data     []byte
}

type fakeSession struct {
	srv      *fakeSMTP
	conn     *smtp.Conn
	from, to string
}

func (s *fakeSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *fakeSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.srv.mu.Lock()
		s.srv.authUser = user
		s.srv.mu.Unlock()
		return nil
	}), nil
}
func (s *fakeSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *fakeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if _, ok := s.conn.TLSConnectionState(); ok {
		s.srv.tlsUsed = true
	}
	if s.srv.failNext > 0 {
		s.srv.failNext--
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	s.srv.received = append(s.srv.received, received{s.from, s.to, b})
	return nil
}
func (s *fakeSession) Reset()        {}
func (s *fakeSession) Logout() error { return nil }

func startFakeSMTP(t *testing.T) (*fakeSMTP, string, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	f := &fakeSMTP{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &fakeSession{srv: f, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return f, ln.Addr().String(), pool
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestSMTPWithSTARTTLSAndAuth(t *testing.T) {
	f, addr, pool := startFakeSMTP(t)
	s, err := ParseSMTPURL("smtp://mailer:s3cret@"+addr, "Hazard Watch <no-reply@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	s.TLS = &tls.Config{RootCAs: pool}
	err = s.Send(context.Background(), Message{To: "ada@example.org", Subject: "Reset your password", Text: "Open https://x/reset?token=abc\n"})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.tlsUsed || f.authUser != "mailer" || len(f.received) != 1 {
		t.Fatalf("tls=%v auth=%q received=%d", f.tlsUsed, f.authUser, len(f.received))
	}
	r := f.received[0]
	msg, err := mail.ReadMessage(strings.NewReader(string(r.data)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(msg.Body)
	if r.from != "no-reply@example.org" || r.to != "ada@example.org" || msg.Header.Get("Subject") != "Reset your password" ||
		!strings.Contains(string(body), "https://x/reset?token=abc") {
		t.Fatalf("message: from=%s to=%s headers=%v body=%q", r.from, r.to, msg.Header, body)
	}
}

func TestSMTPRejectsUntrustedCertificate(t *testing.T) {
	_, addr, _ := startFakeSMTP(t)
	s, _ := ParseSMTPURL("smtp://"+addr, "no-reply@example.org")
	if err := s.Send(context.Background(), Message{To: "a@example.org", Subject: "x", Text: "x"}); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("want a STARTTLS certificate error, got %v", err)
	}
}

func TestFileSender(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	f := FileSender{Dir: dir, From: "no-reply@example.org", Log: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := f.Send(context.Background(), Message{To: "a@example.org", Subject: "Vérifiez", Text: "Line 1\nhttps://x/verify?token=t", Link: "https://x/verify?token=t"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	msg, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	body, _ := io.ReadAll(msg.Body)
	if subj != "Vérifiez" || !strings.Contains(string(body), "https://x/verify?token=t") || msg.Header.Get("To") != "a@example.org" {
		t.Fatalf("eml: subject %q body %q", subj, body)
	}
	if !strings.Contains(logs.String(), "https://x/verify?token=t") {
		t.Fatal("the file sender should log the link")
	}
}

func TestParseSMTPURL(t *testing.T) {
	s, err := ParseSMTPURL("smtps://u:p@mail.example.org", "x@y")
	if err != nil || s.Addr != "mail.example.org:465" || !s.Implicit || s.Username != "u" || s.Password != "p" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"http://x", "smtp://", "mail.example.org:25"} {
		if _, err := ParseSMTPURL(bad, "x@y"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
