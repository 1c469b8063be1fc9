package delta

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
)

func TestReadInventoryRejects(t *testing.T) {
	good := verify.Digest([]byte("x"))
	head := `{"formatVersion":1,"mediaType":"` + InventoryMediaType + `","registry":"reg.local"`
	for name, body := range map[string]string{
		"not json":       `{"formatVersion":1`,
		"version 2":      `{"formatVersion":2,"mediaType":"` + InventoryMediaType + `"}`,
		"media type":     `{"formatVersion":1,"mediaType":"application/json"}`,
		"bundle file":    `{"formatVersion":1,"mediaType":"application/vnd.element.ess.bundle.manifest.v1+json"}`,
		"manifest":       head + `,"manifests":["sha256:1234"],"blobs":["` + good + `"]}`,
		"blob uppercase": head + `,"blobs":["` + strings.ToUpper(good) + `"]}`,
		"blob md5":       head + `,"blobs":["md5:d41d8cd98f00b204e9800998ecf8427e"]}`,
		"tag digest":     head + `,"repositories":[{"name":"a","tags":{"1":"latest"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inventory.json")
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadInventory(path); !errors.Is(err, ErrBadInventory) {
				t.Fatalf("err = %v, want ErrBadInventory", err)
			}
		})
	}
	if _, err := ReadInventory(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

// TestReadInventorySorts: a hand-edited file out of order still answers Has.
func TestReadInventorySorts(t *testing.T) {
	a, b := verify.Digest([]byte("a")), verify.Digest([]byte("b"))
	body := `{"formatVersion":1,"mediaType":"` + InventoryMediaType + `","blobs":["` + b + `","` + a + `","` + b + `"]}`
	path := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := ReadInventory(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values([]string{a, b})); !slices.Equal(inv.Blobs, want) || !inv.Has(a) || !inv.Has(b) {
		t.Fatalf("blobs %v, want %v", inv.Blobs, want)
	}
}

// TestInventoryHas: Has finds manifests and blobs, and nothing else (a tag's digest is not
// in the lists unless recorded there).
func TestInventoryHas(t *testing.T) {
	m, b, tagged := verify.Digest([]byte("m")), verify.Digest([]byte("b")), verify.Digest([]byte("t"))
	path := writeInventory(t, Inventory{FormatVersion: 1, MediaType: InventoryMediaType, Registry: "r",
		Repositories: []InventoryRepo{{Name: "a", Tags: map[string]string{"1": tagged}}}, Manifests: []string{m}, Blobs: []string{b}})
	inv, err := ReadInventory(path)
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Has(m) || !inv.Has(b) || inv.Has(tagged) || inv.Has("") {
		t.Errorf("Has: manifest %v, blob %v, tag only %v", inv.Has(m), inv.Has(b), inv.Has(tagged))
	}
	if inv.Repositories[0].Tags["1"] != tagged || inv.Registry != "r" {
		t.Errorf("read %+v", inv)
	}
	if err := os.WriteFile(path, []byte(`{"formatVersion":1,"mediaType":"`+InventoryMediaType+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if inv, err := ReadInventory(path); err != nil || inv.Has(m) || len(inv.Repositories) != 0 {
		t.Errorf("an empty inventory: %v, %+v", err, inv)
	}
}
