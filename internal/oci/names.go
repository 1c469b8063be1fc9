package oci

import "github.com/google/go-containerregistry/pkg/name"

// pullReference parses "host/path:tag" or "host/path@digest" strictly (no Docker Hub
// defaults), for a pull: a host with a mirror (WithMirror) is replaced by the mirror's location
// and prefix, and the mirror is returned too (nil: none).
func (c *Client) pullReference(s string) (name.Reference, *Mirror, error) {
	at, m := c.via(s)
	r, err := name.ParseReference(at, c.nameOptions()...)
	return r, m, err
}

// repository parses "host/path" for a pull, through its mirror if it has one (nil: none).
func (c *Client) repository(s string) (name.Repository, *Mirror, error) {
	at, m := c.via(s)
	r, err := name.NewRepository(at, c.nameOptions()...)
	return r, m, err
}

// nameOptions: strict names, and plain HTTP allowed when --plain-http.
func (c *Client) nameOptions() []name.Option {
	if c.o.plainHTTP {
		return []name.Option{name.StrictValidation, name.Insecure}
	}
	return []name.Option{name.StrictValidation}
}
