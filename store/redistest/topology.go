package redistest

import (
	"context"
	"crypto/tls"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Topologies run every node as production does: its own config file made from the shipped
// deploy/redis configs (persistence on, ACL users from the template, TLS when asked), so a test
// also proves the configs. Harness connections use the admin user.

// TopologyOptions are what a topology test may vary.
type TopologyOptions struct {
	TLS *Certs // every node speaks TLS only (plaintext port off); nil: plaintext
}

// vars fill the shipped configs' placeholders for nodes on loopback.
func (o TopologyOptions) vars(acl *ACL) map[string]string {
	vars := map[string]string{"BIND": "127.0.0.1", "ANNOUNCE_IP": "127.0.0.1"}
	maps.Copy(vars, acl.Vars())
	if o.TLS != nil {
		maps.Copy(vars, o.TLS.Vars())
	}
	return vars
}

func (o TopologyOptions) clientTLS(t TB) *tls.Config {
	if o.TLS == nil {
		return nil
	}
	return o.TLS.ClientConfig(t)
}

// Cluster is a Redis Cluster on loopback.
type Cluster struct {
	Nodes []*Server // masters first, then replicas (as redis-cli --cluster create assigns them)
	ACL   *ACL
	TLS   *tls.Config // the client side, when the nodes speak TLS
}

// Addrs lists the nodes' addresses (the seed list for a cluster client).
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// Admin is a cluster client as the admin user, closed at cleanup.
func (c *Cluster) Admin(t TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Username: "admin", Password: c.ACL.Passwords["admin"], TLSConfig: c.TLS})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// StartCluster starts n masters (n >= 3) and joins them into a cluster.
func StartCluster(t TB, n int) *Cluster { return StartClusterWith(t, n, 0, TopologyOptions{}) }

// StartClusterWith starts masters with replicasPerMaster replicas each, joins them with
// redis-cli --cluster create and waits until every node says the cluster is ok and every
// replica is in sync.
func StartClusterWith(t TB, masters, replicasPerMaster int, o TopologyOptions) *Cluster {
	t.Helper()
	acl := NewACL(t)
	vars := o.vars(acl)
	c := &Cluster{ACL: acl, TLS: o.clientTLS(t)}
	for i := 0; i < masters*(1+replicasPerMaster); i++ {
		c.Nodes = append(c.Nodes, Start(t, Options{Role: "cluster", Vars: vars, TLS: c.TLS, Username: "admin", Password: acl.Passwords["admin"]}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	args = append(args, cliAuth(acl, o.TLS)...)
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: cluster create: %v\n%s", err, out)
	}
	ctx := context.Background()
	clients := make([]*redis.Client, len(c.Nodes))
	for i, node := range c.Nodes {
		clients[i] = node.Client(t)
	}
	// Every node must see the cluster ok and every slot range served by a master and its
	// replicas (gossip spreads the replicas' roles a little after they sync).
	waitFor(t, "the cluster to be ok, with its replicas, on every node", func() bool {
		for _, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil || len(slots) != masters {
				return false
			}
			for _, r := range slots {
				if len(r.Nodes) != 1+replicasPerMaster {
					return false
				}
			}
		}
		return true
	})
	for _, node := range c.Nodes[masters:] {
		waitInSync(t, node)
	}
	return c
}

func cliAuth(acl *ACL, certs *Certs) []string {
	out := []string{"--user", "admin", "--pass", acl.Passwords["admin"], "--no-auth-warning"}
	if certs != nil {
		out = append(out, "--tls", "--cacert", certs.CA, "--cert", certs.ClientCert, "--key", certs.ClientKey)
	}
	return out
}

// Sentinel is a primary with replicas watched by sentinels.
type Sentinel struct {
	Primary   *Server
	Replicas  []*Server
	Sentinels []*Server
	Master    string // the master name
	ACL       *ACL
	TLS       *tls.Config // the client side, when the nodes speak TLS
}

// Addrs lists the sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	var out []string
	for _, n := range s.Sentinels {
		out = append(out, n.Addr)
	}
	return out
}

// StartSentinel starts a primary, replicas and sentinels (quorum: a majority) on loopback.
func StartSentinel(t TB, replicas, sentinels int) *Sentinel {
	return StartSentinelWith(t, replicas, sentinels, TopologyOptions{})
}

// StartSentinelWith starts the group and waits until every replica is in sync and every
// sentinel knows every replica and every other sentinel: a failover from then on can succeed.
func StartSentinelWith(t TB, replicas, sentinels int, o TopologyOptions) *Sentinel {
	t.Helper()
	acl := NewACL(t)
	vars := o.vars(acl)
	s := &Sentinel{Master: "hazardwatch", ACL: acl, TLS: o.clientTLS(t)}
	admin := Options{TLS: s.TLS, Username: "admin", Password: acl.Passwords["admin"]}
	node := func(role string, extra map[string]string) Options {
		opts := admin
		opts.Role, opts.Vars = role, maps.Clone(vars)
		maps.Copy(opts.Vars, extra)
		return opts
	}
	s.Primary = Start(t, node("primary", nil))
	at := map[string]string{"PRIMARY_HOST": "127.0.0.1", "PRIMARY_PORT": port(s.Primary.Addr)}
	for i := 0; i < replicas; i++ {
		s.Replicas = append(s.Replicas, Start(t, node("replica", at)))
	}
	for _, r := range s.Replicas {
		waitInSync(t, r)
	}
	at["QUORUM"] = strconv.Itoa(sentinels/2 + 1)
	for i := 0; i < sentinels; i++ {
		opts := node("sentinel", at)
		opts.Sentinel, opts.Username, opts.Password = true, "", "" // sentinels take no ACL login here
		s.Sentinels = append(s.Sentinels, Start(t, opts))
	}
	ctx := context.Background()
	waitFor(t, "every sentinel to know the replicas and the other sentinels", func() bool {
		for _, sn := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, TLSConfig: s.TLS})
			m, err := c.Master(ctx, s.Master).Result()
			c.Close()
			if err != nil || m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != strconv.Itoa(sentinels-1) {
				return false
			}
		}
		return true
	})
	return s
}

// CurrentPrimary asks the first sentinel that answers for the master's address.
func (s *Sentinel) CurrentPrimary(ctx context.Context) (string, error) {
	var last error
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, TLSConfig: s.TLS})
		addr, err := c.GetMasterAddrByName(ctx, s.Master).Result()
		c.Close()
		if err == nil {
			return addr[0] + ":" + addr[1], nil
		}
		last = err
	}
	return "", last
}

// waitInSync waits until the replica's link to its primary is up.
func waitInSync(t TB, r *Server) {
	t.Helper()
	c := r.Client(t)
	waitFor(t, "replica "+r.Addr+" to sync", func() bool {
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
}

// waitFor polls cond with a generous deadline: it bounds a wait on a loaded machine, it does not
// measure speed.
func waitFor(t TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: gave up waiting for %s", what)
		}
	}
}

func port(addr string) string {
	i := strings.LastIndex(addr, ":")
	if _, err := strconv.Atoi(addr[i+1:]); err != nil {
		return ""
	}
	return addr[i+1:]
}

// DeployFiles is a snapshot of the repository's deploy/ tree (names and contents). A test takes
// one before it runs a topology and checks it afterwards: nothing may write to deploy/ (Sentinel
// rewriting a config a node was started from did). A snapshot rather than `git status`, so the
// check also holds in a working tree with uncommitted edits.
type DeployFiles map[string]string

// SnapshotDeploy reads deploy/ now.
func SnapshotDeploy(t TB) DeployFiles {
	t.Helper()
	files := DeployFiles{}
	root := filepath.Join(Root(), "deploy")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[strings.TrimPrefix(path, root)] = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return files
}

// AssertUnchanged fails t when a file under deploy/ was written, added or removed since the snapshot.
func (before DeployFiles) AssertUnchanged(t TB) {
	t.Helper()
	after := SnapshotDeploy(t)
	var changed []string
	for name, body := range after {
		if old, ok := before[name]; !ok || old != body {
			changed = append(changed, "deploy"+name)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			changed = append(changed, "deploy"+name)
		}
	}
	if len(changed) > 0 {
		t.Fatalf("written during the test: %s", strings.Join(changed, ", "))
	}
}

// FreePorts returns n distinct free loopback ports (for scripts that take fixed ports).
func FreePorts(t TB, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		p, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
