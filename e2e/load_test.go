package e2e

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

var loadSize = flag.Int64("load-size", 2<<30, "bytes of unique layers in the load test's fixture (the benchmark's)")

// loadWorld is the benchmark-sized fixture in an upstream registry, its list and a bundle of
// it, made once for the load tests.
type loadWorld struct {
	up         *testregistry.Registry
	list       string
	images     []digests.Image
	bundle     string
	createTime time.Duration // of the bundle's fresh create
	total      int64         // blob bytes
}

var (
	loaded     *loadWorld
	loadedErr  error
	loadedOnce sync.Once
)

func loadSetup(t *testing.T) *loadWorld {
	t.Helper()
	loadedOnce.Do(func() { loaded, loadedErr = newLoadWorld(t) })
	if loadedErr != nil {
		t.Fatalf("load setup: %v", loadedErr)
	}
	return loaded
}

func newLoadWorld(t *testing.T) (*loadWorld, error) {
	dir, err := os.MkdirTemp("", "e2e-load-")
	if err != nil {
		return nil, err
	}
	w := &loadWorld{}
	addCleanup(func() {
		if w.up != nil {
			w.up.Close()
		}
		os.RemoveAll(dir)
	})
	if w.up, err = testregistry.Start(context.Background(), filepath.Join(dir, "up")); err != nil {
		return nil, err
	}
	w.list = filepath.Join(dir, "list.yml")
	essfixture, err := binaryPath("essfixture")
	if err != nil {
		return nil, err
	}
	gen := exec.Command(essfixture, "--registry", w.up.Host, "--size", strconv.FormatInt(*loadSize, 10), "--seed", "16", "--output", w.list)
	if out, err := gen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("essfixture: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(w.list)
	l, err := digests.Parse(w.list, data)
	if err != nil {
		return nil, err
	}
	w.images = l.Images
	w.bundle = filepath.Join(dir, "load.tar.zst")
	create := exec.Command(binary(t, "bundle"), "create", "--images", w.list, "--output", w.bundle)
	create.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	start := time.Now()
	if out, err := create.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bundle create: %v\n%s", err, out)
	}
	w.createTime = time.Since(start)
	for _, b := range mustOpenManifest(t, w.bundle).Blobs {
		w.total += b.Size
	}
	return w, nil
}

// TestLoadJobs16: unbundle push --jobs 16 of the benchmark-sized fixture into a Distribution
// registry with auth and TLS, three times into the same registry: every digest right each
// time, and the second and third runs upload nothing. The commands run as built binaries (not
// under the race detector) so that the gigabytes move at a realistic speed.
func TestLoadJobs16(t *testing.T) {
	t.Parallel()
	lw := loadSetup(t)
	dir, bundle := t.TempDir(), lw.bundle
	reg := secureRegistry(t)
	var uploaded []int64
	for run := 1; run <= 3; run++ {
		before := reg.BlobBytesReceived()
		cmd := exec.Command(binary(t, "unbundle"), "push", "--jobs", "16", "--registry", reg.Host, "--ca-file", reg.CAFile,
			"--username", reg.Username, "--password-stdin", "--configmap", filepath.Join(dir, "cm.yaml"), bundle)
		cmd.Stdin = stringReader(reg.Password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("push %d: %v\n%s", run, err, out)
		}
		uploaded = append(uploaded, reg.BlobBytesReceived()-before)
		cm, _ := os.ReadFile(filepath.Join(dir, "cm.yaml"))
		got, err := digests.ParseConfigMap(cm)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(lw.images) {
			t.Fatalf("push %d: ConfigMap has %d of %d containers", run, len(got), len(lw.images))
		}
		want := map[string]string{}
		for _, im := range lw.images {
			want[im.Key()] = im.Digest
		}
		for _, im := range got {
			if served := headDigest(t, reg, reg.Host+"/"+im.Path+":"+im.Tag); served != want[im.Key()] || im.Digest != served {
				t.Errorf("push %d: %s: ConfigMap %s, registry %s, upstream %s", run, im.Key(), im.Digest, served, want[im.Key()])
			}
		}
	}
	t.Logf("blob bytes uploaded by the three runs: %v", uploaded)
	if uploaded[0] < *loadSize*9/10 || uploaded[1] != 0 || uploaded[2] != 0 {
		t.Fatalf("uploaded %v: want the fixture once, then nothing", uploaded)
	}
}

// TestLoadKilledCreate: bundle create of the benchmark-sized fixture (2 GiB), killed with
// SIGKILL half way, is rerun: the rerun is stopped by SIGINT within a second whatever it is
// doing, and the next run completes, pulling about half of the bytes, in at most 1.5x the
// fresh create's time (a crawl took 35x), and writes the same bytes as the fresh create.
func TestLoadKilledCreate(t *testing.T) {
	lw := loadSetup(t)
	out := filepath.Join(t.TempDir(), "load.tar.zst")
	run := func() *exec.Cmd {
		cmd := exec.Command(binary(t, "bundle"), "create", "--images", lw.list, "--output", out)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		return cmd
	}
	base := lw.up.BlobBytesSent()
	killWhen(t, run(), func() bool { return lw.up.BlobBytesSent()-base >= lw.total/2 })
	t.Logf("killed after %d of %d blob bytes", lw.up.BlobBytesSent()-base, lw.total)

	cmd := run()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // deciding what to keep and verifying it
	cmd.Process.Signal(syscall.SIGINT)
	sent := time.Now()
	cmd.Wait()
	if took := time.Since(sent); cmd.ProcessState.ExitCode() != 130 || took > time.Second {
		t.Fatalf("SIGINT: exit code %d after %s, want 130 within a second\n%s", cmd.ProcessState.ExitCode(), took, stderr.String())
	}

	base = lw.up.BlobBytesSent()
	start := time.Now()
	if o, err := run().CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, o)
	}
	took, pulled := time.Since(start), lw.up.BlobBytesSent()-base
	t.Logf("rerun pulled %d of %d blob bytes in %s; the fresh create took %s", pulled, lw.total, took, lw.createTime)
	if pulled > lw.total*6/10 {
		t.Errorf("rerun pulled %d of %d bytes: it kept less than it should", pulled, lw.total)
	}
	// The target is 0.6x (make bench measures it). This bound catches a resume that crawls
	// (before issue 9: 8 minutes against 14 s) without flaking on this kind of machine, where
	// writing fresh page cache costs 0.5-6.6 s of system time a 2 GiB (docs/performance.md):
	// a rerun measured 0.57x-1.0x of the fresh create here.
	if took > lw.createTime*3/2 {
		t.Errorf("rerun took %s, the fresh create %s: more than 1.5x", took, lw.createTime)
	}
	if fileSHA(t, out) != fileSHA(t, lw.bundle) {
		t.Fatal("the resumed bundle differs from the fresh one")
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestLoadInterrupted: unbundle verify and unbundle push of the 2 GiB bundle stop within a
// second of SIGINT (in the middle of a large layer), exit 130, and a rerun of the push
// completes.
func TestLoadInterrupted(t *testing.T) {
	lw := loadSetup(t)
	reg, err := testregistry.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	cm := filepath.Join(t.TempDir(), "cm.yaml")
	for _, args := range [][]string{
		{"verify", lw.bundle},
		{"push", "--registry", reg.Host, "--configmap", cm, lw.bundle},
	} {
		cmd := exec.Command(binary(t, "unbundle"), args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		sent := time.Now()
		cmd.Wait()
		took := time.Since(sent)
		t.Logf("%s: stopped %s after SIGINT", args[0], took)
		if cmd.ProcessState.ExitCode() != 130 || took > time.Second {
			t.Fatalf("%s: exit code %d after %s, want 130 within a second\n%s", args[0], cmd.ProcessState.ExitCode(), took, stderr.String())
		}
	}
	if _, err := os.Stat(cm); err == nil {
		t.Fatal("an interrupted push wrote the ConfigMap")
	}
	if o, err := exec.Command(binary(t, "unbundle"), "push", "--registry", reg.Host, "--configmap", cm, lw.bundle).CombinedOutput(); err != nil {
		t.Fatalf("push after the interrupted one: %v\n%s", err, o)
	}
}
