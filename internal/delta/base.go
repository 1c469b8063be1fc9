package delta

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// LoadBase reads what a delta bundle is made against (bundle create --since): an earlier
// bundle (NAME.tar.zst: every blob it carries or relies on) or an inventory of the destination
// (see Inventory). It returns the base's record for the new bundle, the test of what it has and,
// for a bundle, the bundle itself, open (its manifests and configs serve the new one's
// resolution: oci.WithLocal); the caller closes it. open opens a bundle (the caller's trusted
// open: trust.Find, then Set.Open). Its errors are *BaseError.
func LoadBase(path string, open func(path string) (*archive.Bundle, error)) (*archive.Base, func(digest string) bool, *archive.Bundle, error) {
	have := map[string]bool{}
	base := &archive.Base{Name: filepath.Base(path)}
	var b *archive.Bundle
	if strings.HasSuffix(path, ".tar.zst") {
		var err error
		if b, err = open(path); err != nil {
			return nil, nil, nil, &BaseError{Path: path, Err: err}
		}
		m := b.Manifest()
		for _, bl := range append(append([]archive.Blob{}, m.Blobs...), m.External...) {
			have[bl.Digest] = true
		}
		for _, im := range m.Images {
			base.Paths = appendNew(base.Paths, im.Path)
		}
		if m.Base != nil {
			for _, p := range m.Base.Paths {
				base.Paths = appendNew(base.Paths, p)
			}
		}
		base.Kind = "bundle"
	} else {
		inv, err := ReadInventory(path)
		if err != nil {
			return nil, nil, nil, &BaseError{Path: path, Err: err}
		}
		for _, d := range append(append([]string{}, inv.Blobs...), inv.Manifests...) {
			have[d] = true
		}
		_, prefix, _ := strings.Cut(inv.Registry, "/")
		for _, r := range inv.Repositories {
			if len(r.Tags) > 0 {
				base.Paths = appendNew(base.Paths, strings.TrimPrefix(strings.TrimPrefix(r.Name, prefix), "/"))
			}
		}
		base.Kind = "inventory"
	}
	sum, err := fileDigest(path)
	if err != nil {
		if b != nil {
			b.Close()
		}
		return nil, nil, nil, &BaseError{Path: path, Err: err}
	}
	base.Digest = sum
	return base, func(d string) bool { return have[d] }, b, nil
}

// fileDigest is the sha256 of a file: from NAME.sha256 beside it when there is one (a bundle
// has it, also in parts, and reading gigabytes again would be waste), else computed.
func fileDigest(path string) (string, error) {
	if sums, err := parts.ReadSums(path + ".sha256"); err == nil {
		return "sha256:" + sums.SHA256, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
