package bff

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const localClientIP = "paycode.client_ip"

// trustedProxies is PAYCODE_TRUSTED_PROXIES parsed: single addresses become
// /32 or /128 prefixes.
type trustedProxies []netip.Prefix

func parseTrustedProxies(list []string) trustedProxies {
	var out trustedProxies
	for _, p := range list {
		p = strings.TrimSpace(p)
		if pr, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pr.Masked())
			continue
		}
		if a, err := netip.ParseAddr(p); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
		// config.Load has refused anything else.
	}
	return out
}

func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwardedAddr reads one X-Forwarded-For entry: an address, or an
// address with a port ("192.0.2.1:443", "[2001:db8::1]:443"). Anything
// else is malformed.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// resolveClientIP is the client address of a request that arrived from
// peer with the given X-Forwarded-For entries (every header line, in
// order): the rightmost address that is not a trusted proxy, as nginx's
// real_ip_recursive and RFC 7239 section 7.4 advise. Each trusted proxy
// appends the address it received the request from, so the entries right
// of the first untrusted one were written by our proxies and everything
// left of it was written by the client, who may write anything there.
//
// A peer that is not a trusted proxy is the client, whatever it sends. A
// malformed entry ends the walk at the last address a trusted proxy vouched
// for (it cannot have come from one of ours). When every entry is a
// trusted proxy, the leftmost one is the client (a request from inside).
func resolveClientIP(trusted trustedProxies, peer netip.Addr, xff []string) netip.Addr {
	peer = peer.Unmap()
	if !trusted.contains(peer) {
		return peer
	}
	var entries []string
	for _, h := range xff {
		entries = append(entries, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseForwardedAddr(entries[i])
		if !ok {
			return client
		}
		client = a
		if !trusted.contains(a) {
			return a
		}
	}
	return client
}

// clientIP is the request's client address (rate limits, audit, logs),
// resolved once per request.
func (s *Server) clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(localClientIP).(string); ok {
		return ip
	}
	ip := s.resolveRequestIP(c)
	c.Locals(localClientIP, ip)
	return ip
}

func (s *Server) resolveRequestIP(c *fiber.Ctx) string {
	var peer netip.Addr
	if tcp, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(tcp.IP)
	} else {
		peer, _ = netip.ParseAddr(c.Context().RemoteIP().String())
	}
	if len(s.trusted) == 0 || !s.trusted.contains(peer) {
		return peer.Unmap().String()
	}
	var xff []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), fiber.HeaderXForwardedFor) {
			xff = append(xff, string(v))
		}
	})
	return resolveClientIP(s.trusted, peer, xff).String()
}

// peerTrusted reports whether the request came straight from a configured
// proxy (whose headers, such as the country header, are believed).
func (s *Server) peerTrusted(c *fiber.Ctx) bool {
	if len(s.trusted) == 0 {
		return false
	}
	tcp, ok := c.Context().RemoteAddr().(*net.TCPAddr)
	if !ok {
		return false
	}
	peer, ok := netip.AddrFromSlice(tcp.IP)
	return ok && s.trusted.contains(peer)
}
