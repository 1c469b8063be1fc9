package testregistry

import "github.com/google/go-containerregistry/pkg/v1/remote"

// RemoteOptions returns remote.WithTransport(Transport()) and remote.WithAuth(Authenticator()),
// for tests that seed a registry with go-containerregistry's remote: internal/oci's own (the
// one package allowed to import remote) and, until they move to oci.Session, two of
// internal/mirror's. Everything else reaches a registry through internal/oci.
func (r *Registry) RemoteOptions() []remote.Option {
	return []remote.Option{remote.WithTransport(r.Transport()), remote.WithAuth(r.Authenticator())}
}
