package oci

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// IsLoopback reports whether host (host[:port]) names this machine: 127.0.0.0/8, ::1 or localhost.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ErrPlainHTTP is returned for a plain-HTTP request to a registry that is not on loopback,
// unless WithPlainHTTP allows it.
var ErrPlainHTTP = errors.New("plain HTTP is only used for loopback registries unless allowed")

// guard refuses plain HTTP to registries that are not on this machine, unless allowed.
type guard struct {
	rt        http.RoundTripper
	plainHTTP bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainHTTP && !IsLoopback(req.URL.Host) {
		return nil, fmt.Errorf("registry %s: %w", req.URL.Host, ErrPlainHTTP)
	}
	return g.rt.RoundTrip(req)
}
