package oci

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestCAFile: the CA file's certificates are trusted beside the system roots; a file that is
// missing, or holds no PEM certificate, stops New with ErrCAFile naming it; a registry whose CA
// is not given is ErrUnknownCA. No message names a flag: the command line does.
func TestCAFile(t *testing.T) {
	reg := testregistry.StartT(t, testregistry.WithTLS())
	if _, err := must(New(WithCAFile(reg.CAFile))).ReadSession(t.Context(), reg.Host); err != nil {
		t.Fatalf("with the registry's CA: %v", err)
	}
	_, err := must(New()).ReadSession(t.Context(), reg.Host)
	if !errors.Is(err, ErrUnknownCA) || !strings.Contains(err.Error(), reg.Host) || Transient(err) {
		t.Fatalf("without its CA: err = %v, want ErrUnknownCA naming %s, not transient", err, reg.Host)
	}
	missing := filepath.Join(t.TempDir(), "ca.pem")
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, also := range map[string]error{missing: fs.ErrNotExist, notPEM: ErrCAFile} {
		_, err := New(WithCAFile(path))
		if !errors.Is(err, ErrCAFile) || !errors.Is(err, also) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "--") {
			t.Errorf("%s: err = %v, want ErrCAFile naming the file", path, err)
		}
	}
}

// TestNoCredentials: a registry that asks for credentials when none were given or found says
// so (ErrNoCredentials, which is ErrUnauthorized too), apart from one that refuses the
// credentials given.
func TestNoCredentials(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no docker login here
	reg := testregistry.StartT(t, testregistry.WithAuth("u", "pw"))
	_, err := must(New()).ReadSession(t.Context(), reg.Host)
	if !errors.Is(err, ErrNoCredentials) || !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), reg.Host) || strings.Contains(err.Error(), "--") {
		t.Fatalf("no credentials: err = %v, want ErrNoCredentials naming %s", err, reg.Host)
	}
	_, err = must(New(WithCredentials(reg.Host, "u", "wrong"))).ReadSession(t.Context(), reg.Host)
	if !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), `"u"`) {
		t.Fatalf("refused credentials: err = %v, want ErrUnauthorized naming the user", err)
	}
}
