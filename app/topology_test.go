package app

import (
	"crypto/tls"
	"testing"

	"github.com/redis/go-redis/v9"

	"hazardwatch/store/redistest"
)

// The app over TLS on each topology: nodes run the shipped configs plus deploy/redis/tls.conf
// (no plaintext port, client certificates required, replication and the cluster bus over TLS)
// with a throwaway CA made by openssl; the app connects with REDIS_TLS_CA/CERT/KEY and runs its
// main paths. A plaintext client, and a TLS client without a certificate, are refused.
func TestAppOverTLS(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		certs, acl := redistest.NewCerts(t), redistest.NewACL(t)
		vars := certs.Vars()
		vars["ACLFILE"] = acl.File
		srv := redistest.Start(t, redistest.Options{Role: "single", Vars: vars, TLS: certs.ClientConfig(t), Username: "admin", Password: acl.Passwords["admin"]})
		env := withUser(map[string]string{"REDIS_URL": "rediss://" + srv.Addr + "/0"}, acl, certs)
		topologyFlow(t, env, acl)
		assertTLSOnly(t, certs, srv.Addr)
	})
	t.Run("sentinel", func(t *testing.T) {
		certs := redistest.NewCerts(t)
		s := redistest.StartSentinelWith(t, 1, 3, redistest.TopologyOptions{TLS: certs})
		topologyFlow(t, sentinelEnv(s, certs), s.ACL)
		assertTLSOnly(t, certs, s.Primary.Addr, s.Replicas[0].Addr, s.Sentinels[0].Addr)
	})
	t.Run("cluster", func(t *testing.T) {
		certs := redistest.NewCerts(t)
		c := redistest.StartClusterWith(t, 3, 0, redistest.TopologyOptions{TLS: certs})
		topologyFlow(t, clusterEnv(c, certs), c.ACL)
		assertTLSOnly(t, certs, c.Addrs()...)
	})
}

// assertTLSOnly checks that each address refuses a plaintext client and a TLS client that shows
// no certificate, and answers one that shows ours.
func assertTLSOnly(t *testing.T, certs *redistest.Certs, addrs ...string) {
	t.Helper()
	ping := func(addr string, conf *tls.Config) error {
		c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: conf, MaxRetries: -1})
		defer c.Close()
		return c.Ping(t.Context()).Err()
	}
	good := certs.ClientConfig(t)
	noCert := good.Clone()
	noCert.Certificates = nil
	for _, addr := range addrs {
		if err := ping(addr, nil); err == nil {
			t.Errorf("%s answered a plaintext client", addr)
		}
		if err := ping(addr, noCert); err == nil {
			t.Errorf("%s answered a TLS client without a certificate", addr)
		}
		// NOAUTH is an answer: TLS got through, the ACL then asks for a user.
		if err := ping(addr, good); err != nil && err.Error() != "NOAUTH Authentication required." {
			t.Errorf("%s refused our client certificate: %v", addr, err)
		}
	}
}
