package handlers

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/gofiber/fiber/v2"
)

// Behind a reverse proxy every connection comes from the proxy, so the client's address has to
// come from X-Forwarded-For, and only from proxies we trust: anyone else can write that header.
// Fiber's own ProxyHeader takes the left-most entry, which is whatever the client sent, so it is
// not used. Instead clientAddr runs first and makes c.IP() the client's address for everything
// after it: rate limits, the audit log, the sessions list and the /metrics loopback check.

// clientAddr sets the request's remote address to the client's (see clientIP).
func (h *handler) clientAddr(c *fiber.Ctx) error {
	conn := c.Context().Conn()
	if conn == nil || len(h.cfg.TrustedProxies) == 0 {
		return c.Next()
	}
	// Read the TCP peer from the connection itself: the request context is reused on a keep-alive
	// connection and may still hold the previous request's client.
	peer, ok := conn.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return c.Next()
	}
	from, _ := netip.AddrFromSlice(peer.IP)
	ip := clientIP(from, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), h.cfg.TrustedProxy)
	c.Context().SetRemoteAddr(&net.TCPAddr{IP: ip.AsSlice(), Port: peer.Port})
	return c.Next()
}

// clientIP is the address a request comes from. The TCP peer is believed unless it is a trusted
// proxy. Then X-Forwarded-For (every proxy appends the address it saw) is read from the right,
// skipping trusted hops: the first untrusted address is the client, and anything left of it was
// written by the client and is ignored. An entry that is not an address stops the walk at the
// last trusted hop, so garbage can never pick an address of the sender's choosing.
func clientIP(peer netip.Addr, xff [][]byte, trusted func(netip.Addr) bool) netip.Addr {
	ip := peer.Unmap()
	if !trusted(ip) {
		return ip
	}
	var hops [][]byte
	for _, h := range xff { // several header lines count as one list, in order
		hops = append(hops, bytes.Split(h, []byte(","))...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		next, ok := parseHop(string(bytes.TrimSpace(hops[i])))
		if !ok {
			return ip
		}
		ip = next
		if !trusted(ip) {
			return ip
		}
	}
	return ip // every hop is trusted: a request from inside the proxies' own network
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a port ("[::1]:80").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
