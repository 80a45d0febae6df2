package app

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// MaxConnsPerIP caps the connections one client address may hold open at once. A browser opens
// about six; many people behind one NAT share an address, hence the headroom.
const MaxConnsPerIP = 128

// perIPListener closes a new connection at once when its address already holds max: a flood of
// idle or slow connections from one address cannot use up the server's connections and file
// descriptors. Trusted proxies are exempt (they carry many clients; deploy/nginx caps per client).
type perIPListener struct {
	net.Listener
	max     int
	trusted func(netip.Addr) bool
	refused *atomic.Int64

	mu   sync.Mutex
	open map[netip.Addr]int
}

func limitPerIP(ln net.Listener, max int, trusted func(netip.Addr) bool, refused *atomic.Int64) net.Listener {
	return &perIPListener{Listener: ln, max: max, trusted: trusted, refused: refused, open: map[netip.Addr]int{}}
}

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tcp, ok := c.RemoteAddr().(*net.TCPAddr)
		if !ok {
			return c, nil
		}
		ip := tcp.AddrPort().Addr().Unmap()
		if l.trusted(ip) {
			return c, nil
		}
		l.mu.Lock()
		if l.open[ip] >= l.max {
			l.mu.Unlock()
			l.refused.Add(1)
			_ = c.Close()
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *perIPListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// countedConn gives its slot back once, however often it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
