package archive

import (
	"fmt"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Provenance, for a bundle made with --policy, is what the images' signatures were checked
// against when the bundle was made (the policy and the Sigstore trusted root, as files), and
// the verdict on each image. The signatures themselves are among Referrers. The bastion checks
// them again from these; the verdicts are what `list` shows.
type Provenance struct {
	Policy File `json:"policy"`
	// TrustedRoot is the trusted_root.json; absent when the policy accepts keys only.
	TrustedRoot *File             `json:"trustedRoot,omitempty"`
	Images      []ImageProvenance `json:"images"`
}

// ImageProvenance is the verdict on one image (one distinct digest) at create.
type ImageProvenance struct {
	Image    string             `json:"image"`  // server/path
	Digest   string             `json:"digest"` // the image's, as in Images
	Rule     string             `json:"rule,omitempty"`
	Status   string             `json:"status"` // verified, unsigned, unverified, not covered
	Signers  []ProvenanceSigner `json:"signers,omitempty"`
	Problems []string           `json:"problems,omitempty"`
}

// ProvenanceSigner is who signed an image, as verified.
type ProvenanceSigner struct {
	Format   string    `json:"format"` // cosign (a .sig tag's simple signing) or bundle (a Sigstore bundle referrer)
	Identity string    `json:"identity,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	Key      string    `json:"key,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Referrer string    `json:"referrer"`
}

// checkProvenance checks that the files' digests are their contents' and that every verdict
// is about an image of the bundle.
func (m *Manifest) checkProvenance() error {
	p := m.Provenance
	if p == nil {
		return nil
	}
	files := []*File{&p.Policy}
	if p.TrustedRoot != nil {
		files = append(files, p.TrustedRoot)
	}
	for _, f := range files {
		if verify.Digest([]byte(f.Content)) != f.Digest {
			return fmt.Errorf("%w: provenance: %s: digest %s is not its content's", ErrCorrupt, f.Name, f.Digest)
		}
	}
	digests := map[string]bool{}
	for _, im := range m.Images {
		digests[im.Digest] = true
	}
	for _, ip := range p.Images {
		if !digests[ip.Digest] {
			return fmt.Errorf("%w: provenance: %s %s is not an image of the bundle", ErrCorrupt, ip.Image, ip.Digest)
		}
	}
	return nil
}
