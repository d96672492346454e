package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says where webhooks may go. The defaults are for production: https only, and never
// to loopback, private, link-local (cloud metadata included) or other internal addresses.
type Policy struct {
	// AllowHTTP permits http:// URLs (PNONBOARD_WEBHOOK_ALLOW_HTTP).
	AllowHTTP bool
	// AllowPrivate permits internal addresses (PNONBOARD_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
}

// ErrForbiddenAddress is returned (wrapped) for a URL or connection to an internal address.
var ErrForbiddenAddress = errors.New("webhook address not allowed")

// reservedV4 are IPv4 ranges that netip's predicates do not name but that are not the public
// internet either.
func reservedV4() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),        // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),    // carrier-grade NAT, shared address space
		netip.MustParsePrefix("168.63.129.16/32"), // Azure's platform endpoint (metadata, DNS)
		netip.MustParsePrefix("192.0.0.0/24"),     // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),     // documentation
		netip.MustParsePrefix("198.18.0.0/15"),    // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"),  // documentation
		netip.MustParsePrefix("203.0.113.0/24"),   // documentation
		netip.MustParsePrefix("240.0.0.0/4"),      // reserved, and broadcast
	}
}

// forbidden reports why addr may not receive webhooks, or "" when it may. IPv6 is an
// allowlist: only global unicast (2000::/3), and not the ranges inside it that tunnel to IPv4
// (6to4 is judged by the IPv4 address it carries) or are reserved. That closes the
// IPv4-compatible, NAT64, site-local and unique-local back doors to internal IPv4.
func forbidden(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "link-local (cloud metadata lives there)"
	case addr.IsUnspecified(), addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return "not unicast"
	}
	if addr.Is4() {
		for _, p := range reservedV4() {
			if p.Contains(addr) {
				return "reserved"
			}
		}
		return ""
	}
	if !netip.MustParsePrefix("2000::/3").Contains(addr) {
		return "not global unicast"
	}
	switch {
	case netip.MustParsePrefix("2002::/16").Contains(addr): // 6to4: the IPv4 address is bytes 2-5
		b := addr.As16()
		if why := forbidden(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); why != "" {
			return "6to4 of an address that is " + why
		}
	case netip.MustParsePrefix("2001::/32").Contains(addr): // Teredo
		return "a tunnel"
	case netip.MustParsePrefix("2001:db8::/32").Contains(addr), netip.MustParsePrefix("2001::/23").Contains(addr):
		return "reserved"
	}
	return ""
}

// CheckURL validates a webhook URL at registration: absolute, http(s) per policy, no
// credentials, and not aimed at an internal address. Host names are resolved and every
// address checked; a name that does not resolve yet is accepted, because delivery checks
// again at connect time, which is also what defeats DNS rebinding.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return errors.New("must be an absolute URL like https://example.com/webhooks")
	case u.Scheme != "https" && !(p.AllowHTTP && u.Scheme == "http"):
		if p.AllowHTTP {
			return errors.New("must use http or https")
		}
		return errors.New("must use https (http needs PNONBOARD_WEBHOOK_ALLOW_HTTP=true)")
	case u.User != nil:
		return errors.New("must not carry credentials; verify our signature instead")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	case len(raw) > 2048:
		return errors.New("must be at most 2048 bytes")
	}
	if p.AllowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") {
		return fmt.Errorf("%w: %s is internal", ErrForbiddenAddress, host)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if why := forbidden(addr); why != "" {
			return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, addr, why)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if why := forbidden(a); why != "" {
			// Say what kind of address, not which: the answer would map internal DNS.
			return fmt.Errorf("%w: %s resolves to an address that is %s", ErrForbiddenAddress, host, why)
		}
	}
	return nil
}

// control refuses, at connect time, connections to addresses the policy forbids: the address
// checked is the one actually dialled, after DNS, so a rebinding name cannot slip through.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrForbiddenAddress, address)
	}
	if why := forbidden(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, ap.Addr(), why)
	}
	return nil
}

// maxResponseBytes caps how much of a receiver's answer is read.
const maxResponseBytes = 64 << 10

// HTTPClient returns the client deliveries use: the policy enforced at connect time, no
// proxy (which would hide the real destination), no redirects (a 3xx is a failed delivery),
// and a 15-second budget per attempt.
func (p Policy) HTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
	return &http.Client{
		Timeout: DeliveryTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: DeliveryTimeout,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// readCapped reads at most maxResponseBytes of r and drains nothing more.
func readCapped(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, maxResponseBytes))
	return b
}
