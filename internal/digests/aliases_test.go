package digests

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
)

// TestParseAliasBomb: an image list (or a ConfigMap, or a Helm map) whose aliases expand past
// yamlcheck.MaxAliasNodes is refused as an invalid list naming the file, however it would be
// used.
func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("images_digests:\n  l0: &l0 {a: {image_repository_server: r, image_repository_path: p, image_tag: t}}\n")
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), 9), ",")
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, refs)
	}
	_, err := Parse("bomb.yml", []byte(b.String()))
	if !errors.Is(err, ErrInvalidList) || !errors.Is(err, yamlcheck.ErrAliases) || !strings.HasPrefix(err.Error(), "bomb.yml: ") {
		t.Errorf("list: %v", err)
	}
	if _, err := ParseHelmMap("map.yml", []byte(b.String())); !errors.Is(err, ErrInvalidHelmMap) || !errors.Is(err, yamlcheck.ErrAliases) || !strings.HasPrefix(err.Error(), "map.yml: ") {
		t.Errorf("helm map: %v", err)
	}
	if _, err := ParseConfigMap([]byte("apiVersion: v1\n" + strings.Replace(b.String(), "images_digests:", "x:", 1))); !errors.Is(err, ErrInvalidConfigMap) || !errors.Is(err, yamlcheck.ErrAliases) {
		t.Errorf("ConfigMap: %v", err)
	}
}
