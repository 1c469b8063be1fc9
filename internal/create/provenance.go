package create

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Provenance is what bundle create checks the images' signatures against (--policy): the
// policy and the trusted root, as files, and the verifier made of them.
type Provenance struct {
	Verifier        *provenance.Verifier
	PolicyName      string
	Policy          []byte
	TrustedRootName string // "" when the policy accepts keys only
	TrustedRoot     []byte
}

// record is the bundle manifest's provenance record, without verdicts.
func (p *Provenance) record() *archive.Provenance {
	rec := &archive.Provenance{Policy: archive.File{Name: p.PolicyName, Digest: verify.Digest(p.Policy), Content: string(p.Policy)}}
	if p.TrustedRoot != nil {
		rec.TrustedRoot = &archive.File{Name: p.TrustedRootName, Digest: verify.Digest(p.TrustedRoot), Content: string(p.TrustedRoot)}
	}
	return rec
}

// checkProvenance verifies every image's signatures, found among its referrers, fetching each
// signature layer (small, verified). An image the policy refuses is returned in failed and
// left out; the others' verdicts are returned for the manifest, in images' order.
func checkProvenance(ctx context.Context, c *oci.Client, jobs int, images []*image, p *Provenance) ([]*image, map[string]error, []provenance.Result) {
	results := make([]provenance.Result, len(images))
	errs := make([]error, len(images))
	mirror.ForEach(ctx, mirror.MetadataJobs(jobs), images, func(i int, im *image) {
		repo := im.group.Source.Repository()
		var refs []archive.Referrer
		nodes := map[string]*manifest.Node{}
		for _, r := range im.referrers {
			refs = append(refs, r.Referrer)
			nodes[r.Digest] = r.node
		}
		sigs, err := signaturesOf(ctx, im.root.Desc.Digest, refs,
			func(d string) []byte { return nodes[d].Raw },
			func(ctx context.Context, d manifest.Descriptor) ([]byte, error) {
				return mirror.ReadBlob(ctx, c, repo, d)
			})
		if err != nil {
			errs[i] = err
			return
		}
		results[i] = p.Verifier.Check(repo, im.root.Desc.Digest, sigs)
		errs[i] = results[i].Err()
	})
	var ok []*image
	var kept []provenance.Result
	failed := map[string]error{}
	for i, im := range images {
		if errs[i] == nil {
			errs[i] = ctx.Err()
		}
		if errs[i] == nil {
			ok = append(ok, im)
			kept = append(kept, results[i])
			continue
		}
		for _, m := range im.group.Members {
			failed[m.Key()] = fmt.Errorf("%s (%s@%s): %w", memberKeys(im.group), im.group.Source.Repository(), im.root.Desc.Digest, errs[i])
		}
	}
	return ok, failed, kept
}

// signaturesOf gathers the signatures of the image whose top-level digest is subject: the
// signature layers of its referrers (cosign's .sig manifests, Sigstore bundle referrers).
// raw gives a referrer's manifest; read a layer's bytes (verified against its descriptor).
func signaturesOf(ctx context.Context, subject string, refs []archive.Referrer, raw func(digest string) []byte,
	read func(context.Context, manifest.Descriptor) ([]byte, error)) ([]provenance.Signature, error) {
	var out []provenance.Signature
	for _, r := range refs {
		if r.Subject != subject {
			continue
		}
		var doc struct {
			Layers []manifest.Descriptor `json:"layers"`
		}
		if err := json.Unmarshal(raw(r.Digest), &doc); err != nil {
			return nil, fmt.Errorf("referrer %s: %w", r.Digest, err)
		}
		where := r.Digest
		if r.Tag != "" {
			where += " (" + r.Tag + ")"
		}
		for _, l := range doc.Layers {
			if !provenance.IsSignature(l.MediaType) {
				continue
			}
			if l.Size < 0 || l.Size > provenance.MaxSignatureSize {
				return nil, fmt.Errorf("referrer %s: signature layer %s of %d bytes: more than the %d a signature may have", where, l.Digest, l.Size, provenance.MaxSignatureSize)
			}
			data, err := read(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("referrer %s: signature layer %s: %w", where, l.Digest, err)
			}
			out = append(out, provenance.Signature{Referrer: where, MediaType: l.MediaType, Annotations: l.Annotations, Content: data})
		}
	}
	return out, nil
}

// provenanceImages is the manifest's record of the verdicts.
func provenanceImages(results []provenance.Result) []archive.ImageProvenance {
	var out []archive.ImageProvenance
	for _, r := range results {
		ip := archive.ImageProvenance{Image: r.Image, Digest: r.Digest, Rule: r.Rule, Status: r.Status, Problems: r.Problems}
		if r.Status == provenance.StatusUnsigned || r.Status == provenance.StatusNotCovered {
			ip.Problems = []string{r.Reason()}
		}
		for _, s := range r.Signed {
			ip.Signers = append(ip.Signers, archive.ProvenanceSigner{Format: s.Format, Identity: s.Identity, Issuer: s.Issuer,
				Key: s.Key, Time: s.Time, Referrer: s.Referrer})
		}
		out = append(out, ip)
	}
	return out
}

// CheckProvenance verifies, offline, the signatures the bundle carries for each of its images
// (each distinct digest, charts left out) against v, reading nothing but the bundle: the
// referrers' manifests through internal/graph (verified, and bounded as a push bounds them:
// past the bounds the bundle is corrupt), their signature layers verified as read. It
// returns every verdict; the caller refuses the push when one has Failed.
func CheckProvenance(ctx context.Context, b *archive.Bundle, v *provenance.Verifier) ([]provenance.Result, error) {
	g, err := graph.Read(ctx, b)
	if err != nil {
		return nil, err
	}
	m := b.Manifest()
	read := func(ctx context.Context, d manifest.Descriptor) ([]byte, error) {
		if rec, ok := m.BlobByDigest(d.Digest); !ok || rec.Size != d.Size {
			return nil, fmt.Errorf("%w: the bundle does not carry it as the referrer describes it", archive.ErrCorrupt)
		}
		rc, err := b.OpenBlob(d.Digest)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc) // verified at its end; its size was bounded by the caller
	}
	var out []provenance.Result
	seen := map[string]bool{}
	for _, im := range g.Images() {
		name := im.Repository()
		if im.Kind == archive.KindChart || seen[name+"@"+im.Digest] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seen[name+"@"+im.Digest] = true
		raw := map[string][]byte{}
		refs := make([]archive.Referrer, len(im.Referrers))
		for i, r := range im.Referrers {
			refs[i], raw[r.Digest] = r.Referrer, r.Node.Raw
		}
		sigs, err := signaturesOf(ctx, im.Digest, refs, func(d string) []byte { return raw[d] }, read)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", im.Key(), im.Ref(), err)
		}
		out = append(out, v.Check(name, im.Digest, sigs))
	}
	return out, nil
}
