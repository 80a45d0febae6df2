// Package mail builds and sends the app's messages: each kind is a template pair (text and HTML)
// in templates/, sent as multipart/alternative over SMTP with STARTTLS when SMTP_URL is set,
// otherwise written as .eml files in MAIL_DIR with a log line, so a local run needs no mail
// server. It is its own package because mail is a concern of accounts, moderation, workers and
// the CLI alike, and fits none of handlers/store/views.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Message is one mail: a text body and, optionally, the same in HTML. Link, when set, is the one
// action the mail asks for; the file sender logs it so a developer can click it from the terminal.
// Headers are extra header fields (Reply-To, List-Unsubscribe...).
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	Link    string
	Headers map[string]string
}

// Sender delivers one message or says why not.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// render builds the RFC 5322 form of m: plain text, or multipart/alternative with the HTML.
func render(from string, m Message) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	host := "hazardwatch.local"
	if at := strings.LastIndex(from, "@"); at >= 0 {
		host = strings.Trim(from[at+1:], "> ")
	}
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), host)
	names := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if v := strings.NewReplacer("\r", "", "\n", "").Replace(m.Headers[k]); v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	text := crlf(m.Text)
	if m.HTML == "" {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(text)
		return b.Bytes()
	}
	boundary := "hw-" + hex.EncodeToString(id)
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s", boundary, text)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(crlf(m.HTML)))
	_ = qp.Close()
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

// crlf gives text CRLF line ends and a final one.
func crlf(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// FileSender writes each message as an .eml file in Dir.
type FileSender struct {
	Dir  string
	From string
	Log  *slog.Logger
}

func (f FileSender) Send(_ context.Context, m Message) error {
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := filepath.Join(f.Dir, time.Now().UTC().Format("20060102T150405.000000000")+"-"+hex.EncodeToString(suffix)+".eml")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, render(f.From, m), 0o640); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil { // readers never see half a file
		return fmt.Errorf("mail: %w", err)
	}
	f.Log.Info("mail written to file (SMTP_URL is not set)", "to", m.To, "subject", m.Subject, "link", m.Link, "file", name)
	return nil
}

// SMTPSender delivers through an SMTP server, upgrading with STARTTLS whenever the server offers
// it, and authenticating (PLAIN, only over TLS or to localhost) when the URL carries a user.
type SMTPSender struct {
	Addr     string // host:port
	Username string
	Password string
	From     string
	TLS      *tls.Config // nil: verify against the system roots
	Implicit bool        // smtps://: TLS from the first byte
}

// ParseSMTPURL reads smtp://user:pass@host:port or smtps://... (CONTRACT.md).
func ParseSMTPURL(raw, from string) (*SMTPSender, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("want smtp://user:pass@host:port or smtps://..., got %q", raw)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"smtp": "587", "smtps": "465"}[u.Scheme]
	}
	s := &SMTPSender{Addr: net.JoinHostPort(u.Hostname(), port), From: from, Implicit: u.Scheme == "smtps"}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	host, _, _ := net.SplitHostPort(s.Addr)
	tlsConf := s.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	tlsConf = tlsConf.Clone()
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	tlsConf.MinVersion = tls.VersionTLS12

	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	if s.Implicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsConf}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return fmt.Errorf("mail: dial %s: %w", s.Addr, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("mail: HELO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !s.Implicit {
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("mail: AUTH: %w", err)
		}
	}
	if err := c.Mail(addressOnly(s.From)); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(render(s.From, m)); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	return c.Quit()
}

func addressOnly(from string) string {
	if i := strings.LastIndex(from, "<"); i >= 0 {
		return strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}
