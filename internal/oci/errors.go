package oci

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var (
	// ErrUnauthorized is wrapped when a registry refuses the credentials (401) or the action (403).
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrUnknownCA is wrapped when a registry's certificate is signed by an authority we do not trust.
	ErrUnknownCA = errors.New("certificate signed by an unknown authority (give the CA with --ca-file)")
	// ErrNotFound is wrapped when a manifest, blob or repository does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge is wrapped when a registry, or a proxy in front of it, refuses a request body
	// as too large (413).
	ErrTooLarge = errors.New("request body too large")
	// ErrMediaType is wrapped when a registry refuses a manifest's media type.
	ErrMediaType = errors.New("media type refused")
	// ErrRealm is wrapped when a registry names a token service this client will not ask
	// (on a link-local address).
	ErrRealm = errors.New("token realm refused")
)

// StatusError is a registry's unexpected answer to one of our requests. Its message names
// what was asked, the HTTP status and the registry's own error code and message when it gave
// them as JSON; never an HTML page or a URL with its query.
type StatusError struct {
	What    string // what was asked: "upload blob sha256:... to ess/synapse"
	Code    int    // HTTP status
	Reg     string // the registry's first error code (MANIFEST_INVALID, NAME_UNKNOWN, DENIED...), if any
	Message string // the registry's first error message, if any
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d %s", e.What, e.Code, http.StatusText(e.Code))
	switch {
	case e.Reg != "" && e.Message != "":
		msg += fmt.Sprintf(" (%s: %s)", e.Reg, e.Message)
	case e.Reg != "" || e.Message != "":
		msg += fmt.Sprintf(" (%s%s)", e.Reg, e.Message)
	}
	return msg
}

// Unwrap gives the sentinel the status stands for.
func (e *StatusError) Unwrap() error {
	switch {
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
		return ErrUnauthorized
	case e.Code == http.StatusNotFound:
		return ErrNotFound
	case e.Code == http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case e.Code == http.StatusUnsupportedMediaType || (e.Code == http.StatusBadRequest && e.Reg == "MANIFEST_INVALID"):
		return ErrMediaType
	}
	return nil
}

// Transient reports whether another try may get another answer: 408, 429, 5xx.
func (e *StatusError) Transient() bool { return TransientStatus(e.Code) }

// statusError reads a registry's unexpected answer into a StatusError; it closes nothing.
func statusError(resp *http.Response, what string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &StatusError{What: what, Code: resp.StatusCode}
	e.Reg, e.Message = registryError(body)
	return e
}

// registryError returns the first code and message of a registry's JSON error body
// ({"errors":[{"code","message"}]}, or a token service's {"details"}), else "", "".
func registryError(body []byte) (code, message string) {
	var r struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Details string `json:"details"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &r) != nil {
		return "", ""
	}
	if len(r.Errors) > 0 {
		return r.Errors[0].Code, oneLine(r.Errors[0].Message)
	}
	if r.Details != "" {
		return "", oneLine(r.Details)
	}
	return "", oneLine(r.Message)
}

// registryMessage is registryError's code and message in one string.
func registryMessage(body []byte) string {
	code, msg := registryError(body)
	if code != "" && msg != "" {
		return code + ": " + msg
	}
	return code + msg
}

// oneLine keeps the first line of s, at most 200 characters.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Transient reports whether an error of this package may pass on another try: a transient
// status, or a connection that failed or broke. Refused credentials, missing repositories,
// refused media types, proxies' limits, manifests over our own cap and unknown CAs are not.
func Transient(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Transient()
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return TransientStatus(terr.StatusCode)
	}
	return !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnknownCA) &&
		!errors.Is(err, ErrPlainHTTP) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMediaType) &&
		!errors.Is(err, manifest.ErrTooLarge) && !errors.Is(err, ErrRealm)
}

// Broken reports whether err is a transfer that broke on the way (a connection reset or cut, a
// stall, a body cut short) or a transient answer to a request whose body the transport could
// not replay: what a new transfer may pass. Answers the transport has retried already,
// refused connections (retried too), refused credentials and the other permanent refusals are
// not.
func Broken(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Transient()
	}
	var terr *transport.Error
	var oerr *net.OpError
	if errors.As(err, &terr) || (errors.As(err, &oerr) && oerr.Op == "dial") {
		return false
	}
	return Transient(err)
}

// describe turns go-containerregistry's errors into ones that say what to do about them. An
// answer that is not a registry's JSON error is named by its status, not quoted: it may be an
// HTML page, or 64 KiB of anything.
func describe(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if len(terr.Errors) == 0 {
			msg := fmt.Sprintf("HTTP %d %s", terr.StatusCode, http.StatusText(terr.StatusCode))
			if r := terr.Request; r != nil && r.URL != nil {
				msg = fmt.Sprintf("%s %s://%s%s: %s", r.Method, r.URL.Scheme, r.URL.Host, r.URL.Path, msg)
			}
			err = &unquoted{msg: msg, err: err}
		}
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

// unquoted is an error with its own message instead of its cause's.
type unquoted struct {
	msg string
	err error
}

func (u *unquoted) Error() string { return u.msg }
func (u *unquoted) Unwrap() error { return u.err }
