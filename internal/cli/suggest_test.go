package cli

import (
	"flag"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"registry", "registry", 0}, {"registy", "registry", 1},
		{"regsitry", "registry", 2}, {"kitten", "sitting", 3}, {"json", "jsno", 2}, {"abc", "xyz", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestDidYouMeanMessage: only an unknown flag gets a suggestion, and only a flag of the
// command close to it (or that it begins) by a name of two letters or more; a value after '='
// is not part of the name.
func TestDidYouMeanMessage(t *testing.T) {
	cmd := &cli.Command{Name: "push", Flags: []cli.Flag{
		&cli.StringFlag{Name: "registry"}, &cli.StringFlag{Name: "output", Aliases: []string{"o"}}, &cli.BoolFlag{Name: "json"},
	}}
	c := cli.NewContext(&cli.App{}, flag.NewFlagSet("push", flag.ContinueOnError), nil)
	c.Command = cmd
	for msg, want := range map[string]string{
		"flag provided but not defined: -registy":             "flag provided but not defined: -registy (did you mean --registry?)",
		"flag provided but not defined: -registy=reg:5000":    "flag provided but not defined: -registy=reg:5000 (did you mean --registry?)",
		"flag provided but not defined: -outp":                "flag provided but not defined: -outp (did you mean --output?)",
		"flag provided but not defined: -jsn":                 "flag provided but not defined: -jsn (did you mean --json?)",
		"flag provided but not defined: -p":                   "flag provided but not defined: -p",
		"flag provided but not defined: -completelydifferent": "flag provided but not defined: -completelydifferent",
		"invalid value \"x\" for flag -jobs":                  "invalid value \"x\" for flag -jobs",
	} {
		if got := didYouMean(c, msg); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", msg, got, want)
		}
	}
	if got := didYouMean(nil, "flag provided but not defined: -x"); got != "flag provided but not defined: -x" {
		t.Errorf("without a context: %q", got)
	}
}
