package oci

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Defaults of a Client's options, in one place: the command-line flags take them too.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultAttempts  = 6
	DefaultRetryTime = 2 * time.Minute
)

// ErrOption is wrapped when an option's value is out of its range.
var ErrOption = errors.New("bad option")

// Option configures a Client.
type Option func(*options) error

type options struct {
	chunkSize  int64
	host, user string
	password   string
	caFile     string
	skipVerify bool
	plainHTTP  bool
	userAgent  string
	transport  http.RoundTripper
	timeout    time.Duration
	retryTime  time.Duration
	attempts   int
	local      Local
	mirrors    map[string]Mirror // by the registry mirrored
}

// Local is content a client may read instead of asking a registry, by digest: an earlier
// bundle (archive.Bundle), for bundle create --since. Safe for concurrent use.
type Local interface {
	// ByDigest returns a reader of the content with this digest, verified as it streams, and
	// its media type as recorded; false when it does not have it. The caller closes it.
	ByDigest(digest string) (rc io.ReadCloser, mediaType string, ok bool)
}

// WithLocal reads manifests and blobs named by digest from l before any registry: content is
// the same wherever it is found, so a rerun against an earlier bundle asks the registries only
// for tags and for what the bundle does not have. Default: none.
func WithLocal(l Local) Option {
	return func(o *options) error {
		o.local = l
		return nil
	}
}

// WithCredentials authenticates to registry host (host[:port]) with a username and password.
// Other registries, and this one without it, use the Docker config and its credential helpers.
func WithCredentials(host, username, password string) Option {
	return func(o *options) error {
		if host == "" || username == "" {
			return errors.New("credentials need a registry host and a username")
		}
		o.host, o.user, o.password = host, username, password
		return nil
	}
}

// WithChunkSize makes uploads of blobs larger than size go in chunks of size bytes (PATCH with
// Content-Range) from the start, for a registry behind a proxy that limits request bodies.
// Default 0: one request per blob, and chunks only after the registry answers 413.
func WithChunkSize(size int64) Option {
	return func(o *options) error {
		if size != 0 && size < minChunk {
			return fmt.Errorf("%w: chunk size must be at least %d bytes, got %d", ErrOption, minChunk, size)
		}
		o.chunkSize = size
		return nil
	}
}

// WithCAFile adds the PEM certificates in path to the system roots. Default: system roots only.
func WithCAFile(path string) Option {
	return func(o *options) error { o.caFile = path; return nil }
}

// WithInsecureSkipTLSVerify disables TLS certificate checks. Default false.
func WithInsecureSkipTLSVerify(skip bool) Option {
	return func(o *options) error { o.skipVerify = skip; return nil }
}

// WithPlainHTTP allows plain HTTP to any registry. Default false: only loopback registries
// (127.0.0.0/8, ::1, localhost) may be reached over plain HTTP, as Docker does.
func WithPlainHTTP(plain bool) Option {
	return func(o *options) error { o.plainHTTP = plain; return nil }
}

// WithUserAgent sets the User-Agent. Default "ess-airgap".
func WithUserAgent(ua string) Option {
	return func(o *options) error { o.userAgent = ua; return nil }
}

// WithTransport replaces the base HTTP transport (tests); CA and TLS options then do not apply.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error { o.transport = rt; return nil }
}

// WithTimeout bounds connecting and how long a connection may stall. Default DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: timeout must be positive, got %s", ErrOption, d)
		}
		o.timeout = d
		return nil
	}
}

// WithRetry bounds retries of a request that failed for a reason that may pass: at most
// attempts tries, within total time. Default 6 attempts within 2 minutes (DefaultAttempts, DefaultRetryTime).
func WithRetry(attempts int, total time.Duration) Option {
	return func(o *options) error {
		if attempts < 1 || total <= 0 {
			return fmt.Errorf("%w: retries: need at least one attempt and a positive time, got %d, %s", ErrOption, attempts, total)
		}
		o.attempts, o.retryTime = attempts, total
		return nil
	}
}
