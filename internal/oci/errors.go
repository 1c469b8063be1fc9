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
	"unicode/utf8"

	"github.com/element-hq/ess-airgap/internal/manifest"
)

var (
	// ErrUnauthorized is wrapped when a registry refuses the credentials (401) or the action (403).
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrUnknownCA is wrapped when a registry's certificate is signed by an authority we do not
	// trust (WithCAFile adds one).
	ErrUnknownCA = errors.New("certificate signed by an unknown authority")
	// ErrNotFound is wrapped when a manifest, blob or repository does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge is wrapped when a registry, or a proxy in front of it, refuses a request body
	// as too large (413).
	ErrTooLarge = errors.New("request body too large")
	// ErrMediaType is wrapped when a registry refuses a manifest's media type.
	ErrMediaType = errors.New("media type refused")
	// ErrSpeaksHTTP is wrapped when a registry reached over HTTPS answers in plain HTTP
	// (WithPlainHTTP allows plain HTTP to it).
	ErrSpeaksHTTP = errors.New("the registry answers in plain HTTP, not HTTPS")
	// ErrNoCredentials is wrapped when a registry asks for credentials and none were given for
	// it (WithCredentials) or found in the Docker config. It matches ErrUnauthorized too.
	ErrNoCredentials error = &alsoIs{msg: "needs credentials, and none were found for it", is: ErrUnauthorized}
	// ErrCAFile is wrapped when the file of WithCAFile cannot be read or holds no certificate.
	ErrCAFile = errors.New("unusable CA file")
	// ErrRealm is wrapped when a registry names a token service this client will not ask
	// (on a link-local address).
	ErrRealm = errors.New("token realm refused")
)

// alsoIs is a sentinel that matches another one too.
type alsoIs struct {
	msg string
	is  error
}

func (e *alsoIs) Error() string        { return e.msg }
func (e *alsoIs) Is(target error) bool { return target == e.is }

// StatusError is a registry's unexpected answer to one of our requests. Its message names
// what was asked, the HTTP status and the registry's own error code and message when it gave
// them as JSON; never an HTML page or a URL with its query.
type StatusError struct {
	What    string // what was asked: "upload blob sha256:... to ess/synapse"
	Code    int    // HTTP status
	Reg     string // the registry's first error code (MANIFEST_INVALID, NAME_UNKNOWN, DENIED...), if any
	Message string // the registry's first error message, if any
}

func (e *StatusError) Error() string { return e.What + ": " + e.cause() }

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

// statusError reads a registry's unexpected answer into a StatusError: the registry's own
// words, from its JSON error body or else the first line of a text body; it closes nothing.
func statusError(resp *http.Response, what string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &StatusError{What: what, Code: resp.StatusCode}
	e.Reg, e.Message = registryError(body)
	if e.Reg == "" && e.Message == "" {
		e.Message = bodyLine(body)
	}
	return e
}

// bodyLine is the first line of a text body, for a registry (or a proxy) that answers an
// error in words rather than JSON; "" for an HTML page (a proxy's error page says no more than
// its status), JSON, or anything not printable.
func bodyLine(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || strings.HasPrefix(s, "<") || strings.HasPrefix(s, "{") || !utf8.ValidString(s) ||
		strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\n' && r != '\r' && r != '\t' }) {
		return ""
	}
	return oneLine(s)
}

// registryError returns the first code and message of a registry's JSON error body
// ({"errors":[{"code","message","detail"}]}, or a token service's {"details"}), else "", "".
// A generic message ("unknown error", as Distribution answers a storage failure) gets the
// detail when it is text: "unknown error: ... no space left on device".
func registryError(body []byte) (code, message string) {
	var r struct {
		Errors []struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"errors"`
		Details string `json:"details"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &r) != nil {
		return "", ""
	}
	if len(r.Errors) > 0 {
		msg := r.Errors[0].Message
		var detail string
		if json.Unmarshal(r.Errors[0].Detail, &detail) == nil && detail != "" && !strings.Contains(msg, detail) {
			msg = strings.TrimSuffix(msg, ".") + ": " + detail
		}
		return r.Errors[0].Code, oneLine(msg)
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

// oneLine keeps the first line of s, at most about 300 characters: a longer one keeps its
// start and its end, where an error's last words are ("...: no space left on device").
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		head, tail := s[:120], s[len(s)-170:]
		for !utf8.ValidString(head) {
			head = head[:len(head)-1]
		}
		for !utf8.ValidString(tail) {
			tail = tail[1:]
		}
		s = head + " ... " + tail
	}
	return s
}

// Cause is what an error of a transfer comes down to, without the image, blob or URL it
// concerns, so that the failures of many images that share a cause are told once: "HTTP 500
// Internal Server Error (UNKNOWN: unknown error: ... no space left on device)", "dial tcp
// 10.1.2.3:5000: connect: connection refused", "registry refused the credentials (HTTP 401)".
func Cause(err error) string {
	if err == nil {
		return ""
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.cause()
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Err != nil {
		what := oerr.Op + " " + oerr.Net
		if oerr.Addr != nil {
			what += " " + oerr.Addr.String()
		}
		return what + ": " + oerr.Err.Error()
	}
	var derr *net.DNSError
	if errors.As(err, &derr) {
		return derr.Error()
	}
	for _, sentinel := range []error{ErrUnknownCA, ErrPlainHTTP, ErrSpeaksHTTP, ErrNotFound, ErrTooLarge, ErrMediaType} {
		if errors.Is(err, sentinel) {
			return sentinel.Error()
		}
	}
	// Down the chain while each error only puts what it concerns before the one it wraps
	// ("push a (ref): blob X: <inner>"); stop at one that adds to what it wraps ("<sentinel>:
	// the image is linux/amd64 only"): that is the cause, with its words.
	for {
		next := errors.Unwrap(err)
		if next == nil || !strings.HasSuffix(err.Error(), next.Error()) {
			return err.Error()
		}
		err = next
	}
}

// Transient reports whether an error of this package may pass on another try: a transient
// status, or a connection that failed or broke. Refused credentials, missing repositories,
// refused media types, proxies' limits, manifests over our own cap and unknown CAs are not.
func Transient(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Transient()
	}
	return !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnknownCA) &&
		!errors.Is(err, ErrPlainHTTP) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMediaType) && !errors.Is(err, ErrSpeaksHTTP) &&
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
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Op == "dial" {
		return false
	}
	return Transient(err)
}

// describe turns a failed request's error into one that says what to do about it: a
// certificate of an unknown authority (ErrUnknownCA), an HTTPS request answered in plain HTTP
// (ErrSpeaksHTTP).
func describe(err error) error {
	var uerr x509.UnknownAuthorityError
	if errors.As(err, &uerr) {
		return fmt.Errorf("%w: %v", ErrUnknownCA, err)
	}
	if err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%w: %v", ErrSpeaksHTTP, err)
	}
	return err
}
