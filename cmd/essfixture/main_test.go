package main

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

func TestRun(t *testing.T) {
	r := testregistry.StartT(t, testregistry.WithAuth("alice", "pw"), testregistry.WithTLS())
	out := filepath.Join(t.TempDir(), "images_digests.yml")
	var stderr bytes.Buffer
	args := []string{"--registry", r.Host, "--size", "256KiB", "--seed", "3", "--username", "alice",
		"--password-stdin", "--ca-file", r.CAFile, "--output", out}
	if err := run(t.Context(), args, strings.NewReader("pw\n"), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	l, err := digests.ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Images) != 35 {
		t.Errorf("%d images, want 35", len(l.Images))
	}
	for _, img := range l.Images {
		if img.Server != r.Host || img.Digest == "" {
			t.Errorf("%s: server %q digest %q", img.Key(), img.Server, img.Digest)
		}
	}
}

func TestRunUsage(t *testing.T) {
	tests := [][]string{
		{},
		{"--registry", "h:1", "extra"},
		{"--registry", "h:1", "--ca-file", "f", "--plain-http"},
		{"--registry", "h:1", "--password-stdin"},
		{"--registry", "h:1", "--size", "12XB"},
		{"--registry", "h:1", "--tree", "ess-2309"},
		{"--bogus"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			err := run(t.Context(), args, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want errUsage", err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"123", 123}, {"256KiB", 256 << 10}, {"60MiB", 60 << 20}, {"2GiB", 2 << 30}, {"2gib", 2 << 30},
		{"0", 0}, {"-1", 0}, {"1.5GiB", 0}, {"MiB", 0}, {"10 MiB", 0}, {"", 0},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestRunPlainHTTPToStdout(t *testing.T) {
	r := testregistry.StartT(t)
	var stdout, stderr bytes.Buffer
	args := []string{"--registry", r.Host, "--size", "300000", "--plain-http", "--output", "-"}
	if err := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	l, err := digests.Parse("stdout", stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Images) != 35 {
		t.Errorf("%d images, want 35", len(l.Images))
	}
}

// TestRunTree pushes the default tree, ess-2408 and ess-2310 from a file to one registry with
// one seed and size: the file gives the default's digests, and ess-2408 shares its unchanged
// images with them.
func TestRunTree(t *testing.T) {
	r := testregistry.StartT(t)
	dir := t.TempDir()
	push := func(tree ...string) map[string]string {
		t.Helper()
		out := filepath.Join(dir, "out.yml")
		var stderr bytes.Buffer
		args := append([]string{"--registry", r.Host, "--size", "1MiB", "--plain-http", "--output", out}, tree...)
		if err := run(t.Context(), args, strings.NewReader(""), &bytes.Buffer{}, &stderr); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		l, err := digests.ParseFile(out)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, img := range l.Images {
			m[img.Key()] = img.Path + ":" + img.Tag + "@" + img.Digest
		}
		return m
	}
	tree, err := fixture.ReleaseTree("ess-2310")
	if err != nil {
		t.Fatal(err)
	}
	data, err := digests.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "tree.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	def, fromFile, next := push(), push("--tree", file), push("--tree", "ess-2408")
	if !maps.Equal(def, fromFile) || len(def) != 35 {
		t.Errorf("--tree FILE with ess-2310 gave %d entries, not the default's %d", len(fromFile), len(def))
	}
	if len(next) != 37 || next["adminbot.haproxy"] != def["adminbot.haproxy"] || def["adminbot.haproxy"] == "" {
		t.Errorf("ess-2408: %d entries, haproxy %q; ess-2310's haproxy %q", len(next), next["adminbot.haproxy"], def["adminbot.haproxy"])
	}
}
