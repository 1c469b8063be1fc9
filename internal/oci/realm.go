package oci

import (
	"context"
	"fmt"
	"net"
	"net/url"
)

// checkRealm applies the realm policy of authTransport to a challenge from the registry at reg.
func (a *authTransport) checkRealm(realm string, reg *url.URL) error {
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		return fmt.Errorf("registry %s: token realm %q is not a URL", reg.Host, realm)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (reg.Scheme == "http" || IsLoopback(u.Host)):
	default:
		return fmt.Errorf("registry %s: token realm %s: only https (or http for a plain-HTTP registry) carries credentials", reg.Host, u.Redacted())
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && linkLocal(ip) {
		return linkLocalRealm(reg.Host, u.Host, "")
	}
	return nil
}

// checkRealmAddrs refuses a realm whose host name resolves to a link-local address.
func (a *authTransport) checkRealmAddrs(ctx context.Context, host string, realm *url.URL) error {
	if net.ParseIP(realm.Hostname()) != nil {
		return nil // checkRealm did
	}
	addrs, err := a.lookup(ctx, realm.Hostname())
	if err != nil {
		return nil // the request will say it
	}
	for _, ad := range addrs {
		if linkLocal(ad.IP) {
			return linkLocalRealm(host, realm.Host, ad.IP.String())
		}
	}
	return nil
}

func linkLocal(ip net.IP) bool { return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() }

func linkLocalRealm(registry, realmHost, ip string) error {
	at := "is a link-local address"
	if ip != "" {
		at = "resolves to the link-local address " + ip
	}
	return fmt.Errorf("%w: registry %s: token realm %s %s (where cloud metadata services answer): refused, whatever the registry; "+
		"have the registry name its token service at another address", ErrRealm, registry, realmHost, at)
}
