package testregistry_test

import (
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// remoteOptions are go-containerregistry's remote options that reach r: these tests check the
// registry against ggcr's client (crane's), an interoperability check like e2e's crane runs.
// Nothing but tests here and internal/oci's imports remote.
func remoteOptions(r *testregistry.Registry) []remote.Option {
	return []remote.Option{remote.WithTransport(r.Transport()), remote.WithAuth(r.Authenticator())}
}
