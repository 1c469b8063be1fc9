package push

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/imageref"
)

func TestParseDestination(t *testing.T) {
	tests := []struct {
		registry, prefix string
		host, path       string
		bad              bool
		notRegistry      bool // wraps ErrRegistry
	}{
		{"reg.local:5000", "", "reg.local:5000", "", false, false},
		{"reg.local:5000/ess/", "", "reg.local:5000", "ess", false, false},
		{"reg.local/ess", "mirror", "reg.local", "ess/mirror", false, false},
		{"https://reg.local", "", "", "", true, true},
		{"user@reg.local", "", "", "", true, true},
		{"reg.local", "UPPER", "", "", true, false},
		{"", "", "", "", true, true},
	}
	for _, tt := range tests {
		d, err := ParseDestination(tt.registry, tt.prefix)
		if tt.bad {
			if err == nil {
				t.Errorf("%q %q: accepted", tt.registry, tt.prefix)
			}
			if errors.Is(err, ErrRegistry) != tt.notRegistry || tt.notRegistry && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.registry)) {
				t.Errorf("%q %q: %v (ErrRegistry: want %v, naming the registry)", tt.registry, tt.prefix, err, tt.notRegistry)
			}
			continue
		}
		if err != nil || d.Host != tt.host || d.Prefix != tt.path {
			t.Errorf("%q %q: got %+v, %v", tt.registry, tt.prefix, d, err)
		}
	}
	d := Destination{Host: "r", Prefix: "ess"}
	if got := d.Repo(archive.Image{Entry: imageref.Entry{Path: "library/redis"}}); got != "ess/library/redis" {
		t.Errorf("Repo = %q", got)
	}
}

// TestTargetsClash: two sources landing on one repository:tag with different digests are refused;
// the same digest twice (one image under several containers) is one target.
func TestTargetsClash(t *testing.T) {
	img := func(key, server, digest string) *graph.Image {
		c, k, _ := strings.Cut(key, ".")
		return &graph.Image{Image: archive.Image{Entry: imageref.Entry{Component: c, Container: k, Server: server, Path: "library/redis", Tag: "7"}, Digest: digest}}
	}
	a, b := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	ts, err := targets(Destination{Host: "r"}, []*graph.Image{img("x.redis", "docker.io", a), img("y.redis", "docker.io", a)})
	if err != nil || len(ts) != 1 || len(ts[0].images) != 2 {
		t.Fatalf("same image twice: %v targets, %v", len(ts), err)
	}
	_, err = targets(Destination{Host: "r"}, []*graph.Image{img("x.redis", "docker.io", a), img("y.redis", "quay.io", b)})
	if !errors.Is(err, ErrClash) || !strings.Contains(err.Error(), "quay.io/library/redis:7") {
		t.Fatalf("clash: %v", err)
	}
}
