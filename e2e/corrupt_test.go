package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// corruptLargestLayer copies the bundle and flips one byte in the middle of its largest layer.
func corruptLargestLayer(t *testing.T, bundle string) (string, archive.Blob) {
	t.Helper()
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var victim archive.Blob
	for _, bl := range b.Manifest().Blobs {
		if bl.Kind == archive.KindLayer && bl.Size > victim.Size {
			victim = bl
		}
	}
	off, length, ok := b.EntryRange(archive.BlobName(victim.Digest))
	b.Close()
	if !ok {
		t.Fatalf("no entry for %s", victim.Digest)
	}
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	data[off+length/2] ^= 0x01
	out := filepath.Join(t.TempDir(), "broken.tar.zst")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out, victim
}

func TestFlippedByte(t *testing.T) {
	t.Parallel()
	w := setup(t)
	broken, victim := corruptLargestLayer(t, w.bundle)

	r := runCmd("bundle", nil, "verify", broken)
	t.Logf("verify:\n%s", r.stderr)
	if r.code != cli.ExitVerify {
		t.Fatalf("verify exited %d, want %d\n%s", r.code, cli.ExitVerify, r.stderr)
	}
	if !strings.Contains(r.stderr, victim.Digest[7:]) || !strings.Contains(r.stderr, "used by ") {
		t.Fatalf("verify does not name the blob and its images:\n%s", r.stderr)
	}

	dir := t.TempDir()
	reg, err := testregistry.Start(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	r = runCmd("unbundle", nil, "push", "--registry", reg.Host, "--configmap", filepath.Join(dir, "cm.yaml"), broken)
	// A damaged bundle is exit 3 whatever the command, and the advice is to carry it again
	// (or repair it), never to rerun: a rerun meets the same damage.
	if r.code != cli.ExitVerify || !strings.Contains(r.stderr, "carry it again") || strings.Contains(r.stderr, "rerun the same command to resume") {
		t.Fatalf("push of a corrupt bundle exited %d, want %d and the advice to carry it again\n%s", r.code, cli.ExitVerify, r.stderr)
	}
	t.Logf("push:\n%s", r.stderr)
	if !strings.Contains(r.stderr, victim.Digest) {
		t.Fatalf("push does not name the broken blob:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "cm.yaml")); err == nil {
		t.Fatal("a ConfigMap was written after a failed push")
	}
	// The registry never committed the broken blob, in any repository.
	hexd := strings.TrimPrefix(victim.Digest, "sha256:")
	blobData := filepath.Join(dir, testregistry.StorageDir, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")
	if _, err := os.Stat(blobData); !os.IsNotExist(err) {
		t.Fatalf("the registry stored the broken blob (%v)", err)
	}
	// Everything else made it: the blob store is not empty.
	if entries, err := os.ReadDir(filepath.Join(dir, testregistry.StorageDir, "docker/registry/v2/blobs/sha256")); err != nil || len(entries) == 0 {
		t.Fatalf("nothing was pushed (%v): the other images should be", err)
	}
}
