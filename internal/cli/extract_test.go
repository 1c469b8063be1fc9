package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/trust"
)

// TestExtract: the files a bundle carries are written out as they went in (a program stays
// executable), verified; one that exists is not replaced without --force; what cannot be done
// is a usage error naming the file and what to do, and leaves nothing behind. A file whose
// bytes in the bundle were damaged is refused and not written.
func TestExtract(t *testing.T) {
	w := newWorld(t, 111)
	script := filepath.Join(w.dir, "install.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho installed\n"), 0o755)
	notes := filepath.Join(w.dir, "notes.txt")
	os.WriteFile(notes, []byte(strings.Repeat("the notes of the site\n", 200)), 0o644)
	bundle := filepath.Join(w.dir, "f.tar.zst")
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", bundle, "--file", script, "--file", notes+"=README"); r.code != ExitOK {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	r := runMain("unbundle", "", "list", bundle)
	mustSay(t, "list", r.stdout, "file install.sh:", "file README:", "unbundle extract "+bundle+" README --dir DIR")

	out := t.TempDir()
	r = runMain("unbundle", "", "extract", bundle, "install.sh", "README", "--dir", out)
	if r.code != ExitOK {
		t.Fatalf("extract: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stderr", r.stderr, "wrote "+filepath.Join(out, "install.sh"), "verified")
	for name, src := range map[string]string{"install.sh": script, "README": notes} {
		got, err := os.ReadFile(filepath.Join(out, name))
		want, _ := os.ReadFile(src)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st, _ := os.Stat(filepath.Join(out, "install.sh")); st == nil || st.Mode().Perm() != 0o755 {
		t.Errorf("install.sh: %v", st)
	}
	if st, _ := os.Stat(filepath.Join(out, "README")); st == nil || st.Mode().Perm() != 0o644 {
		t.Errorf("README: %v", st)
	}

	os.WriteFile(filepath.Join(out, "README"), []byte("mine"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"no file named", []string{"extract", bundle}, []string{"want the bundle and at least one file name"}},
		{"a file it does not carry", []string{"extract", bundle, "nope", "--dir", out}, []string{"carries no file nope", "it carries: install.sh, README"}},
		{"a path", []string{"extract", bundle, "../x", "--dir", out}, []string{"one file name"}},
		{"no such directory", []string{"extract", bundle, "README", "--dir", filepath.Join(out, "nope")}, []string{"--dir", "not a directory"}},
		{"a file that exists", []string{"extract", bundle, "README", "--dir", out}, []string{"README exists: give --force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runMain("unbundle", "", tc.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d: %s", r.code, r.stderr)
			}
			mustSay(t, "stderr", r.stderr, tc.says...)
		})
	}
	if got, _ := os.ReadFile(filepath.Join(out, "README")); string(got) != "mine" {
		t.Errorf("a file replaced without --force: %q", got)
	}
	if r := runMain("unbundle", "", "extract", bundle, "README", "--dir", out, "--force"); r.code != ExitOK {
		t.Errorf("--force: exit %d: %s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "README")); string(got) == "mine" {
		t.Error("--force did not replace the file")
	}

	// A byte of README changed in the bundle: refused, nothing written.
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	off, length, ok := b.EntryRange("README")
	b.Close()
	if !ok {
		t.Fatal("no README entry")
	}
	data, _ := os.ReadFile(bundle)
	data[off+length/2] ^= 0x20
	damaged := filepath.Join(w.dir, "damaged.tar.zst")
	os.WriteFile(damaged, data, 0o644)
	fresh := t.TempDir()
	r = runMain("unbundle", "", "extract", damaged, "README", "--dir", fresh)
	if r.code != ExitVerify {
		t.Errorf("a damaged file: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stderr", r.stderr, "README")
	if entries, _ := os.ReadDir(fresh); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
