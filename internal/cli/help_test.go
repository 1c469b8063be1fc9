package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestHelp: the help of every command matches its golden file (go test -update rewrites them),
// and documents the exit codes.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"bundle", "--help"}, {"bundle", "create", "--help"}, {"bundle", "verify", "--help"},
		{"bundle", "sign", "--help"}, {"unbundle", "--help"}, {"unbundle", "push", "--help"},
		{"unbundle", "secret", "--help"}, {"unbundle", "repair", "--help"}, {"unbundle", "serve", "--help"},
	} {
		name := strings.Join(args[:len(args)-1], "-")
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(context.Background(), args[0], args, nil, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), "EXIT CODES") {
				t.Errorf("no exit codes in the help")
			}
			path := filepath.Join("testdata", name+".help.golden")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(path, out.Bytes(), 0o644)
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if out.String() != string(want) {
				t.Fatalf("help differs from %s (run with -update if intended):\n%s", path, out.String())
			}
		})
	}
}
