package oci

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var (
	// ErrUnauthorized is wrapped when a registry refuses the credentials (401) or the action (403).
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrUnknownCA is wrapped when a registry's certificate is signed by an authority we do not trust.
	ErrUnknownCA = errors.New("certificate signed by an unknown authority (give the CA with --ca-file)")
	// ErrNotFound is wrapped when a manifest or blob does not exist.
	ErrNotFound = errors.New("not found")
)

// describe turns transport errors into ones that say what to do about them.
func describe(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w (HTTP %d): %v", ErrUnauthorized, terr.StatusCode, err)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		}
	}
	var uerr x509.UnknownAuthorityError
	if errors.As(err, &uerr) {
		return fmt.Errorf("%w: %v", ErrUnknownCA, err)
	}
	return err
}

// statusError describes an unexpected HTTP response of our own requests.
func statusError(resp *http.Response, what string) error {
	err := transport.CheckError(resp, resp.StatusCode+1000) // never "expected": always an error
	return describe(fmt.Errorf("%s: %w", what, err))
}
