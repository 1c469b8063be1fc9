// Package e2e runs bundle and unbundle end to end, in-process, against real Distribution
// registries, and checks what other tools (sha256sum, zstd, tar, regctl, skopeo) make of the
// bundle.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

var (
	update      = flag.Bool("update", false, "rewrite golden files")
	fixtureSize = flag.Int64("fixture-size", 60<<20, "bytes of unique layers in the end-to-end fixture")
)

// world is what every test shares: an upstream registry holding the fixture, its image list,
// and one bundle made from it.
type world struct {
	dir      string
	upstream *testregistry.Registry
	list     string // images_digests.yml path
	images   []digests.Image
	bundle   string
}

// cleanups run after every test, for what tests share.
var (
	cleanups   []func()
	cleanupsMu sync.Mutex
)

// addCleanup registers f to run after every test; safe for concurrent use.
func addCleanup(f func()) {
	cleanupsMu.Lock()
	defer cleanupsMu.Unlock()
	cleanups = append(cleanups, f)
}

var (
	shared     *world
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shared != nil {
		shared.upstream.Close()
		os.RemoveAll(shared.dir)
	}
	for _, f := range cleanups {
		f()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// setup makes the shared world once: generating the fixture and bundling it is the slow part.
func setup(t *testing.T) *world {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = newWorld() })
	if sharedErr != nil {
		t.Fatalf("setup: %v", sharedErr)
	}
	return shared
}

func newWorld() (*world, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir}
	if w.upstream, err = testregistry.Start(ctx, filepath.Join(dir, "upstream")); err != nil {
		return nil, err
	}
	w.images, err = fixture.Generate(ctx, fixture.Options{Registry: w.upstream.Host, Size: *fixtureSize, Seed: 2310})
	if err != nil {
		return nil, err
	}
	yml, err := digests.Marshal(w.images)
	if err != nil {
		return nil, err
	}
	w.list = filepath.Join(dir, "images_digests.yml")
	if err := os.WriteFile(w.list, yml, 0o644); err != nil {
		return nil, err
	}
	w.bundle = filepath.Join(dir, "ess.tar.zst")
	r := runCmd("bundle", nil, "create", "--images", w.list, "--output", w.bundle)
	if r.code != 0 {
		return nil, &cmdError{r}
	}
	return w, nil
}

// result is what a command run in-process printed and returned.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

type cmdError struct{ r result }

func (e *cmdError) Error() string {
	return "`" + strings.Join(e.r.args, " ") + "` exited " + strconv.Itoa(e.r.code) + ":\n" + e.r.stderr
}

// mainMu serialises the commands run in-process: urfave/cli shares its --help flag between
// apps, which is fine in a process that runs one command, not in parallel tests.
var mainMu sync.Mutex

// runCmd runs bundle or unbundle in-process with stdin.
func runCmd(prog string, stdin []byte, args ...string) result {
	mainMu.Lock()
	defer mainMu.Unlock()
	var out, errb bytes.Buffer
	full := append([]string{prog}, args...)
	code := cli.Main(context.Background(), prog, full, bytes.NewReader(stdin), &out, &errb)
	return result{args: full, code: code, stdout: out.String(), stderr: errb.String()}
}

// must fails the test unless the command exited 0.
func must(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%v", &cmdError{r})
	}
	return r
}

func mustOpenManifest(t *testing.T, path string) *archive.Manifest {
	t.Helper()
	b, err := archive.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return b.Manifest()
}

func stringReader(s string) *strings.Reader { return strings.NewReader(s) }

// listVia writes the world's image list with every image on server instead (a proxy in front
// of the upstream) and returns its path.
func (w *world) listVia(t *testing.T, server string) string {
	t.Helper()
	var via []digests.Image
	for _, im := range w.images {
		im.Server = server
		via = append(via, im)
	}
	yml, err := digests.Marshal(via)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "list.yml")
	if err := os.WriteFile(list, yml, 0o644); err != nil {
		t.Fatal(err)
	}
	return list
}
