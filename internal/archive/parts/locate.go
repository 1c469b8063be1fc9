package parts

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Set is the files of one bundle as they were found: the bundle file, or its data and parity
// parts (in one directory or several: one per medium), and its checksum file. Check settles a
// part found in several files; Repair records the parts it rebuilt.
type Set struct {
	Name     string     // the bundle's file name, NAME.tar.zst
	Whole    string     // path of the bundle file; "" when it is in parts
	Data     [][]string // per data part, the paths found for it (none: missing; several: copies)
	Parity   [][]string // per parity part, likewise
	SumsPath string     // NAME.tar.zst.sha256 beside the files; "" when there is none
	Sums     *Sums      // nil when there is no checksum file
	dirs     []string
}

// Split reports whether the bundle is in parts.
func (s *Set) Split() bool { return s.Whole == "" }

// Dir is the directory of the checksum file, else of the first file found.
func (s *Set) Dir() string {
	if s.SumsPath != "" {
		return filepath.Dir(s.SumsPath)
	}
	return s.dirs[0]
}

// Locate finds the files of one bundle from what a user names: the bundle file, any of its parts
// (the others are found beside it), NAME.tar.zst of a bundle in parts, a directory holding one
// bundle, or a glob (expanded here when the shell did not); several of these for parts spread
// over several directories. Naming the bundle file itself means that file, even when its parts
// are beside it (to check the parts joined); anything else means the parts. The checksum file
// found beside them is read (ReadSums, bounded) and must be the bundle's; it is not otherwise
// trusted here (trust.Find is the door that checks its signature).
func Locate(args ...string) (*Set, error) {
	n := &named{}
	for _, a := range args {
		if err := n.arg(a); err != nil {
			return nil, err
		}
	}
	s, err := n.set()
	if err != nil {
		return nil, err
	}
	if err := s.readSums(); err != nil {
		return nil, err
	}
	if n.whole != "" {
		s.Whole = n.whole
		return s, nil
	}
	s.findParts()
	if len(s.Data) == 0 && len(s.Parity) == 0 {
		// Only the joined file was found (a directory, or NAME.tar.zst given as such).
		for _, d := range s.dirs {
			if p := filepath.Join(d, s.Name); fileExists(p) {
				s.Whole = p
				return s, nil
			}
		}
	}
	if err := s.fitSums(); err != nil {
		return nil, err
	}
	return s, nil
}

// named is what the arguments name: every file given or found in a directory given, with the
// path of its bundle, and the bundle file when one was named as such.
type named struct {
	found []foundFile
	whole string
}

type foundFile struct{ path, base string }

// arg takes in one argument: a directory, a file, a glob, or NAME.tar.zst of a bundle in parts.
func (n *named) arg(a string) error {
	st, err := os.Stat(a)
	switch {
	case err == nil && st.IsDir():
		return n.dir(a)
	case err == nil:
		n.add(a, false)
	case strings.ContainsAny(a, "*?["):
		matches, _ := filepath.Glob(a)
		if len(matches) == 0 {
			return fmt.Errorf("%s: %w: no file matches", a, fs.ErrNotExist)
		}
		for _, m := range matches {
			n.add(m, false)
		}
	case len(Files(a)) > 0: // NAME.tar.zst of a bundle in parts
		n.found = append(n.found, foundFile{a, a})
	default:
		return fmt.Errorf("%s: %w (nor %s beside it)", a, fs.ErrNotExist, filepath.Base(DataName(a, 0)))
	}
	return nil
}

// dir takes in the files of a directory that belong to a bundle (NAME.tar.zst and its parts).
func (n *named) dir(a string) error {
	ents, err := os.ReadDir(a)
	if err != nil {
		return err
	}
	before := len(n.found)
	for _, e := range ents {
		if e.Type().IsRegular() {
			n.add(filepath.Join(a, e.Name()), true)
		}
	}
	if len(n.found) == before {
		return fmt.Errorf("%s: %w: no bundle (NAME.tar.zst or NAME.tar.zst.001) in this directory", a, fs.ErrNotExist)
	}
	return nil
}

// add takes in a file: from a directory only what ends in .tar.zst (and its parts); the bundle
// file itself, named as such, is the bundle.
func (n *named) add(path string, inDir bool) {
	base, idx := classify(path)
	if inDir && !strings.HasSuffix(base, ".tar.zst") {
		return
	}
	if idx == "" && !inDir && base == path {
		n.whole = path
	}
	n.found = append(n.found, foundFile{path, base})
}

// set is the Set of the one bundle the files found belong to, and the directories they are in.
func (n *named) set() (*Set, error) {
	s := &Set{}
	for _, g := range n.found {
		name := filepath.Base(g.base)
		if s.Name != "" && name != s.Name {
			return nil, fmt.Errorf("%s and %s are two bundles: name one", s.Name, name)
		}
		s.Name = name
		if d := filepath.Dir(g.path); !slices.Contains(s.dirs, d) {
			s.dirs = append(s.dirs, d)
		}
	}
	if s.Name == "" {
		return nil, fmt.Errorf("%w: no bundle given", fs.ErrNotExist)
	}
	return s, nil
}

// readSums reads the checksum file of the first directory that has one.
func (s *Set) readSums() error {
	for _, d := range s.dirs {
		if p := SumsPath(filepath.Join(d, s.Name)); s.SumsPath == "" && fileExists(p) {
			s.SumsPath = p
		}
	}
	if s.SumsPath == "" {
		return nil
	}
	sums, err := ReadSums(s.SumsPath)
	if err != nil {
		return err
	}
	if sums.Name != s.Name {
		return fmt.Errorf("%w: %s is the checksum file of %s", ErrCorrupt, s.SumsPath, sums.Name)
	}
	s.Sums = sums
	return nil
}

// findParts lists the data and parity parts found in every directory, each file once.
func (s *Set) findParts() {
	for _, d := range s.dirs {
		for _, p := range Files(filepath.Join(d, s.Name)) {
			_, idx := classify(p)
			if idx == "" {
				continue // the joined file beside its parts: named only when named
			}
			i, parity, _ := partIndex(idx)
			list := &s.Data
			if parity {
				list = &s.Parity
			}
			for len(*list) <= i {
				*list = append(*list, nil)
			}
			if !sameFileIn((*list)[i], p) {
				(*list)[i] = append((*list)[i], p)
			}
		}
	}
}

// fitSums checks the parts found against the checksum file, if any, and makes room for the parts
// it lists that were not found (missing).
func (s *Set) fitSums() error {
	if s.Sums == nil {
		return nil
	}
	if !s.Sums.Split() {
		return fmt.Errorf("%w: found parts of %s, but %s describes one file", ErrCorrupt, s.Name, s.SumsPath)
	}
	if len(s.Data) > len(s.Sums.Parts) || len(s.Parity) > len(s.Sums.Parity) {
		return fmt.Errorf("%w: found more parts of %s than %s lists (%d data, %d parity): remove the parts of an older bundle",
			ErrCorrupt, s.Name, s.SumsPath, len(s.Sums.Parts), len(s.Sums.Parity))
	}
	s.Data = append(s.Data, make([][]string, len(s.Sums.Parts)-len(s.Data))...)
	s.Parity = append(s.Parity, make([][]string, len(s.Sums.Parity)-len(s.Parity))...)
	return nil
}

// classify splits a path into its bundle's path and a part suffix ("001", "p01"; "" for the
// bundle file itself). A checksum or signature file names its bundle.
func classify(path string) (base, idx string) {
	path = strings.TrimSuffix(strings.TrimSuffix(path, ".sig"), ".sha256")
	if dot := strings.LastIndexByte(path, '.'); dot > 0 {
		if _, _, ok := partIndex(path[dot+1:]); ok {
			return path[:dot], path[dot+1:]
		}
	}
	return path, ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// sameFileIn reports whether p is one of paths (the same file reached twice).
func sameFileIn(paths []string, p string) bool {
	st, err := os.Stat(p)
	for _, q := range paths {
		if q == p {
			return true
		}
		if qs, qerr := os.Stat(q); err == nil && qerr == nil && os.SameFile(st, qs) {
			return true
		}
	}
	return false
}

// FirstPaths returns one path per part of lists (Set.Data, Set.Parity): the first found, or ""
// when missing.
func FirstPaths(lists [][]string) []string {
	out := make([]string, len(lists))
	for i, l := range lists {
		if len(l) > 0 {
			out[i] = l[0]
		}
	}
	return out
}
