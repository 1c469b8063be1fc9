package e2e

import (
	"net/http"
	"testing"

	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// session opens a push session to the registry at host through internal/oci, the one way to a
// registry: tr carries the requests (nil: oci's own, for a plain HTTP server on loopback), and
// username, if not "", authenticates.
func session(t *testing.T, host string, tr http.RoundTripper, username, password string) *oci.Session {
	t.Helper()
	var opts []oci.Option
	if tr != nil {
		opts = append(opts, oci.WithTransport(tr))
	}
	if username != "" {
		opts = append(opts, oci.WithCredentials(host, username, password))
	}
	c, err := oci.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.PushSession(t.Context(), host)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sessionOf opens a push session to reg, with its transport and credentials.
func sessionOf(t *testing.T, reg *testregistry.Registry) *oci.Session {
	t.Helper()
	return session(t, reg.Host, reg.Transport(), reg.Username, reg.Password)
}
