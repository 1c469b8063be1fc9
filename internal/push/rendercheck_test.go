package push

import (
	"strings"
	"testing"
)

// TestCheckLocal: which rendered images name the local registry, and with what path and digest.
func TestCheckLocal(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	o := RenderCheckOptions{Server: "reg.local:5000"}
	for _, tc := range []struct {
		img, repo string
		ok        bool
	}{
		{"reg.local:5000/ess/element-hq/synapse@" + d, "ess/element-hq/synapse", true},
		{"reg.local:5000/ess/library/redis:7.4@" + d, "ess/library/redis", true},
		{"reg.local:5000/ess/element-hq/synapse:v1", "", false},
		{"ghcr.io/element-hq/synapse@" + d, "", false},
		{"reg.local:5001/ess/synapse@" + d, "", false},
		{"reg.local:5000@" + d, "", false},
	} {
		repo, digest, ok := o.local(tc.img)
		if ok != tc.ok || (ok && (repo != tc.repo || digest != d)) {
			t.Errorf("%s: %q %q %v, want %q %v", tc.img, repo, digest, ok, tc.repo, tc.ok)
		}
	}
}
