// Package atomicfile writes small files so that a reader sees the old content or the whole new
// content, never a part, and never a moment with wider permissions than asked.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path through a synced temporary file in the same directory, created
// with mode perm, and a rename.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
