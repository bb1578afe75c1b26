package bff

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// The client IP behind proxies is the rightmost address no trusted proxy
// wrote, so a client cannot choose the address its rate limits and audit
// entries are counted against by writing X-Forwarded-For itself (attack
// run, issue 13 item 2: with an appending proxy the whole header became
// the IP).
func TestResolveClientIPProxyShapes(t *testing.T) {
	trusted := parseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"})
	for _, tc := range []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"no proxy: the peer, whatever it sends", "198.51.100.9", []string{"203.0.113.1"}, "198.51.100.9"},
		{"trusted peer without the header", "10.0.0.5", nil, "10.0.0.5"},
		{"appending proxy (nginx $proxy_add_x_forwarded_for)", "10.0.0.5", []string{"192.0.2.77"}, "192.0.2.77"},
		{"appending proxy, client-written entry on the left", "10.0.0.5", []string{"203.0.113.1, 192.0.2.77"}, "192.0.2.77"},
		{"spoofed entries that claim to be our proxies", "10.0.0.5", []string{"10.9.9.9, 192.0.2.10, 192.0.2.77"}, "192.0.2.77"},
		{"chain of trusted proxies", "10.0.0.5", []string{"203.0.113.1, 198.51.100.4, 192.0.2.10, 10.1.1.1"}, "198.51.100.4"},
		{"chain over several header lines", "10.0.0.5", []string{"203.0.113.1, 198.51.100.4", "192.0.2.10", "10.1.1.1"}, "198.51.100.4"},
		{"every entry trusted: the leftmost", "10.0.0.5", []string{"10.1.1.1, 192.0.2.10"}, "10.1.1.1"},
		{"malformed rightmost entry: the proxy itself", "10.0.0.5", []string{"203.0.113.1, not-an-ip"}, "10.0.0.5"},
		{"malformed entry behind a trusted hop: that hop", "10.0.0.5", []string{"junk, 10.1.1.1"}, "10.1.1.1"},
		{"empty entries are malformed", "10.0.0.5", []string{"203.0.113.1, "}, "10.0.0.5"},
		{"entry with a port", "10.0.0.5", []string{"203.0.113.1:4431"}, "203.0.113.1"},
		{"IPv6 entry with a port", "10.0.0.5", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv6 trusted hop", "10.0.0.5", []string{"2001:db8::7, 2001:db8:ffff::1"}, "2001:db8::7"},
		{"IPv4-mapped IPv6 peer is the IPv4 proxy", "::ffff:10.0.0.5", []string{"192.0.2.77"}, "192.0.2.77"},
		{"zoned address is malformed", "10.0.0.5", []string{"fe80::1%eth0"}, "10.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolveClientIP(trusted, netip.MustParseAddr(tc.peer), tc.xff)
			if got.String() != tc.want {
				t.Errorf("peer %s, X-Forwarded-For %q: client %s; want %s", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

// Through the server: behind an appending proxy the access log (and so
// every limit and audit entry, which read the same clientIP) has the
// address the proxy saw, not the string the client wrote.
func TestClientIPBehindAppendingProxy(t *testing.T) {
	// Fiber's test connection comes from 0.0.0.0: that is the proxy here.
	s, logs := newTestServer(t, nil, map[string]string{"PAYCODE_TRUSTED_PROXIES": "0.0.0.0"})
	req := httptest.NewRequest("GET", "/nothing-here", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.1, 192.0.2.77")
	do(t, s.app, req)
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &line); err != nil {
		t.Fatal(err)
	}
	if line["ip"] != "192.0.2.77" {
		t.Errorf("logged ip %q; want 192.0.2.77 (the address the proxy appended)", line["ip"])
	}

	// A client that is not the proxy is itself, whatever it writes.
	s, logs = newTestServer(t, nil, map[string]string{"PAYCODE_TRUSTED_PROXIES": "10.0.0.0/8"})
	do(t, s.app, req)
	line = nil
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &line); err != nil {
		t.Fatal(err)
	}
	if line["ip"] != "0.0.0.0" {
		t.Errorf("logged ip %q; want the peer 0.0.0.0", line["ip"])
	}
}
