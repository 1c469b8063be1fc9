package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// The registries sites run, reproduced in front of Distribution as ../shared/design/REGISTRIES.md
// documents them (each quirk names its source in internal/testregistry/quirks.go and token.go).

var (
	manyOnce   sync.Once
	manyBundle string
	manyErr    error
)

// manyRepos is a bundle of 100 repositories (small images sharing base layers), made once.
func manyRepos(t *testing.T) string {
	t.Helper()
	manyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-many-")
		if err != nil {
			manyErr = err
			return
		}
		addCleanup(func() { os.RemoveAll(dir) })
		up, err := testregistry.Start(context.Background(), filepath.Join(dir, "up"))
		if err != nil {
			manyErr = err
			return
		}
		defer up.Close()
		var tree []digests.Image
		for i := range 100 {
			tree = append(tree, digests.Image{Entry: imageref.Entry{Component: "many", Container: fmt.Sprintf("app%03d", i), Server: "example.org", Path: fmt.Sprintf("many/app%03d", i), Tag: "1.0"}})
		}
		treeYAML, _ := digests.Marshal(tree)
		treeFile := filepath.Join(dir, "tree.yml")
		if manyErr = os.WriteFile(treeFile, treeYAML, 0o644); manyErr != nil {
			return
		}
		ims, err := generate(up.Host, 6<<20, 100, treeFile)
		if err != nil {
			manyErr = err
			return
		}
		yml, _ := digests.Marshal(ims)
		list := filepath.Join(dir, "many.yml")
		os.WriteFile(list, yml, 0o644)
		manyBundle = filepath.Join(dir, "many.tar.zst")
		if r := runCmd("bundle", nil, "create", "--images", list, "--output", manyBundle); r.code != 0 {
			manyErr = &cmdError{r}
		}
	})
	if manyErr != nil {
		t.Fatalf("100-repository bundle: %v", manyErr)
	}
	return manyBundle
}

// pushTo runs unbundle push as a built binary into reg (its credentials on stdin, if any) and
// returns the exit code and what it printed.
func pushTo(t *testing.T, reg *testregistry.Registry, registry, bundle string, extra ...string) (int, string) {
	t.Helper()
	args := []string{"push", "--registry", registry, "--configmap", filepath.Join(t.TempDir(), "cm.yaml")}
	if reg.Username != "" {
		args = append(args, "--username", reg.Username, "--password-stdin")
	}
	cmd := exec.Command(binary(t, "unbundle"), append(append(args, extra...), bundle)...)
	cmd.Stdin = strings.NewReader(reg.Password + "\n")
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// servedDigests reads back, with our own client, the digest reg serves for every image of the
// bundle's ConfigMap, under the given registry prefix, and compares with the upstream's.
func checkServed(t *testing.T, reg *testregistry.Registry, prefix, bundle string) {
	t.Helper()
	var opts []oci.Option
	if reg.Username != "" {
		opts = append(opts, oci.WithCredentials(reg.Host, reg.Username, reg.Password))
	}
	c, err := oci.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.ReadSession(t.Context(), reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range mustOpenManifest(t, bundle).Images {
		repo := strings.TrimPrefix(prefix+"/"+im.Path, "/")
		got, err := s.ResolveTag(t.Context(), repo, im.Tag)
		if err != nil || got != im.Digest {
			t.Errorf("%s:%s serves %s (%v), the bundle has %s", repo, im.Tag, got, err, im.Digest)
		}
	}
}

// TestRegistriesSitesRun pushes the ESS-like bundle into each kind of registry a pusher can
// complete, and a bundle of 100 repositories into those with token auth, and checks every
// tag's digest.
func TestRegistriesSitesRun(t *testing.T) {
	t.Parallel()
	w := setup(t)
	many := manyRepos(t)
	for _, tc := range []struct {
		name   string
		opts   func() []testregistry.Option
		prefix string
		many   bool // the 100-repository bundle too: where scale matters (a token per repository)
	}{
		{"token auth behind nginx's 8 KiB limits, at most 10 scopes a token", func() []testregistry.Option {
			return []testregistry.Option{
				testregistry.WithTokenAuth("ess", "s3cret", testregistry.TokenOptions{MaxScopes: 10, MaxURL: 8 << 10}),
				testregistry.WithQuirks(&testregistry.Quirks{HeaderLimit: 8 << 10})}
		}, "", true},
		{"Harbor: project ess, 401 on HEAD of new repositories", func() []testregistry.Option {
			return []testregistry.Option{
				testregistry.WithTokenAuth("ess", "s3cret", testregistry.TokenOptions{Projects: []string{"ess"}, MaxURL: 8 << 10}),
				testregistry.WithQuirks(&testregistry.Quirks{HeadUnknownRepo: 401, HeaderLimit: 8 << 10, Projects: []string{"ess"}})}
		}, "ess", true},
		{"GitLab: 403 on HEAD of new repositories", func() []testregistry.Option {
			return []testregistry.Option{testregistry.WithAuth("ess", "s3cret"),
				testregistry.WithQuirks(&testregistry.Quirks{HeadUnknownRepo: 403})}
		}, "group/project", false},
		{"nginx client_max_body_size 1m", func() []testregistry.Option {
			return []testregistry.Option{testregistry.WithQuirks(&testregistry.Quirks{BodyLimit: 1 << 20})}
		}, "", false},
		{"ECR without blob mounting", func() []testregistry.Option {
			return []testregistry.Option{testregistry.WithQuirks(&testregistry.Quirks{NoMount: true})}
		}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bundles := []string{w.bundle}
			if tc.many {
				bundles = append(bundles, many)
			}
			for _, bundle := range bundles {
				reg := testregistry.StartT(t, tc.opts()...)
				dest := strings.TrimSuffix(reg.Host+"/"+tc.prefix, "/")
				code, out := pushTo(t, reg, dest, bundle)
				if code != 0 {
					t.Fatalf("push of %s: exit %d\n%s", filepath.Base(bundle), code, out)
				}
				checkServed(t, reg, tc.prefix, bundle)
				if requests, maxScopes := reg.TokenRequests(); requests > 0 {
					t.Logf("%s: %d token requests, at most %d scopes each", filepath.Base(bundle), requests, maxScopes)
				}
			}
		})
	}
}

// TestRegistryRefusals: what a rerun cannot mend is found before the first blob, said once
// per cause with its fix, and ends with exit 5: a Harbor project that does not exist, an ECR
// repository that does not exist, a registry that refuses Docker media types (Zot).
func TestRegistryRefusals(t *testing.T) {
	t.Parallel()
	w := setup(t)
	var repos []string // all but the first image's
	for _, im := range w.images {
		if im.Path != w.images[0].Path {
			repos = append(repos, im.Path)
		}
	}
	for _, tc := range []struct {
		name     string
		opts     []testregistry.Option
		registry string // after the host
		want     []string
		maxBytes int64 // blob bytes the registry may receive
	}{
		{"Harbor project missing", []testregistry.Option{
			testregistry.WithTokenAuth("ess", "s3cret", testregistry.TokenOptions{Projects: []string{"ess"}}),
			testregistry.WithQuirks(&testregistry.Quirks{HeadUnknownRepo: 401, Projects: []string{"ess"}})},
			"/ess-missing", []string{"Harbor project ess-missing does not exist", "create project ess-missing, or push under an existing project with --registry"}, 0},
		{"ECR repository missing", []testregistry.Option{
			testregistry.WithQuirks(&testregistry.Quirks{NoMount: true, Repositories: repos})},
			"", []string{"does not exist", "aws ecr create-repository"}, 0},
		{"Zot without docker2s2", []testregistry.Option{
			testregistry.WithQuirks(&testregistry.Quirks{RefuseDocker: true})},
			"", []string{"refuses Docker media types", "docker2s2"}, 24 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.StartT(t, tc.opts...)
			code, out := pushTo(t, reg, reg.Host+tc.registry, w.bundle)
			t.Logf("unbundle push:\n%s", out)
			if code != cli.ExitRefused {
				t.Fatalf("exit %d, want %d\n%s", code, cli.ExitRefused, out)
			}
			for _, s := range tc.want {
				if strings.Count(out, s) != 1 {
					t.Errorf("the output says %q %d times, want once\n%s", s, strings.Count(out, s), out)
				}
			}
			for _, s := range []string{"<html", "?_state", "rerun the same command to resume"} {
				if strings.Contains(out, s) {
					t.Errorf("the output has %q\n%s", s, out)
				}
			}
			if got := reg.BlobBytesReceived(); got > tc.maxBytes {
				t.Errorf("the registry received %d blob bytes before the refusal, want at most %d", got, tc.maxBytes)
			}
			// unbundle check finds the same, and exits the same.
			args := []string{"check", "--registry", reg.Host + tc.registry}
			if reg.Username != "" {
				args = append(args, "--username", reg.Username, "--password-stdin")
			}
			cmd := exec.Command(binary(t, "unbundle"), append(args, w.bundle)...)
			cmd.Stdin = strings.NewReader(reg.Password + "\n")
			cout, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != cli.ExitRefused || !strings.Contains(string(cout), tc.want[0]) {
				t.Errorf("check: exit %d\n%s", cmd.ProcessState.ExitCode(), cout)
			}
		})
	}
}

// TestCheckReportsBehaviour: unbundle check of a registry that takes everything says so, with
// what it found of mounts, body limit and the referrers API, and exits 0.
func TestCheckReportsBehaviour(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{BodyLimit: 1 << 20, NoMount: true}))
	r := runCmd("unbundle", nil, "check", "--registry", reg.Host, w.bundle)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []string{"takes Docker media types", "declines cross-repository mounts", "refuses request bodies of 16 MiB", "no OCI referrers API", "takes every repository"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("check does not say %q:\n%s", s, r.stdout)
		}
	}
}

// TestInventoryHarborMissingProject: an inventory of a Harbor project that does not exist
// records its repositories as absent, and exits 0.
func TestInventoryHarborMissingProject(t *testing.T) {
	t.Parallel()
	w := setup(t)
	reg := testregistry.StartT(t, testregistry.WithTokenAuth("ess", "s3cret", testregistry.TokenOptions{Projects: []string{"ess"}}),
		testregistry.WithQuirks(&testregistry.Quirks{Projects: []string{"ess"}, HeadUnknownRepo: 401}))
	out := filepath.Join(t.TempDir(), "inventory.json")
	r := runCmd("unbundle", []byte(reg.Password+"\n"), "inventory", "--registry", reg.Host+"/ess-missing", "--username", reg.Username,
		"--password-stdin", "--output", out, w.bundle)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), `"ess-missing/`) || strings.Contains(string(data), `"tags": {
        "`) {
		t.Fatalf("inventory:\n%s", data)
	}
}

// TestCreateFromTokenRegistry: bundle create from an upstream with token auth that hands out
// anonymous pull tokens per repository (ghcr.io, docker.io), its realm on another port.
func TestCreateFromTokenRegistry(t *testing.T) {
	t.Parallel()
	w := setup(t)
	// Copy the upstream's storage into a registry with token auth.
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(w.dir, "upstream", testregistry.StorageDir), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	up, err := testregistry.Start(t.Context(), dir, testregistry.WithTokenAuth("ess", "s3cret", testregistry.TokenOptions{AnonymousPull: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	list := w.listVia(t, up.Host)
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	r := runCmd("bundle", nil, "create", "--images", list, "--output", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	requests, maxScopes := up.TokenRequests()
	t.Logf("%d token requests, at most %d scopes", requests, maxScopes)
	if maxScopes > 2 || requests == 0 {
		t.Fatalf("%d token requests, at most %d scopes", requests, maxScopes)
	}
}
