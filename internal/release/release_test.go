package release

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestBuildReproducible builds this platform's binaries twice into two directories (the
// five platforms of make release take minutes: make release is run on all of them by hand,
// docs/release.md), and checks that every file is byte-identical, that sha256sum -c accepts
// SHA256SUMS, that ssh-keygen -Y verify accepts its signature in the release namespace (and
// refuses it in another, and once a binary changed), that the binaries run `version` with the
// stamped version, commit and date, and that each SBOM is SPDX 2.3 naming the binary's sha256
// and the modules linked in.
func TestBuildReproducible(t *testing.T) {
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	date := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	var dirs []string
	for i := range 2 {
		dir := filepath.Join(t.TempDir(), "dist")
		o := Options{Dir: dir, Source: src, Platforms: []string{HostPlatform()}, Version: "v9.8.7-test", Commit: "0123456789abcdef0123456789abcdef01234567", Date: date}
		arts, err := Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(arts) != 2 || arts[0].File != FileName("bundle", HostPlatform()) {
			t.Fatalf("run %d built %+v", i, arts)
		}
		if _, err := WriteSums(dir); err != nil {
			t.Fatal(err)
		}
		if err := Sign(dir, signer); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	files, _ := os.ReadDir(dirs[0])
	if len(files) != 6 { // 2 binaries, 2 SBOMs, the sums and the signature
		t.Fatalf("%d files in dist, want 6", len(files))
	}
	for _, f := range files {
		a, _ := os.ReadFile(filepath.Join(dirs[0], f.Name()))
		b, err := os.ReadFile(filepath.Join(dirs[1], f.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds (%v)", f.Name(), err)
		}
	}
	dir := dirs[0]
	if out, err := command(dir, nil, "sha256sum", "-c", SumsName); err != nil || strings.Count(out, ": OK") != 4 {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	os.WriteFile(allowed, []byte("release@example.org "+string(ssh.MarshalAuthorizedKey(sshPub))), 0o644)
	sums, _ := os.ReadFile(filepath.Join(dir, SumsName))
	verify := func(ns string, data []byte) error {
		_, err := command(dir, data, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "release@example.org", "-n", ns, "-s", SigName)
		return err
	}
	if err := verify(Namespace, sums); err != nil {
		t.Errorf("ssh-keygen -Y verify: %v", err)
	}
	if verify("ess-airgap-bundle", sums) == nil {
		t.Error("the signature verified in the bundles' namespace")
	}
	if verify(Namespace, bytes.Replace(sums, []byte("  bundle"), []byte("  bundlf"), 1)) == nil {
		t.Error("the signature verified over other sums")
	}
	for _, prog := range Programs {
		out, err := command(dir, nil, filepath.Join(dir, FileName(prog, HostPlatform())), "version", "--json")
		var v map[string]any
		if err != nil || json.Unmarshal([]byte(out), &v) != nil || v["version"] != "v9.8.7-test" ||
			v["commit"] != "0123456789abcdef0123456789abcdef01234567" || v["build_date"] != "2026-05-04T03:02:01Z" || v["program"] != prog {
			t.Errorf("%s version --json: %v\n%s", prog, err, out)
		}
		checkSPDX(t, filepath.Join(dir, FileName(prog, HostPlatform())))
	}
	if _, err := Build(context.Background(), Options{Dir: t.TempDir(), Source: src, Version: "v1", Date: date, Platforms: []string{"linux"}}); err == nil {
		t.Error("a build for a platform with no architecture passed")
	}
}

// checkSPDX checks the SBOM beside the binary at path.
func checkSPDX(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path + ".spdx.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	sum, _ := fileSum(path)
	purls := map[string]bool{}
	for _, p := range doc.Packages {
		for _, r := range p.ExternalRefs {
			purls[strings.Split(r.Locator, "@")[0]] = true
		}
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.Packages[0].Checksums[0].Value != sum || doc.CreationInfo.Created != "2026-05-04T03:02:01Z" ||
		!purls["pkg:golang/github.com/urfave/cli/v2"] || !purls["pkg:golang/github.com/klauspost/compress"] || !purls["pkg:golang/stdlib"] ||
		len(doc.Relationships) != len(doc.Packages) {
		t.Errorf("%s.spdx.json: %+v", filepath.Base(path), doc)
	}
}

func command(dir string, stdin []byte, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
