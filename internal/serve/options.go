package serve

import (
	"fmt"
	"io"
	"log"
	"strings"
	"time"
)

// Option configures New.
type Option func(*options) error

type options struct {
	prefix string
	log    *log.Logger
	users  *htpasswd        // nil: no authentication
	now    func() time.Time // the clock of failed logins (tests)
}

// WithPathPrefix serves every repository under prefix ("ess": ess/library/haproxy), as
// unbundle push --path-prefix places them. Default: none.
func WithPathPrefix(prefix string) Option {
	return func(o *options) error {
		p := strings.Trim(prefix, "/")
		if p != strings.ToLower(p) || strings.Contains(p, "..") || strings.Contains(p, "//") {
			return fmt.Errorf("path prefix %q: repository paths are lowercase, without '..'", prefix)
		}
		o.prefix = p
		return nil
	}
}

// WithLog sends what the registry logs (a blob that failed verification, a tag that a later
// bundle changed, errors) to l. Default: nowhere.
func WithLog(l *log.Logger) Option {
	return func(o *options) error {
		o.log = l
		return nil
	}
}

// WithHtpasswd requires HTTP basic authentication by a user of an htpasswd file's content
// (bcrypt entries only, as Distribution reads them: htpasswd -B). An unknown user costs the
// same bcrypt comparison as a known one; failed logins are limited per client address
// (failures.go). Default: no authentication.
func WithHtpasswd(name string, content []byte) Option {
	return func(o *options) error {
		users, err := parseHtpasswd(name, content)
		o.users = users
		return err
	}
}

func newOptions(opts []Option) (options, error) {
	o := options{log: log.New(io.Discard, "", 0), now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}
