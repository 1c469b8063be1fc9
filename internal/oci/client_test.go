package oci

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3": true, "localhost:5000": true, "LOCALHOST": true, "[::1]:5000": true,
		"10.0.0.1:5000": false, "192.168.1.1": false, "registry.local:5000": false, "example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestPlainHTTPGuard: plain HTTP to a registry off this machine is refused before any
// connection is made, unless --plain-http.
func TestPlainHTTPGuard(t *testing.T) {
	called := 0
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { called++; return nil, errors.New("dialled") })
	g := &guard{rt: rt}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://10.1.2.3:5000/v2/", nil)
	if _, err := g.RoundTrip(req); !errors.Is(err, ErrPlainHTTP) || called != 0 {
		t.Fatalf("err = %v, dialled %d times; want ErrPlainHTTP and no dial", err, called)
	}
	for _, u := range []string{"http://127.0.0.1:5000/v2/", "https://10.1.2.3/v2/"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		if _, err := g.RoundTrip(req); errors.Is(err, ErrPlainHTTP) {
			t.Errorf("%s refused", u)
		}
	}
	g.plainHTTP = true
	if _, err := g.RoundTrip(req); errors.Is(err, ErrPlainHTTP) {
		t.Error("refused with --plain-http")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
