package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// splitWorld is the shared fixture bundled twice with the same creation time: as one file, and
// in parts smaller than its largest layer, with parity parts.
type splitWorld struct {
	whole    string // the unsplit bundle
	dir      string // the parts, alone in it
	name     string // DIR/ess.tar.zst
	partSize int64
	parts    int
}

const splitEpoch = "1767225600" // 2026-01-01

// splitEnv is the environment of the split tests' creates: one creation time for them all.
var splitEnv = []string{"SOURCE_DATE_EPOCH=" + splitEpoch}

func newSplitWorld(t *testing.T, parity int) *splitWorld {
	t.Helper()
	w := setup(t)
	var largest int64
	for _, b := range mustOpenManifest(t, w.bundle).Blobs {
		largest = max(largest, b.Size)
	}
	s := &splitWorld{whole: filepath.Join(t.TempDir(), "ess.tar.zst"), dir: t.TempDir(), partSize: largest / 2}
	s.name = filepath.Join(s.dir, "ess.tar.zst")
	must(t, runCmdEnv("bundle", splitEnv, nil, "create", "--images", w.list, "--output", s.whole))
	r := must(t, runCmdEnv("bundle", splitEnv, nil, "create", "--images", w.list, "--output", s.name,
		"--split-size", fmt.Sprint(s.partSize), "--parity", fmt.Sprint(parity)))
	st, err := os.Stat(s.whole)
	if err != nil {
		t.Fatal(err)
	}
	s.parts = int((st.Size() + s.partSize - 1) / s.partSize)
	if !strings.Contains(r.stdout, fmt.Sprintf("%d parts of", s.parts)) || !strings.Contains(r.stdout, "ess.tar.zst.001 to .") {
		t.Fatalf("create says:\n%s", r.stdout)
	}
	return s
}

func (s *splitWorld) part(i int) string { return fmt.Sprintf("%s.%03d", s.name, i) }

// TestSplitCreate: a bundle split at a size smaller than its largest layer is written as parts
// of exactly that size but the last, which `cat` joins into the unsplit bundle's bytes, which
// sha256sum -c checks, and which verify, list and push read in place, however they are named.
func TestSplitCreate(t *testing.T) {
	t.Parallel()
	w := setup(t)
	s := newSplitWorld(t, 2)
	if s.parts < 3 {
		t.Fatalf("%d parts: the split size should give more", s.parts)
	}
	for i := 1; i <= s.parts; i++ {
		st, err := os.Stat(s.part(i))
		if err != nil || (i < s.parts && st.Size() != s.partSize) {
			t.Fatalf("part %d: %v %v, want %d bytes", i, st, err, s.partSize)
		}
	}
	joined := filepath.Join(t.TempDir(), "ess.tar.zst")
	run(t, s.dir, nil, "sh", "-c", `cat ess.tar.zst.0* > "$1"`, "sh", joined)
	if !bytes.Equal(readFile(t, joined), readFile(t, s.whole)) {
		t.Fatal("cat ess.tar.zst.0* differs from the unsplit bundle of the same input")
	}
	out := run(t, s.dir, nil, "sha256sum", "--strict", "-c", "ess.tar.zst.sha256")
	if strings.Count(out, ": OK") != s.parts+2 {
		t.Fatalf("sha256sum -c checked:\n%s", out)
	}
	for _, arg := range []string{s.part(1), s.dir, s.name, s.name + ".*"} {
		r := must(t, runCmd("unbundle", nil, "verify", arg))
		if !strings.Contains(r.stdout, "every part matching ess.tar.zst.sha256") || !strings.Contains(r.stdout, "and 2 parity parts") {
			t.Fatalf("verify %s: %s", arg, r.stdout)
		}
	}
	// Parts spread over two media, named in any order.
	other := t.TempDir()
	for i := 2; i <= s.parts; i += 2 {
		os.Rename(s.part(i), filepath.Join(other, filepath.Base(s.part(i))))
	}
	must(t, runCmd("unbundle", nil, "verify", other, s.dir))
	if r := runCmd("unbundle", nil, "list", s.part(1), other); r.code != 0 || !strings.Contains(r.stdout, w.images[0].Key()) {
		t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	reg := testregistry.StartT(t)
	cm := filepath.Join(t.TempDir(), "cm.yaml")
	must(t, runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", cm, filepath.Join(other, "*"), s.dir))
	got, err := digests.ParseConfigMap(readFile(t, cm))
	if err != nil || len(got) != len(w.images) {
		t.Fatalf("ConfigMap: %d containers, %v", len(got), err)
	}
	for _, im := range got {
		if served := headDigest(t, reg, reg.Host+"/"+im.Path+":"+im.Tag); served != im.Digest {
			t.Errorf("%s: registry serves %s, ConfigMap says %s", im.Key(), served, im.Digest)
		}
	}
}

// TestSplitRerun: a rerun into the same name leaves the files of the new bundle only.
func TestSplitRerun(t *testing.T) {
	t.Parallel()
	w := setup(t)
	s := newSplitWorld(t, 2)
	must(t, runCmdEnv("bundle", splitEnv, nil, "create", "--images", w.list, "--output", s.name, "--split-size", fmt.Sprint(3*s.partSize), "--parity", "1"))
	want := (s.parts + 2) / 3
	ents, _ := os.ReadDir(s.dir)
	if len(ents) != want+2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("after a rerun in %d parts and 1 parity part: %v", want, names)
	}
	must(t, runCmd("unbundle", nil, "verify", s.dir))
}

// TestSplitDamage: verify and push name a part that is missing or damaged and say that parity
// can rebuild it; repair rebuilds it; one part more than the parity parts is refused, saying so.
func TestSplitDamage(t *testing.T) {
	t.Parallel()
	s := newSplitWorld(t, 1)
	good := readFile(t, s.part(2))
	os.Remove(s.part(2))
	for _, args := range [][]string{{"verify", s.dir}, {"push", "--registry", "127.0.0.1:1", s.part(1)}, {"list", s.dir}} {
		r := runCmd("unbundle", nil, args...)
		wantCode := 3
		if args[0] == "list" {
			wantCode = 0 // it reads the first and last parts only
		}
		if r.code != wantCode || !strings.Contains(r.stderr, "BAD ess.tar.zst.002: missing") ||
			(wantCode == 3 && !strings.Contains(r.stderr, "the 1 parity parts can rebuild them: run unbundle repair")) {
			t.Fatalf("%s with a part missing: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
	flip := readFile(t, s.part(3))
	flip[len(flip)/2] ^= 1
	os.WriteFile(s.part(3), flip, 0o644)
	r := runCmd("unbundle", nil, "repair", s.dir)
	if r.code != 3 || !strings.Contains(r.stderr, "BAD ess.tar.zst.003: does not match its sha256") ||
		!strings.Contains(r.stderr, "the 1 parity parts rebuild at most 1: carry at least 1 of them again") {
		t.Fatalf("repair of 2 lost parts with 1 parity part: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(s.part(2)); err == nil {
		t.Fatal("a refused repair wrote a part")
	}
	flip[len(flip)/2] ^= 1
	os.WriteFile(s.part(3), flip, 0o644)
	r = must(t, runCmd("unbundle", nil, "repair", s.part(1)))
	if !strings.Contains(r.stdout, "rebuilt "+s.part(2)) || !bytes.Equal(readFile(t, s.part(2)), good) {
		t.Fatalf("repair: %s", r.stdout)
	}
	must(t, runCmd("unbundle", nil, "verify", s.dir))
}

// TestKilledSplitCreateResumes: bundle create in parts killed with SIGKILL mid-part resumes in
// place, and gives the parts of a run in one go.
func TestKilledSplitCreateResumes(t *testing.T) {
	w := setup(t)
	bin := binary(t, "bundle")
	th := newThrottle(t, w.upstream.Host, 40<<20)
	dir := t.TempDir()
	list := w.listVia(t, th.host)
	out := filepath.Join(dir, "ess.tar.zst")
	run := func(output string) *exec.Cmd {
		cmd := exec.Command(bin, "create", "--images", list, "--output", output, "--jobs", "2", "--split-size", "7MiB", "--parity", "1")
		cmd.Env = append(os.Environ(), splitEnv...)
		return cmd
	}
	var total int64
	for _, b := range mustOpenManifest(t, w.bundle).Blobs {
		total += b.Size
	}
	killWhen(t, run(out), func() bool { return th.served.Load() >= total/2 })
	if _, err := os.Stat(out + ".sha256"); err == nil {
		t.Fatal("a checksum file exists after the kill")
	}
	if _, err := os.Stat(out + ".partial.001"); err != nil {
		t.Fatalf("no unfinished parts after the kill: %v", err)
	}
	before := th.served.Load()
	if o, err := run(out).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, o)
	}
	if rerun := th.served.Load() - before; rerun >= total*9/10 {
		t.Fatalf("the rerun pulled %d of %d bytes: it did not resume", rerun, total)
	}
	fresh := filepath.Join(t.TempDir(), "ess.tar.zst")
	if o, err := run(fresh).CombinedOutput(); err != nil {
		t.Fatalf("fresh run: %v\n%s", err, o)
	}
	ents, _ := os.ReadDir(filepath.Dir(fresh))
	for _, e := range ents {
		if !bytes.Equal(readFile(t, filepath.Join(dir, e.Name())), readFile(t, filepath.Join(filepath.Dir(fresh), e.Name()))) {
			t.Fatalf("%s differs between the resumed run and a run in one go", e.Name())
		}
	}
	if _, err := os.Stat(out + ".partial.001"); err == nil {
		t.Fatal("unfinished parts left after the resumed run")
	}
	must(t, runCmd("unbundle", nil, "verify", dir))
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
