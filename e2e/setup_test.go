// Package e2e runs bundle and unbundle end to end, as the built programs (the main paths built
// with -race), against real Distribution registries in this process, and checks what other
// tools (sha256sum, zstd, tar, regctl, skopeo, helm) make of the bundle. It runs
// without -race itself: `make test` runs it apart from the race-enabled unit tests.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
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
	w.images, err = generate(w.upstream.Host, *fixtureSize, 2310, "")
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

// result is what a command printed and returned.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

type cmdError struct{ r result }

func (e *cmdError) Error() string {
	return "`" + strings.Join(e.r.args, " ") + "` exited " + strconv.Itoa(e.r.code) + ":\n" + e.r.stderr
}

// runRaced runs bundle or unbundle built with -race, with stdin: the race detector watches the
// whole command of the tests of the main paths (the e2e tests themselves run without it, so
// that the in-process registries move their gigabytes at a realistic speed). A race found is
// a non-zero exit ("WARNING: DATA RACE" on stderr), which fails must.
func runRaced(prog string, stdin []byte, args ...string) result {
	return runPath(prog+".race", stdin, nil, args...)
}

// runCmd runs bundle or unbundle as the built program (not under the race detector: the
// gigabytes move at their real speed, and commands run side by side) with stdin and this
// process's environment.
func runCmd(prog string, stdin []byte, args ...string) result {
	return runCmdEnv(prog, nil, stdin, args...)
}

// runCmdEnv is runCmd with env added to this process's environment.
func runCmdEnv(prog string, env []string, stdin []byte, args ...string) result {
	return runPath(prog, stdin, env, args...)
}

// runPath runs the built program named bin (binaryPath), reporting it by its command's name.
func runPath(bin string, stdin []byte, env []string, args ...string) result {
	prog := strings.TrimSuffix(bin, ".race")
	full := append([]string{prog}, args...)
	path, err := binaryPath(bin)
	if err != nil {
		return result{args: full, code: -1, stderr: err.Error()}
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	} else if err != nil {
		code, errb = -1, *bytes.NewBufferString(err.Error())
	}
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
	b, err := trust.Open(path)
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

// generate pushes the fixture (internal/fixture, through cmd/essfixture: not under the race
// detector, which would make compressing and hashing its layers ten times slower) to registry
// and returns its image list. tree is "" (ess-2310), "ess-2408", or an images_digests.yml file.
func generate(registry string, size, seed int64, tree string) ([]digests.Image, error) {
	bin, err := binaryPath("essfixture")
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "e2e-fixture-*.yml")
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(f.Name())
	args := []string{"--registry", registry, "--size", strconv.FormatInt(size, 10), "--seed", strconv.FormatInt(seed, 10), "--output", f.Name()}
	if tree != "" {
		args = append(args, "--tree", tree)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("essfixture: %v\n%s", err, out)
	}
	l, err := digests.ParseFile(f.Name())
	if err != nil {
		return nil, err
	}
	return l.Images, nil
}
