package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Media whose size --split-size knows by name. fat32: its largest file, 4 GiB less one byte;
// dvd and bd: the nominal capacity of a single-layer DVD (4.7 GB) and Blu-ray (25 GB), which
// leaves a few MB for the file system and the checksum file.
var mediaSizes = map[string]int64{
	"fat32": 4<<30 - 1,
	"dvd":   4_700_000_000,
	"bd":    25_000_000_000,
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40,
}

// parseSize reads a size in bytes: a number with an optional unit (k, M, G, T and kB, MB, GB, TB
// are powers of 1000; KiB, MiB, GiB, TiB powers of 1024), or a medium's name (fat32, dvd, bd).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if n, ok := mediaSizes[t]; ok {
		return n, nil
	}
	num := strings.TrimRight(t, "abcdefghijklmnopqrstuvwxyz ")
	unit, ok := sizeUnits[strings.TrimSpace(t[len(num):])]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit (bytes, or kB MB GB TB, KiB MiB GiB TiB, or fat32, dvd, bd)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f*unit >= 1<<62 {
		return 0, fmt.Errorf("size %q: not a positive number of bytes", s)
	}
	n := int64(f * unit)
	if float64(n) != f*unit {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	return n, nil
}
