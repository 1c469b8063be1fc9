package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/google/go-containerregistry/pkg/name"
)

// Manifest is a manifest or index as the registry served it: the exact bytes, their media type
// and their digest (the sha256 of those bytes).
type Manifest struct {
	Raw       []byte
	MediaType string
	Digest    string
}

// GetManifest fetches the manifest or index that ref ("host/path:tag" or "host/path@digest")
// names, as its raw bytes, through the host's mirror if it has one (WithMirror). A reference by
// digest is read from WithLocal's content when it has it, and is verified against the bytes
// either way; a reference by tag is recorded as the digest of the bytes served, whatever
// Docker-Content-Digest says (registries get that header wrong for some content: the bytes are
// what is kept and pushed).
func (c *Client) GetManifest(ctx context.Context, ref string) (*Manifest, error) {
	r, mirror, err := c.pullReference(ref)
	if err != nil {
		return nil, err
	}
	if dr, ok := r.(name.Digest); ok {
		if m := c.localManifest(dr.DigestStr()); m != nil {
			return m, nil
		}
	}
	repo := r.Context()
	raw, mt, err := c.reader(ctx, repo.RegistryStr()).GetManifest(ctx, repo.RepositoryStr(), r.Identifier())
	if err != nil {
		return nil, through(mirror, err)
	}
	return &Manifest{Raw: raw, MediaType: mt, Digest: verify.Digest(raw)}, nil
}

// localManifest is the manifest with this digest from WithLocal's content, or nil when it does
// not have it, or has something else under that name.
func (c *Client) localManifest(digest string) *Manifest {
	if c.o.local == nil {
		return nil
	}
	rc, mt, ok := c.o.local.ByDigest(digest)
	if !ok {
		return nil
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, manifest.MaxBytes+1))
	if err != nil || len(raw) > manifest.MaxBytes || mt == "" || verify.Digest(raw) != digest {
		return nil
	}
	return &Manifest{Raw: raw, MediaType: mt, Digest: digest}
}

// GetManifest fetches the manifest or index that repo serves for ref (a tag or a digest),
// asking for the media types in manifest.MediaTypes, and returns its exact bytes and the media
// type the registry gave (Content-Type, without parameters). When ref is a digest the bytes
// are verified against it (an error wrapping verify.ErrMismatch otherwise). A manifest the
// registry does not have is an error wrapping ErrNotFound. Manifests over manifest.MaxBytes are
// refused (manifest.ErrTooLarge).
func (s *Session) GetManifest(ctx context.Context, repo, ref string) (raw []byte, mediaType string, err error) {
	what := fmt.Sprintf("get manifest %s/%s", s.host, repo)
	byDigest := strings.Contains(ref, ":")
	if !byDigest {
		return s.fetchManifest(ctx, repo, ref, what+":"+ref)
	}
	what += "@" + ref
	if err := verify.Check(ref); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	if raw, mediaType, err = s.fetchManifest(ctx, repo, ref, what); err != nil {
		return nil, "", err
	}
	if err := verify.Bytes(raw, ref, -1); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	return raw, mediaType, nil
}

// ResolveTag fetches what repo:tag serves and returns the sha256 of the bytes served: a read
// back after a push, which compares it with what was pushed (tag may be the digest: then too
// the bytes are not checked here).
func (s *Session) ResolveTag(ctx context.Context, repo, tag string) (string, error) {
	raw, _, err := s.fetchManifest(ctx, repo, tag, fmt.Sprintf("read back %s/%s:%s", s.host, repo, tag))
	if err != nil {
		return "", err
	}
	return verify.Digest(raw), nil
}

// fetchManifest GETs repo's manifest ref, its bytes and media type, as they come.
func (s *Session) fetchManifest(ctx context.Context, repo, ref, what string) ([]byte, string, error) {
	resp, err := s.do(ctx, http.MethodGet, s.base+repo+"/manifests/"+ref, nil, -1, "")
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", statusError(resp, what)
	}
	raw, err := readManifest(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	return raw, contentType(resp), nil
}

// contentType is a response's media type, without parameters.
func contentType(resp *http.Response) string {
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt)
}

// readManifest reads a manifest's body, refusing one over manifest.MaxBytes (bodyLimits has
// refused it already; this says so for a transport given by WithTransport).
func readManifest(body io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(body, manifest.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > manifest.MaxBytes {
		return nil, manifest.Over("the manifest")
	}
	return raw, nil
}

// PutManifest pushes raw manifest bytes to repo under reference (a tag or the digest).
func (s *Session) PutManifest(ctx context.Context, repo, reference string, raw []byte, mediaType string) error {
	what := fmt.Sprintf("put manifest %s/%s:%s (%s)", s.host, repo, reference, mediaType)
	resp, err := s.do(ctx, http.MethodPut, s.base+repo+"/manifests/"+reference, bytes.NewReader(raw), int64(len(raw)), mediaType)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return statusError(resp, what)
	}
	return nil
}

// ManifestExists reports whether repo has a manifest with that digest (see BlobExists).
func (s *Session) ManifestExists(ctx context.Context, repo, digest string) (bool, error) {
	return s.exists(ctx, repo, "manifests", digest)
}

// BlobExists reports whether repo already has the blob: see exists for what 401 and 403 mean.
func (s *Session) BlobExists(ctx context.Context, repo, digest string) (bool, error) {
	return s.exists(ctx, repo, "blobs", digest)
}

// exists asks (HEAD) for repo's blob or manifest: 200 is yes, 404 is no. 401 and 403 are
// "unknown", reported as no: Harbor 2.13, GitLab and Artifactory answer so for a repository
// that does not exist yet (REGISTRIES.md), and the upload or push that follows is the real
// permission check. Anything else is an error.
func (s *Session) exists(ctx context.Context, repo, kind, digest string) (bool, error) {
	resp, err := s.do(ctx, http.MethodHead, s.base+repo+"/"+kind+"/"+digest, nil, -1, "")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		return false, nil
	}
	return false, statusError(resp, fmt.Sprintf("check %s %s in %s", strings.TrimSuffix(kind, "s"), digest, repo))
}
