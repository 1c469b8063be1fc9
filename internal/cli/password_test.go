package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestReadPassword: from a pipe, the first line is the password, without its line end; the
// input may end without one.
func TestReadPassword(t *testing.T) {
	for in, want := range map[string]string{
		"s3cret\n":          "s3cret",
		"s3cret\r\n":        "s3cret",
		"s3cret":            "s3cret",
		"first\nsecond\n":   "first",
		"":                  "",
		"  spaced out  \n":  "  spaced out  ",
		"p@ss:w0rd=\"'\\\n": "p@ss:w0rd=\"'\\",
	} {
		got, err := readPassword(context.Background(), &env{stdin: strings.NewReader(in)})
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestReadPasswordCancelled: Ctrl-C while standard input gives nothing ends the wait at once.
func TestReadPasswordCancelled(t *testing.T) {
	r, w := io.Pipe() // never written
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := readPassword(ctx, &env{stdin: r})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// TestSecret: unbundle secret writes the dockerconfigjson Secret for the registry, the
// password from standard input or $REGISTRY_PASSWORD, never in a message; what is missing
// is a usage error naming the flag and what to give.
func TestSecret(t *testing.T) {
	const pw = "Tr0ub4dor&3-not-in-any-log"
	t.Setenv("REGISTRY_PASSWORD", "")
	r := runMain("unbundle", pw+"\n", "secret", "--registry", "registry.local:5000/ess", "--username", "ess", "--password-stdin", "--namespace", "ns1")
	if r.code != ExitOK || strings.Contains(r.stderr, pw) || strings.Contains(r.stdout, pw) {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var s struct {
		Kind     string
		Type     string
		Metadata struct{ Name, Namespace string }
		Data     map[string]string
	}
	if err := yaml.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	cfg, err := base64.StdEncoding.DecodeString(s.Data[".dockerconfigjson"])
	if err != nil || s.Kind != "Secret" || s.Type != "kubernetes.io/dockerconfigjson" || s.Metadata.Name != "local-registry" || s.Metadata.Namespace != "ns1" {
		t.Fatalf("secret %+v, %v", s, err)
	}
	if !strings.Contains(string(cfg), `"registry.local:5000"`) || strings.Contains(string(cfg), "/ess") || !strings.Contains(string(cfg), `"password":"`+strings.ReplaceAll(pw, "&", `\u0026`)+`"`) {
		t.Errorf(".dockerconfigjson %s", cfg)
	}

	out := filepath.Join(t.TempDir(), "secret.yaml")
	t.Setenv("REGISTRY_PASSWORD", pw)
	r = runMain("unbundle", "", "secret", "--registry", "registry.local", "--username", "ess", "-o", out)
	if st, err := os.Stat(out); r.code != ExitOK || err != nil || st.Mode().Perm() != 0o600 || r.stdout != "" {
		t.Fatalf("to a file: exit %d, %v, %v\n%s", r.code, st, err, r.stderr)
	}

	t.Setenv("REGISTRY_PASSWORD", "")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		says  string
	}{
		{"no --registry", "", []string{"--username", "u", "--password-stdin"}, "--registry is required"},
		{"no --username", pw, []string{"--registry", "r", "--password-stdin"}, "--username is required"},
		{"no password", "", []string{"--registry", "r", "--username", "u"}, "--password-stdin or $REGISTRY_PASSWORD"},
		{"an empty standard input", "", []string{"--registry", "r", "--username", "u", "--password-stdin"}, "--password-stdin: standard input is empty"},
		{"an argument", pw, []string{"--registry", "r", "--username", "u", "--password-stdin", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runMain("unbundle", tc.stdin, append([]string{"secret"}, tc.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.says) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, tc.says)
			}
			if strings.Contains(r.stderr, pw) {
				t.Errorf("the password in a message: %q", r.stderr)
			}
		})
	}
	r = runMain("unbundle", pw+"\n", "secret", "--registry", "not a host", "--username", "u", "--password-stdin")
	if r.code == ExitOK || strings.Contains(r.stderr, pw) || !strings.Contains(r.stderr, "not a host") {
		t.Errorf("a bad server: exit %d, %q", r.code, r.stderr)
	}
}
