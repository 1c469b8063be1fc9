package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun: both pages are written in -dir, created if missing, each a man page of its
// program naming its commands; what was written is said on stdout.
func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "man")
	var stdout bytes.Buffer
	if err := run([]string{"-dir", dir}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for prog, command := range map[string]string{"bundle": "create", "unbundle": "push"} {
		page, err := os.ReadFile(filepath.Join(dir, prog+".1"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(page), ".") || !strings.Contains(string(page), ".TH") || !strings.Contains(string(page), command) {
			t.Errorf("%s.1 is not a man page naming %s:\n%.300s", prog, command, page)
		}
		if !strings.Contains(stdout.String(), "wrote "+filepath.Join(dir, prog+".1")) {
			t.Errorf("stdout does not say %s.1 was written: %s", prog, stdout.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, args := range [][]string{{"-bogus"}, {"-dir", filepath.Join(file, "man")}, {"man"}} {
		var stderr bytes.Buffer
		if err := run(args, &bytes.Buffer{}, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
