package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// tool finds an external tool on PATH or in GOPATH/bin. CI installs them: a missing tool fails
// the test rather than skipping it.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s is not installed (bash .ci/run installs it)", name)
	return ""
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// extract unpacks the bundle with the standard tools, as a user without ours would.
func extract(t *testing.T, bundle string) string {
	t.Helper()
	out := t.TempDir()
	run(t, "", nil, "sh", "-c", `zstd -qdc "$1" | tar -x -C "$2"`, "sh", bundle, out)
	return out
}

type layoutIndex struct {
	Manifests []struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"manifests"`
}

func readIndex(t *testing.T, dir string) layoutIndex {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx layoutIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestChecksumAndExtract(t *testing.T) {
	t.Parallel()
	w := setup(t)
	run(t, filepath.Dir(w.bundle), nil, "sha256sum", "-c", filepath.Base(w.bundle)+".sha256")
	dir := extract(t, w.bundle)
	idx := readIndex(t, dir)
	if len(idx.Manifests) == 0 {
		t.Fatal("index.json lists no images")
	}
	for _, m := range idx.Manifests {
		ref := m.Annotations["org.opencontainers.image.ref.name"]
		if !strings.HasPrefix(ref, w.upstream.Host+"/") {
			t.Errorf("%s: ref.name %q is not the full source reference", m.Digest, ref)
		}
		if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(m.Digest, "sha256:"))); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	// Shared blobs are stored once: the layout holds each digest once, and fewer blobs than
	// the images reference in all.
	entries := run(t, "", nil, "sh", "-c", `zstd -qdc "$1" | tar -t`, "sh", w.bundle)
	names := strings.Fields(entries)
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Fatalf("entry %s stored twice", n)
		}
		seen[n] = true
	}
	if names[0] != "bundle.json" || names[1] != "oci-layout" || names[2] != "index.json" {
		t.Fatalf("entries start %v, want bundle.json, oci-layout, index.json", names[:3])
	}
	refs := countReferences(t, dir, idx)
	if blobs := len(names) - 3; blobs >= refs {
		t.Fatalf("%d blobs stored for %d references: shared blobs are not stored once", blobs, refs)
	}
}

// countReferences counts every (image, blob) reference from the top-level images down.
func countReferences(t *testing.T, dir string, idx layoutIndex) int {
	n := 0
	var walk func(digest string)
	walk = func(digest string) {
		n++
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Config    *struct{ Digest string }  `json:"config"`
			Layers    []struct{ Digest string } `json:"layers"`
			Manifests []struct{ Digest string } `json:"manifests"`
		}
		json.Unmarshal(data, &doc)
		if doc.Config != nil {
			n++
		}
		n += len(doc.Layers)
		for _, m := range doc.Manifests {
			walk(m.Digest)
		}
	}
	for _, m := range idx.Manifests {
		walk(m.Digest)
	}
	return n
}

// TestRegctlCopiesEveryImage: regctl copies every image out of the extracted layout, by
// digest, into a registry, and the registry serves the same digest.
func TestRegctlCopiesEveryImage(t *testing.T) {
	t.Parallel()
	w := setup(t)
	regctl := tool(t, "regctl")
	dir := extract(t, w.bundle)
	dest := testregistry.StartT(t)
	home := []string{"HOME=" + t.TempDir()}
	run(t, "", home, regctl, "registry", "set", "--tls", "disabled", dest.Host)
	for _, m := range readIndex(t, dir).Manifests {
		ref := m.Annotations["org.opencontainers.image.ref.name"]
		path := strings.TrimPrefix(ref[:strings.LastIndex(ref, ":")], w.upstream.Host+"/")
		target := dest.Host + "/" + path + "@" + m.Digest
		run(t, "", home, regctl, "image", "copy", "ocidir://"+dir+"@"+m.Digest, dest.Host+"/"+path+":copied")
		if got := headDigest(t, dest, dest.Host+"/"+path+":copied"); got != m.Digest {
			t.Errorf("%s: regctl copy gave %s, want %s (%s)", ref, got, m.Digest, target)
		}
	}
}

// TestSkopeoReadsOCIImages: skopeo reads every OCI-typed image of the extracted layout by its
// ref.name (skopeo 1.9 does not read Docker media types from a layout).
func TestSkopeoReadsOCIImages(t *testing.T) {
	t.Parallel()
	w := setup(t)
	skopeo := tool(t, "skopeo")
	dir := extract(t, w.bundle)
	n := 0
	for _, m := range readIndex(t, dir).Manifests {
		if !strings.HasPrefix(m.MediaType, "application/vnd.oci.") {
			continue
		}
		n++
		ref := m.Annotations["org.opencontainers.image.ref.name"]
		out := run(t, "", nil, skopeo, "inspect", "--raw", "oci:"+dir+":"+ref)
		if !strings.Contains(out, "schemaVersion") {
			t.Errorf("%s: skopeo printed %q", ref, out)
		}
		run(t, "", nil, skopeo, "inspect", "oci:"+dir+":"+ref)
	}
	if n == 0 {
		t.Fatal("no OCI-typed image in the fixture")
	}
}
