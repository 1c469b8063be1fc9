package oci

import (
	"context"
	"errors"
	"fmt"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Referrers returns the descriptors of what refers to digest in repo ("host/path") by its OCI
// 1.1 subject field: the registry's referrers API answer or, where the registry has no
// referrers API, the index kept under the referrers tag scheme's tag (none when there is no
// such tag). The list is as the registry gives it: fetch each manifest by digest to trust it.
func (c *Client) Referrers(ctx context.Context, repo, digest string) ([]manifest.Descriptor, error) {
	r, mirror, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Referrers(r.Digest(digest), append(c.remoteOptions(), remote.WithContext(ctx))...)
	if err != nil {
		return nil, through(mirror, fmt.Errorf("referrers of %s@%s: %w", repo, digest, describe(err)))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s@%s: %w", repo, digest, err)
	}
	out := make([]manifest.Descriptor, 0, len(im.Manifests))
	for _, d := range im.Manifests {
		out = append(out, manifest.Descriptor{MediaType: string(d.MediaType), Digest: d.Digest.String(), Size: d.Size,
			ArtifactType: d.ArtifactType, Annotations: d.Annotations})
	}
	return out, nil
}

// ListTags returns every tag of repo ("host/path"), following the registry's pages, within
// the caps of Session.ListTags.
func (c *Client) ListTags(ctx context.Context, repo string) ([]string, error) {
	r, mirror, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	host := r.RegistryStr()
	s := &Session{c: c, host: host, base: c.scheme(ctx, host) + "://" + host + "/v2/"}
	tags, err := s.ListTags(ctx, r.RepositoryStr())
	if err != nil {
		return nil, through(mirror, err)
	}
	return tags, nil
}

// AddReferrers adds descriptors to the index the referrers tag scheme keeps for subject in
// repo (tag manifest.FallbackTag(subject)), for a registry without the referrers API: the
// index there is read, the descriptors it lacks are added after its own entries (none of which
// is dropped or changed), and it is put back under the tag. Nothing is put when it lists them
// all. It reports whether it put a new index.
//
// Two writers of one subject's index at once may lose one's entries (the registry has no
// conditional put): callers update one subject's index from one goroutine.
func (s *Session) AddReferrers(ctx context.Context, repo, subject string, add []manifest.Descriptor) (bool, error) {
	tag := manifest.FallbackTag(subject)
	raw, mt, err := s.GetManifest(ctx, repo, tag)
	switch {
	case errors.Is(err, ErrNotFound):
		raw = nil
	case err != nil:
		return false, err
	case mt != manifest.OCIIndex:
		return false, fmt.Errorf("referrers tag %s/%s:%s holds a %s, not an OCI index: it cannot list referrers", s.host, repo, tag, mt)
	}
	merged, changed, err := manifest.MergeReferrers(raw, add)
	if err != nil {
		return false, fmt.Errorf("referrers tag %s/%s:%s: %w", s.host, repo, tag, err)
	}
	if !changed {
		return false, nil
	}
	return true, s.PutManifest(ctx, repo, tag, merged, manifest.OCIIndex)
}
