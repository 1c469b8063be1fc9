package delta

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// InventoryMediaType identifies an inventory file.
const InventoryMediaType = "application/vnd.element.ess.inventory.v1+json"

// Inventory records what a registry holds for some repositories: every tag, and every manifest
// and blob digest reachable from them. It is made on the air-gapped side (unbundle inventory)
// and carried back so that a delta bundle leaves out what the registry has (bundle create
// --since). It holds digests, repository paths, tags and the registry string only: no
// credentials. The JSON form is documented in docs/bundle-format.md ("Inventory files").
type Inventory struct {
	FormatVersion int    `json:"formatVersion"` // 1
	MediaType     string `json:"mediaType"`     // InventoryMediaType
	// Registry is the destination, HOST[:PORT][/PREFIX], the prefix including --path-prefix.
	Registry     string          `json:"registry"`
	Created      time.Time       `json:"created"`
	Repositories []InventoryRepo `json:"repositories"` // sorted by name
	Manifests    []string        `json:"manifests"`    // sorted, unique: every manifest and index digest seen
	Blobs        []string        `json:"blobs"`        // sorted, unique: every config and layer digest seen
}

// InventoryRepo is one repository (its path on the registry, without the host) and the digest
// it serves for each of its tags. A repository the registry does not know has no tags.
type InventoryRepo struct {
	Name string            `json:"name"`
	Tags map[string]string `json:"tags"` // tag -> digest served
}

// ReadInventory reads an inventory file. It refuses (with an error wrapping ErrBadInventory)
// a file that is not JSON, another format version or media type, or that holds a string that
// is not a sha256 digest where a digest belongs. Manifests and Blobs come back sorted and
// unique, whatever the file's order.
func ReadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var inv Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrBadInventory, err)
	}
	if inv.FormatVersion != 1 || inv.MediaType != InventoryMediaType {
		return nil, fmt.Errorf("%s: %w: format version %d, media type %q; want 1, %s",
			path, ErrBadInventory, inv.FormatVersion, inv.MediaType, InventoryMediaType)
	}
	var digests []string
	for _, r := range inv.Repositories {
		for _, d := range r.Tags {
			digests = append(digests, d)
		}
	}
	for _, d := range append(append(digests, inv.Manifests...), inv.Blobs...) {
		if err := verify.Check(d); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, ErrBadInventory, err)
		}
	}
	slices.Sort(inv.Manifests)
	slices.Sort(inv.Blobs)
	inv.Manifests, inv.Blobs = slices.Compact(inv.Manifests), slices.Compact(inv.Blobs)
	return &inv, nil
}

// Has reports whether the inventory records digest as a manifest, an index or a blob. It
// relies on Manifests and Blobs being sorted, as TakeInventory and ReadInventory leave them.
func (inv *Inventory) Has(digest string) bool {
	_, m := slices.BinarySearch(inv.Manifests, digest)
	_, b := slices.BinarySearch(inv.Blobs, digest)
	return m || b
}
