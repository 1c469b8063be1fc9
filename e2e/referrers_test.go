package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// signedUpstream is a registry holding a small fixture with referrers attached to some images.
type signedUpstream struct {
	reg    *testregistry.Registry
	list   string
	images []digests.Image
	refs   *fixture.Referrers
}

// newSignedUpstream starts go-containerregistry's registry with the referrers API (api), or
// Distribution, which has none, and pushes 10 containers of the ESS tree and their referrers.
func newSignedUpstream(t *testing.T, api bool) *signedUpstream {
	t.Helper()
	var reg *testregistry.Registry
	if api {
		var err error
		if reg, err = testregistry.StartGGCR(testregistry.WithReferrersAPI()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
	} else {
		reg = testregistry.StartT(t)
	}
	tree, err := fixture.DefaultTree()
	if err != nil {
		t.Fatal(err)
	}
	opts := fixture.Options{Registry: reg.Host, Size: 512 << 10, Seed: 14, Tree: tree[:10], Transport: reg.Transport(), Username: reg.Username, Password: reg.Password}
	u := &signedUpstream{reg: reg}
	if u.images, err = fixture.Generate(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if u.refs, err = fixture.AddReferrers(t.Context(), opts, u.images); err != nil {
		t.Fatal(err)
	}
	yml, _ := digests.Marshal(u.images)
	u.list = filepath.Join(t.TempDir(), "images.yml")
	if err := os.WriteFile(u.list, yml, 0o644); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestReferrersCarried: bundle create --referrers carries every referrer of every image, found
// through the referrers API or the tag scheme's index, and cosign's tags, recursively, byte for
// byte; --referrers TYPE only those of that type; bundle list shows them under their image.
func TestReferrersCarried(t *testing.T) {
	t.Parallel()
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "tag-scheme"}[api], func(t *testing.T) {
			up := newSignedUpstream(t, api)
			bundle := filepath.Join(t.TempDir(), "signed.tar.zst")
			out := must(t, runCmd("bundle", nil, "create", "--images", up.list, "--output", bundle, "--referrers")).stdout
			b, err := trust.Open(bundle)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			m := b.Manifest()
			if len(m.Referrers) != len(up.refs.Attached) || !strings.Contains(out, "carried "+itoa(len(up.refs.Attached))+" referrers") {
				t.Fatalf("carried %d referrers, the fixture attached %d:\n%s", len(m.Referrers), len(up.refs.Attached), out)
			}
			list := must(t, runCmd("bundle", nil, "list", bundle)).stdout
			for _, a := range up.refs.Attached {
				i := slices.IndexFunc(m.Referrers, func(r archive.Referrer) bool { return r.Digest == a.Digest && r.Tag == a.Tag })
				if i < 0 || m.Referrers[i].Subject != a.Subject {
					t.Fatalf("%s %s (%s of %s) not carried as such: %+v", a.What, a.Digest, a.Tag, a.Subject, m.Referrers)
				}
				raw, err := b.ReadFile(archive.BlobName(a.Digest))
				if err != nil {
					t.Fatal(err)
				}
				served, _, err := sessionOf(t, up.reg).GetManifest(t.Context(), a.Repo, a.Digest)
				if err != nil || string(served) != string(raw) {
					t.Fatalf("%s %s: the bundle's bytes differ from upstream's (%v)", a.What, a.Digest, err)
				}
				if !strings.Contains(list, a.Digest) {
					t.Errorf("bundle list does not show %s %s:\n%s", a.What, a.Digest, list)
				}
			}
			if !strings.Contains(list, "└ "+fixture.SimpleSigningType) || !strings.Contains(list, "└ "+fixture.SPDXType) {
				t.Errorf("bundle list shows no signature or SBOM under the images:\n%s", list)
			}

			sigs := filepath.Join(t.TempDir(), "sigs.tar.zst")
			must(t, runCmd("bundle", nil, "create", "--images", up.list, "--output", sigs, "--referrers", fixture.SimpleSigningType))
			got := mustOpenManifest(t, sigs).Referrers
			var want []string
			for _, a := range up.refs.Attached {
				if a.What == "signature" { // the attestation's signature goes with the attestation
					want = append(want, a.Digest)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("--referrers %s carried %d, want the %d image signatures: %+v", fixture.SimpleSigningType, len(got), len(want), got)
			}
			for _, r := range got {
				if !slices.Contains(want, r.Digest) || r.ArtifactType != fixture.SimpleSigningType {
					t.Errorf("--referrers %s carried %+v", fixture.SimpleSigningType, r)
				}
			}
		})
	}
}

// TestReferrersPushed: unbundle push puts the referrers after their images, through the
// referrers API where the registry has it, else into the tag scheme's index, merged with
// what the index lists already; cosign's tags as tags. A signature carried verifies against
// the local registry. A second push finds them all there.
func TestReferrersPushed(t *testing.T) {
	t.Parallel()
	up := newSignedUpstream(t, true)
	bundle := filepath.Join(t.TempDir(), "signed.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", up.list, "--output", bundle, "--referrers"))
	n := len(up.refs.Attached)
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "tag-scheme"}[api], func(t *testing.T) {
			var dest *testregistry.Registry
			if api {
				var err error
				if dest, err = testregistry.StartGGCR(testregistry.WithReferrersAPI()); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { dest.Close() })
			}
			if !api {
				dest = testregistry.StartT(t)
			}
			var foreign string // a referrer the destination's index lists before the push
			var sbom fixture.Attached
			for _, a := range up.refs.Attached {
				if a.What == "sbom" {
					sbom = a
				}
			}
			if !api {
				foreign = attachForeign(t, dest, sbom.Repo, sbom.Subject)
			}
			cm := filepath.Join(t.TempDir(), "cm.yaml")
			rp := filepath.Join(t.TempDir(), "report.json")
			r := must(t, runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", cm, "--report", rp, bundle))
			if !strings.Contains(r.stderr, "referrers (signatures, attestations, SBOMs): "+itoa(n)+" pushed, 0 already there, 0 failed") {
				t.Fatalf("push did not count %d referrers pushed:\n%s", n, r.stderr)
			}
			var rep report.Push
			data, _ := os.ReadFile(rp)
			if err := report.Decode(data, &rep); err != nil || rep.Stats.ReferrersPushed != int64(n) || !rep.OK {
				t.Errorf("report counts %d referrers pushed, want %d (%v): %s", rep.Stats.ReferrersPushed, n, err, data)
			}
			ds := sessionOf(t, dest)
			for _, a := range up.refs.Attached {
				if a.Tag != "" {
					if got := headDigest(t, dest, dest.Host+"/"+a.Repo+":"+a.Tag); got != a.Digest {
						t.Errorf("%s: tag %s serves %s, want %s", a.What, a.Tag, got, a.Digest)
					}
					continue
				}
				descs, err := ds.Referrers(t.Context(), a.Repo, a.Subject)
				if err != nil {
					t.Fatal(err)
				}
				var listed []string
				for _, d := range descs {
					listed = append(listed, d.Digest)
					// (go-containerregistry's registry lists the config's media type instead)
					if !api && d.Digest == a.Digest && d.ArtifactType != fixture.SPDXType {
						t.Errorf("referrer %s listed with artifactType %q", a.Digest, d.ArtifactType)
					}
				}
				if !slices.Contains(listed, a.Digest) || (foreign != "" && a.Subject == sbom.Subject && !slices.Contains(listed, foreign)) {
					t.Errorf("referrers of %s list %v: want %s (and %q, there before the push)", a.Subject, listed, a.Digest, foreign)
				}
			}
			verifySignatures(t, dest, up)
			r = must(t, runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", cm, bundle))
			if !strings.Contains(r.stderr, "0 pushed, "+itoa(n)+" already there, 0 failed") {
				t.Errorf("the second push did not find the referrers there:\n%s", r.stderr)
			}
		})
	}
}

// TestReferrersRefused: a registry that refuses referrers fails them, not the images: every
// image is pushed and the ConfigMap written, the refused referrers are listed, the exit is 4.
func TestReferrersRefused(t *testing.T) {
	t.Parallel()
	up := newSignedUpstream(t, false)
	bundle := filepath.Join(t.TempDir(), "signed.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", up.list, "--output", bundle, "--referrers"))
	faults := testregistry.NewFaults(1)
	faults.RejectReferrers(true)
	dest := testregistry.StartT(t, testregistry.WithFaults(faults))
	cm := filepath.Join(t.TempDir(), "cm.yaml")
	r := runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", cm, bundle)
	if r.code != 4 || !strings.Contains(r.stderr, "FAILED referrer") || strings.Contains(r.stderr, "FAILED "+up.images[0].Key()) {
		t.Fatalf("exit %d, want 4 with the referrers failed and no image:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatalf("no ConfigMap written: %v\n%s", err, r.stderr)
	}
	got, _ := digests.ParseConfigMap(data)
	if len(got) != len(up.images) {
		t.Fatalf("ConfigMap has %d containers, want %d", len(got), len(up.images))
	}
	if want := "0 pushed, 0 already there, " + itoa(len(up.refs.Attached)) + " failed"; !strings.Contains(r.stderr, want) {
		t.Errorf("want %q in:\n%s", want, r.stderr)
	}
	faults.RejectReferrers(false)
	r = must(t, runCmd("unbundle", nil, "push", "--registry", dest.Host, "--configmap", cm, bundle))
	if !strings.Contains(r.stderr, itoa(len(up.refs.Attached))+" pushed") {
		t.Errorf("the rerun did not push the referrers:\n%s", r.stderr)
	}
}

// attachForeign pushes to reg an SBOM of subject that the bundle does not carry (and so the
// referrers tag scheme's index for subject) and returns its digest.
func attachForeign(t *testing.T, reg *testregistry.Registry, repoPath, subject string) string {
	t.Helper()
	s := sessionOf(t, reg)
	layer := []byte(`{"spdxVersion":"SPDX-2.3","name":"foreign"}`)
	empty := []byte("{}")
	for _, b := range [][]byte{layer, empty} {
		blob := oci.Blob{Digest: verify.Digest(b), Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}}
		if err := s.Upload(t.Context(), repoPath, blob, ""); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(b []byte, mt string) manifest.Descriptor {
		return manifest.Descriptor{MediaType: mt, Digest: verify.Digest(b), Size: int64(len(b))}
	}
	raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": manifest.OCIManifest, "artifactType": fixture.SPDXType,
		"config": desc(empty, manifest.OCIEmpty), "layers": []manifest.Descriptor{desc(layer, fixture.SPDXType)},
		"subject": manifest.Descriptor{MediaType: manifest.OCIManifest, Digest: subject, Size: 1}})
	d := verify.Digest(raw)
	if err := s.PutManifest(t.Context(), repoPath, d, raw, manifest.OCIManifest); err != nil {
		t.Fatal(err)
	}
	api, err := s.HasReferrersAPI(t.Context(), repoPath, subject)
	if err != nil {
		t.Fatal(err)
	}
	if !api {
		if _, err := s.AddReferrers(t.Context(), repoPath, subject, []manifest.Descriptor{manifest.ReferrerDescriptor(raw, manifest.OCIManifest)}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// verifySignatures checks every image signature the fixture made, as reg serves it (see
// verifySignaturesAt).
func verifySignatures(t *testing.T, reg *testregistry.Registry, up *signedUpstream) {
	t.Helper()
	verifySignaturesAt(t, sessionOf(t, reg), up)
}

// verifySignaturesAt checks every image signature the fixture made, as the registry of s
// serves it, as cosign verify --key does without a transparency log: the signature manifest
// found under cosign's tag (sha256-<hex>.sig) has a simple signing payload that names the
// image's digest, and its signature annotation is an ECDSA signature of the payload by the
// fixture's public key. (In Go, so that make test need not build cosign, which takes minutes.)
func verifySignaturesAt(t *testing.T, s *oci.Session, up *signedUpstream) {
	t.Helper()
	blk, _ := pem.Decode(up.refs.PublicKey)
	key, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, a := range up.refs.Attached {
		if a.What != "signature" && a.What != "attestation signature" {
			continue
		}
		raw, _, err := s.GetManifest(t.Context(), a.Repo, a.Tag)
		if err != nil {
			t.Fatal(err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %v", a.What, a.Tag, err)
		}
		if len(m.Layers) == 0 {
			t.Fatalf("%s %s: no layer", a.What, a.Tag)
		}
		rc, err := s.OpenBlobAt(t.Context(), a.Repo, m.Layers[0].Digest.String(), m.Layers[0].Size, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		payload := new(strings.Builder)
		_, err = io.Copy(payload, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var claim struct {
			Critical struct {
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
			} `json:"critical"`
		}
		json.Unmarshal([]byte(payload.String()), &claim)
		sig, _ := base64.StdEncoding.DecodeString(m.Layers[0].Annotations["dev.cosignproject.cosign/signature"])
		h := sha256.Sum256([]byte(payload.String()))
		if claim.Critical.Image.Digest != a.Subject || !ecdsa.VerifyASN1(key.(*ecdsa.PublicKey), h[:], sig) {
			t.Errorf("%s %s: payload names %s (want %s), or the signature does not verify", a.What, a.Tag, claim.Critical.Image.Digest, a.Subject)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no signature to check")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
