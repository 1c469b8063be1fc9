package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Referrers returns the descriptors of what refers to digest in repo ("host/path") by its OCI
// 1.1 subject field, through the host's mirror if it has one (WithMirror): see
// Session.Referrers.
func (c *Client) Referrers(ctx context.Context, repo, digest string) ([]manifest.Descriptor, error) {
	if err := verify.Check(digest); err != nil {
		return nil, fmt.Errorf("referrers of %s@%s: %w", repo, digest, err)
	}
	r, mirror, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	ds, err := c.reader(ctx, r.RegistryStr()).Referrers(ctx, r.RepositoryStr(), digest)
	return ds, through(mirror, err)
}

// Referrers returns the descriptors of what refers to digest in repo by its OCI 1.1 subject
// field: the registry's referrers API answer or, where the registry has no referrers API (it
// answers 404, 400, 405 or 406, or with something else than an OCI index), the index kept under the
// referrers tag scheme's tag (manifest.FallbackTag; none when there is no such tag). The list
// is as the registry gives it, each digest well-formed: fetch each manifest by digest to trust
// it.
func (s *Session) Referrers(ctx context.Context, repo, digest string) ([]manifest.Descriptor, error) {
	what := fmt.Sprintf("referrers of %s/%s@%s", s.host, repo, digest)
	if err := verify.Check(digest); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	raw, api, err := s.referrersAPI(ctx, repo, digest, what)
	if err != nil {
		return nil, err
	}
	if !api {
		raw, _, err = s.GetManifest(ctx, repo, manifest.FallbackTag(digest))
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s (the referrers tag scheme): %w", what, err)
		}
	}
	var idx struct {
		Manifests []manifest.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w: not an index: %v", what, manifest.ErrBad, err)
	}
	for _, d := range idx.Manifests {
		if err := verify.Check(d.Digest); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", what, manifest.ErrBad, err)
		}
	}
	return idx.Manifests, nil
}

// referrersAPI asks the referrers API: the index it answers, and whether it answered one.
func (s *Session) referrersAPI(ctx context.Context, repo, digest, what string) ([]byte, bool, error) {
	resp, err := s.do(ctx, http.MethodGet, s.base+repo+"/referrers/"+digest, nil, -1, "")
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if contentType(resp) != manifest.OCIIndex { // a page of something else: no API
			return nil, false, nil
		}
		raw, err := readManifest(resp.Body)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", what, err)
		}
		return raw, true, nil
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusNotAcceptable:
		return nil, false, nil
	}
	return nil, false, statusError(resp, what)
}

// HasReferrersAPI reports whether the registry serves the OCI 1.1 referrers API, as Referrers
// tells it (Distribution v3 and older Harbor do not: the referrers tag scheme is their
// fallback).
func (s *Session) HasReferrersAPI(ctx context.Context, repo, digest string) (bool, error) {
	_, api, err := s.referrersAPI(ctx, repo, digest, fmt.Sprintf("referrers of %s/%s@%s", s.host, repo, digest))
	return api, err
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
