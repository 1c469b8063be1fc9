// Package atomicfile writes small files so that a reader sees the old content or the whole new
// content, never a part, and never a moment with wider permissions than asked; and writes into
// what is not a file (a device, a FIFO, standard output through /dev/stdout) in place, never
// replacing it.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxLinks bounds a chain of symbolic links followed (Linux's own bound is 40).
const maxLinks = 40

// WriteFile writes data to path.
//
// A regular file, or a path where nothing is, is replaced atomically: through a synced
// temporary file in the same directory, created with mode perm, and a rename. A symbolic link
// to a regular file replaces the file it points to; the link stays.
//
// Anything else is written in place, opened for writing as it is, its mode untouched: a
// character device (/dev/null, a terminal), a FIFO (a pipe into kubectl apply -f -), a
// socket, or a path whose links pass through /proc (/dev/stdout, /dev/fd/N: whatever the
// process's output is, a pipe or a file the shell opened, is written, not replaced). A
// directory is refused.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	target, inPlace, err := resolve(path)
	if err != nil {
		return err
	}
	if inPlace {
		return writeInPlace(path, data)
	}
	return replace(target, data, perm)
}

// resolve follows path's symbolic links: it returns the file to replace, or inPlace when what
// path names is not a regular file, or is reached through /proc.
func resolve(path string) (target string, inPlace bool, err error) {
	target = path
	for range maxLinks {
		if strings.HasPrefix(filepath.Clean(target), "/proc/") {
			return path, true, nil
		}
		fi, err := os.Lstat(target)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if target != path {
				return "", false, fmt.Errorf("%s: a link to %s, which does not exist", path, target)
			}
			return target, false, nil
		case err != nil:
			return "", false, err
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(target)
			if err != nil {
				return "", false, err
			}
			if !filepath.IsAbs(link) {
				link = filepath.Join(filepath.Dir(target), link)
			}
			target = link
		case fi.IsDir():
			return "", false, fmt.Errorf("%s: is a directory", path)
		case fi.Mode().IsRegular():
			return target, false, nil
		default: // a device, a FIFO, a socket
			return path, true, nil
		}
	}
	return "", false, fmt.Errorf("%s: more than %d symbolic links", path, maxLinks)
}

// writeInPlace writes data into what path names, as it is: appended, so that output through
// /dev/stdout follows what the process wrote there before, as a shell's >> or > would have it.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replace writes data to path through a synced temporary file in the same directory, created
// with mode perm, and a rename.
func replace(path string, data []byte, perm os.FileMode) error {
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
