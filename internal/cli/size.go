package cli

import (
	"strconv"
	"strings"
)

// sizeUnits are the units parseSize takes, longest first: binary (KiB, MiB, GiB) and decimal
// (KB, MB, GB; K, M, G are binary, as in docker and kubectl's Ki habits: say KiB to be sure).
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// parseSize reads a byte count: a whole number, optionally followed by a unit (16MiB, 8M,
// 4.7GB). flag names the flag in errors.
func parseSize(flag, s string) (int64, error) {
	v := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<62 {
		return 0, usagef("--%s %q: want a size in bytes, like 16MiB or 8388608", flag, s)
	}
	n := int64(f * float64(mult))
	if float64(n) != f*float64(mult) {
		return 0, usagef("--%s %q: not a whole number of bytes", flag, s)
	}
	return n, nil
}
