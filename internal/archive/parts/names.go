package parts

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A bundle is one file, NAME.tar.zst, or parts NAME.tar.zst.001, .002, ... that are the file cut
// at every part size bytes (the last part holds the rest), so that joining them in order gives
// the file. Parity parts NAME.tar.zst.p01, .p02, ... (parity.go) may follow. Nothing else
// differs: the format, the offset table and the footer are those of the joined file.

// MaxData is the most data parts a bundle has: it keeps part names three digits long, so that
// `cat NAME.tar.zst.0*` and a shell's sorting join them in order.
const MaxData = 999

// MaxShards is the most data and parity parts together that Reed-Solomon over GF(2^8) takes.
const MaxShards = 256

// maxSize bounds a bundle's size as the checksum file states it (archive's bound on an entry):
// it keeps the arithmetic on sizes far from overflow.
const maxSize = 1 << 52

// DataName is the name of data part i (0-based) of the bundle at base: base.001, ...
func DataName(base string, i int) string { return fmt.Sprintf("%s.%03d", base, i+1) }

// ParityName is the name of parity part i (0-based) of the bundle at base: base.p01, ...
func ParityName(base string, i int) string { return fmt.Sprintf("%s.p%02d", base, i+1) }

// SumsPath is the checksum file of the bundle at path (NAME.tar.zst): NAME.tar.zst.sha256.
func SumsPath(path string) string { return path + ".sha256" }

// SigPath is the signature of the checksum file of the bundle at path (package trust writes
// and checks it; the writer removes a stale one).
func SigPath(path string) string { return SumsPath(path) + ".sig" }

// partIndex parses a data part's suffix ("001") or a parity part's ("p01") into a 0-based index.
// Only the names DataName and ParityName give are parts (at most MaxData data parts, MaxShards
// parts in all): a stray file such as NAME.0001 or NAME.999999999 is not part 1 again, nor
// part 999999999 (which would have Locate make room for that many).
func partIndex(suffix string) (i int, parity, ok bool) {
	digits, limit, format := suffix, MaxData, "%03d"
	if parity = strings.HasPrefix(suffix, "p"); parity {
		digits, limit, format = suffix[1:], MaxShards, "p%02d"
	}
	if len(digits) > 3 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > limit || fmt.Sprintf(format, n) != suffix {
		return 0, false, false
	}
	return n - 1, parity, true
}

// Count is how many data parts a bundle of size bytes takes at partSize bytes a part (0: one
// file, which counts as one).
func Count(size, partSize int64) int {
	if partSize <= 0 {
		return 1
	}
	return int(max(1, (size+partSize-1)/partSize))
}

// Names are the file names of a bundle of size bytes at base: base itself (partSize 0), or its
// data parts.
func Names(base string, size, partSize int64) []string {
	if partSize <= 0 {
		return []string{base}
	}
	var names []string
	for i := range Count(size, partSize) {
		names = append(names, DataName(base, i))
	}
	return names
}

// Files lists the files of a bundle that exist at base: base itself, and its data and parity
// parts found beside it.
func Files(base string) []string {
	var found []string
	if st, err := os.Lstat(base); err == nil && (st.Mode().IsRegular() || st.Mode()&os.ModeSymlink != 0) {
		found = append(found, base)
	}
	matches, _ := filepath.Glob(globEscape(base) + ".*")
	for _, m := range matches {
		if _, _, ok := partIndex(strings.TrimPrefix(m, base+".")); ok {
			found = append(found, m)
		}
	}
	return found
}

// Rename moves every file of the bundle at from to the same names at to.
func Rename(from, to string) error {
	for _, name := range Files(from) {
		if err := os.Rename(name, to+strings.TrimPrefix(name, from)); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes every file of the bundle at base but those in keep, ignoring errors (what it
// removes is left over from an earlier run).
func Remove(base string, keep ...string) {
	for _, name := range Files(base) {
		if !slices.Contains(keep, name) {
			os.Remove(name)
		}
	}
}

// globEscape quotes the characters filepath.Glob treats as special.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
