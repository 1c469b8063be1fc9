package imageref

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ server, path, wantServer, wantPath string }{
		{"docker.io", "postgres", "docker.io", "library/postgres"},
		{"docker.io", "library/postgres", "docker.io", "library/postgres"},
		{"index.docker.io", "postgres", "docker.io", "library/postgres"},
		{"Index.Docker.IO", "livekit/livekit-server", "docker.io", "livekit/livekit-server"},
		{"", "redis", "docker.io", "library/redis"},
		{"ghcr.io", "postgres", "ghcr.io", "postgres"}, // other registries have no implicit namespace
		{"oci.element.io", "synapse", "oci.element.io", "synapse"},
		{"localhost:5000", "postgres", "localhost:5000", "postgres"},
		{"docker.io", "", "docker.io", ""},
	} {
		s, p := Normalize(tc.server, tc.path)
		if s != tc.wantServer || p != tc.wantPath {
			t.Errorf("Normalize(%q, %q) = %q, %q; want %q, %q", tc.server, tc.path, s, p, tc.wantServer, tc.wantPath)
		}
	}
}

func TestParse(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{"postgres", Ref{"docker.io", "library/postgres", "latest", ""}},
		{"postgres:17-alpine", Ref{"docker.io", "library/postgres", "17-alpine", ""}},
		{"docker.io/postgres:17-alpine", Ref{"docker.io", "library/postgres", "17-alpine", ""}},
		{"index.docker.io/library/redis:7.4", Ref{"docker.io", "library/redis", "7.4", ""}},
		{"quay.io/jetstack/cert-manager-controller:v1.15.0", Ref{"quay.io", "jetstack/cert-manager-controller", "v1.15.0", ""}},
		{"127.0.0.1:5000/a/b@" + dg, Ref{"127.0.0.1:5000", "a/b", "", dg}},
		{"ghcr.io/x/y:1.0@" + dg, Ref{"ghcr.io", "x/y", "1.0", dg}},
		{"localhost/x", Ref{"localhost", "x", "latest", ""}},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "x/UPPER", "a b", "x@sha256:12", "ghcr.io/x:", "https://ghcr.io/x"} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if r, _ := Parse("ghcr.io/x/y:1.0@" + dg); r.String() != "ghcr.io/x/y:1.0@"+dg {
		t.Errorf("String() = %q", r.String())
	}
}

func TestParseRegistry(t *testing.T) {
	for in, want := range map[string]string{"docker.io": "docker.io", "index.docker.io": "docker.io", "ghcr.io": "ghcr.io",
		"harbor.corp:8443": "harbor.corp:8443", "localhost": "localhost", "127.0.0.1:5000": "127.0.0.1:5000"} {
		if got, err := ParseRegistry(in); err != nil || got != want {
			t.Errorf("ParseRegistry(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "postgres", "https://ghcr.io", "ghcr.io/x", "a b", "x@y"} {
		if _, err := ParseRegistry(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRegistry(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestRefString: each form names what was given, tag and digest together when both were.
func TestRefString(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		r    Ref
		want string
	}{
		{Ref{Server: "ghcr.io", Path: "a/b", Tag: "1"}, "ghcr.io/a/b:1"},
		{Ref{Server: "ghcr.io", Path: "a/b", Digest: dg}, "ghcr.io/a/b@" + dg},
		{Ref{Server: "ghcr.io", Path: "a/b", Tag: "1", Digest: dg}, "ghcr.io/a/b:1@" + dg},
		{Ref{Server: "localhost:5000", Path: "x"}, "localhost:5000/x"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
		if got := c.r.Repository(); got != c.r.Server+"/"+c.r.Path {
			t.Errorf("Repository %q", got)
		}
	}
	// A reference read back from its string is the same reference.
	for _, s := range []string{"postgres", "ghcr.io/x/y:1.0@" + dg, "127.0.0.1:5000/a/b@" + dg, "  redis:7  "} {
		r, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(r.String())
		if err != nil || again != r {
			t.Errorf("%q: %+v, then %+v (%v)", s, r, again, err)
		}
	}
}

func TestParseRegistryMore(t *testing.T) {
	for in, want := range map[string]string{"Docker.IO": "docker.io", "INDEX.docker.io": "docker.io", "localhost:5000": "localhost:5000",
		"[::1]:5000": "[::1]:5000", "reg.example.org": "reg.example.org"} {
		if got, err := ParseRegistry(in); err != nil || got != want {
			t.Errorf("ParseRegistry(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ghcr.io:", "-ghcr.io", "library", "oci://ghcr.io", "ghcr.io/"} {
		if got, err := ParseRegistry(bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "HOST[:PORT]") {
			t.Errorf("ParseRegistry(%q) = %q, %v", bad, got, err)
		}
	}
}
