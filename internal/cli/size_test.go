package cli

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"fat32": 4294967295, "DVD": 4700000000, "bd": 25000000000, "1000": 1000, "4.7GB": 4700000000,
		"4.7 GB": 4700000000, "2GiB": 2 << 30, "512MiB": 512 << 20, "100k": 100000, "1.5KiB": 1536, "3b": 3,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "1.5", "10 parsecs", "GB", "1e30", "fat"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
