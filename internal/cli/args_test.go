package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func TestHoistFlags(t *testing.T) {
	app := unbundleApp(&env{})
	bundle := bundleApp(&env{})
	for _, tc := range []struct {
		in, want string
	}{
		{"unbundle push ess.tar.zst --registry reg:5000 --jobs 4", "unbundle push --registry reg:5000 --jobs 4 ess.tar.zst"},
		{"unbundle push --registry=reg:5000 ess.tar.zst --password-stdin --username u", "unbundle push --registry=reg:5000 --password-stdin --username u ess.tar.zst"},
		{"unbundle verify ess.tar.zst.001 ess.tar.zst.002 --public-key k.pub", "unbundle verify --public-key k.pub ess.tar.zst.001 ess.tar.zst.002"},
		{"unbundle push --registry r -- -weird.tar.zst --jobs", "unbundle push --registry r -- -weird.tar.zst --jobs"},
		{"unbundle nosuch a --b", "unbundle nosuch a --b"},
		{"unbundle --version", "unbundle --version"},
	} {
		got := strings.Join(hoistFlags(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	got := hoistFlags(bundle, strings.Fields("bundle create --images l.yml -o out.tar.zst --dry-run --platform linux/amd64"))
	if !slices.Equal(got, strings.Fields("bundle create --images l.yml -o out.tar.zst --dry-run --platform linux/amd64")) {
		t.Errorf("bundle create: %q", got)
	}
	// --referrers takes a type, or none when last or before another flag.
	for in, want := range map[string]string{
		"bundle create --referrers --images l.yml":           "bundle create --referrers=all --images l.yml",
		"bundle create --images l.yml --referrers":           "bundle create --images l.yml --referrers=all",
		"bundle create --referrers text/spdx --images l.yml": "bundle create --referrers text/spdx --images l.yml",
	} {
		if got := strings.Join(hoistFlags(bundle, strings.Fields(in)), " "); got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestFlagsAfterArgument: a command reads the flags after its argument as it reads those before.
func TestFlagsAfterArgument(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), "unbundle", strings.Fields("unbundle list /nonexistent/ess.tar.zst --json"), nil, &out, &errb)
	if code == ExitUsage || strings.Contains(errb.String(), "unexpected") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "/nonexistent/ess.tar.zst") {
		t.Fatalf("the bundle argument was not read: %s", errb.String())
	}
}

// TestDidYouMean: a misspelt flag is a usage error that names the flag meant.
func TestDidYouMean(t *testing.T) {
	for args, want := range map[string]string{
		"unbundle push --registy reg:5000 ess.tar.zst": "did you mean --registry?",
		"unbundle push --configmp cm.yaml ess.tar.zst": "did you mean --configmap?",
		"bundle create --imags l.yml -o x.tar.zst":     "did you mean --images?",
		"bundle create --allow-part -o x.tar.zst":      "did you mean --allow-partial?",
		"unbundle push --zzzzzzzz ess.tar.zst":         "",
	} {
		var out, errb bytes.Buffer
		prog := strings.Fields(args)[0]
		code := Main(context.Background(), prog, strings.Fields(args), nil, &out, &errb)
		if code != ExitUsage || !strings.Contains(errb.String(), "flag provided but not defined") {
			t.Errorf("%s: exit %d: %s", args, code, errb.String())
		}
		if got := strings.Contains(errb.String(), "did you mean"); got != (want != "") || want != "" && !strings.Contains(errb.String(), want) {
			t.Errorf("%s: %s, want %q", args, errb.String(), want)
		}
	}
}

// TestChartValues: each --values belongs to the --chart before it; with one chart, to it.
func TestChartValues(t *testing.T) {
	args := strings.Fields("bundle create --values first.yaml --chart a --values a1.yaml --values=a2.yaml --chart=b -o x.tar.zst --values b1.yaml")
	got, err := chartValues(args, []string{"a", "b"}, []string{"first.yaml", "a1.yaml", "a2.yaml", "b1.yaml"})
	if err != nil || strings.Join(got[0], ",") != "first.yaml,a1.yaml,a2.yaml" || strings.Join(got[1], ",") != "b1.yaml" {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = chartValues(strings.Fields("bundle create --values v.yaml --chart a"), []string{"a"}, []string{"v.yaml"})
	if err != nil || len(got) != 1 || got[0][0] != "v.yaml" {
		t.Errorf("one chart: %v, %v", got, err)
	}
	if _, err := chartValues(strings.Fields("bundle create --chart a --chart b"), []string{"a", "b"}, []string{"v.yaml"}); err == nil {
		t.Error("values the command line does not show were paired")
	}
}
