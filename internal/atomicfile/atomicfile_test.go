//go:build linux

package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestReplace: a file, or nothing, is replaced whole with the mode asked; a link to a file
// replaces the file and stays a link.
func TestReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cm.yaml")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := WriteFile(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "two" {
		t.Errorf("content %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	link := filepath.Join(dir, "current.yaml")
	os.Symlink("cm.yaml", link)
	if err := WriteFile(link, []byte("three"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	if got, _ := os.ReadFile(p); string(got) != "three" {
		t.Errorf("the link's target: %q", got)
	}
	os.Symlink("nowhere.yaml", filepath.Join(dir, "dangling"))
	if err := WriteFile(filepath.Join(dir, "dangling"), []byte("x"), 0o644); err == nil {
		t.Error("a dangling link was written")
	}
	if err := WriteFile(dir, []byte("x"), 0o644); err == nil {
		t.Error("a directory was written")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("left in the directory: %v", entries)
	}
}

// TestInPlaceFIFO: a FIFO (a pipe into kubectl apply -f -) is written into, and stays a FIFO.
func TestInPlaceFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "secret.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if err := WriteFile(fifo, []byte("kind: Secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if string(b) != "kind: Secret\n" {
			t.Errorf("read %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing read from the FIFO")
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO became %v", fi.Mode())
	}
}

// TestInPlaceDevice: a link to a device (/dev/null) writes into the device: the link and the
// device stay as they were.
func TestInPlaceDevice(t *testing.T) {
	link := filepath.Join(t.TempDir(), "out")
	os.Symlink("/dev/null", link)
	before, err := os.Stat("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile("/dev/null", []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat("/dev/null")
	if after.Mode() != before.Mode() || after.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("/dev/null: %v, was %v", after.Mode(), before.Mode())
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
}

// TestInPlaceProc: a path through /proc (what /dev/stdout is) is written in place, after what
// is there: a file the shell opened as the output is appended to, not replaced.
func TestInPlaceProc(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("earlier output\n")
	fd := filepath.Join("/proc/self/fd", strconv.Itoa(int(f.Fd())))
	ino := inode(t, f.Name())
	if err := WriteFile(fd, []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, []byte("earlier output\nkind: ConfigMap\n")) || inode(t, f.Name()) != ino {
		t.Errorf("content %q (replaced: %v)", got, inode(t, f.Name()) != ino)
	}
}

func inode(t *testing.T, p string) uint64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
