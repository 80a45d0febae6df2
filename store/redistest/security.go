package redistest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ACL is a users.acl made from the shipped template (deploy/redis/users.acl.template) by
// scripts/redis-acl.sh, with a fresh random password per user.
type ACL struct {
	File      string
	Passwords map[string]string // app, monitor, admin, replication, sentinel
}

// ACLUsers are the users the template defines (besides default, whose password nobody has).
var ACLUsers = []string{"app", "monitor", "admin", "replication", "sentinel"}

// NewACL writes a users.acl for t.
func NewACL(t TB) *ACL {
	t.Helper()
	a := &ACL{File: filepath.Join(t.TempDir(), "users.acl"), Passwords: map[string]string{}}
	cmd := exec.Command(filepath.Join(Root(), "scripts", "redis-acl.sh"), a.File)
	cmd.Env = os.Environ()
	for _, u := range ACLUsers {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		a.Passwords[u] = hex.EncodeToString(b)
		cmd.Env = append(cmd.Env, "REDIS_"+strings.ToUpper(u)+"_PASSWORD="+a.Passwords[u])
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-acl.sh: %v\n%s", err, out)
	}
	return a
}

// Vars are the placeholders of the shipped configs that name users (scripts/redis-conf.sh).
func (a *ACL) Vars() map[string]string {
	return map[string]string{
		"ACLFILE":   a.File,
		"REPL_USER": "replication", "REPL_PASSWORD": a.Passwords["replication"],
		"SENTINEL_USER": "sentinel", "SENTINEL_PASSWORD": a.Passwords["sentinel"],
	}
}

// Certs is a throwaway certificate authority with a server certificate (for 127.0.0.1 and
// localhost, also used by nodes as clients of each other) and a client certificate, made with
// openssl in a temporary directory.
type Certs struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// NewCerts makes a CA and certificates for t.
func NewCerts(t TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	c := &Certs{CA: p("ca.crt"), ServerCert: p("server.crt"), ServerKey: p("server.key"), ClientCert: p("client.crt"), ClientKey: p("client.key")}
	ext := p("ext.cnf")
	if err := os.WriteFile(ext, []byte("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"), 0o600); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("redistest: openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
		"-subj", "/CN=Hazard Watch test CA", "-keyout", p("ca.key"), "-out", c.CA)
	for _, who := range []struct{ cert, key, cn string }{{c.ServerCert, c.ServerKey, "redis"}, {c.ClientCert, c.ClientKey, "app"}} {
		csr := who.key + ".csr"
		run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN="+who.cn, "-keyout", who.key, "-out", csr)
		run("x509", "-req", "-in", csr, "-CA", c.CA, "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", who.cert)
	}
	return c
}

// Vars are the TLS placeholders of the shipped configs (scripts/redis-conf.sh adds tls.conf).
func (c *Certs) Vars() map[string]string {
	return map[string]string{"TLS_CERT": c.ServerCert, "TLS_KEY": c.ServerKey, "TLS_CA": c.CA}
}

// ClientConfig is a client's TLS configuration: it trusts the CA and shows the client certificate.
func (c *Certs) ClientConfig(t TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(c.CA)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}
