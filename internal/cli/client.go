package cli

import (
	"fmt"
	"os"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
)

// registryFlags are the flags of every command that talks to a registry; jobs is the default
// of --jobs (docs/performance.md says how each was chosen).
func registryFlags(jobs int) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "jobs", Value: jobs, Usage: "concurrent blob transfers"},
		&cli.StringFlag{Name: "username", Usage: "registry username (the password comes from --password-stdin or $REGISTRY_PASSWORD; default: Docker config and credential helpers)"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the registry password from standard input"},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM file of CA certificates to trust besides the system roots"},
		&cli.BoolFlag{Name: "plain-http", Usage: "allow plain HTTP to a registry that is not on loopback"},
		&cli.BoolFlag{Name: "insecure-skip-tls-verify", Usage: "do not verify registry TLS certificates"},
		&cli.DurationFlag{Name: "timeout", Value: oci.DefaultTimeout, Usage: "connect timeout, and how long a connection may stall before it is dropped and retried (after an upload is sent, the registry gets one more second per 20 MiB to answer); a transfer that stalls 4 times is given up"},
		&cli.IntFlag{Name: "retries", Value: oci.DefaultAttempts, Usage: "attempts per request that failed for a reason that may pass (dropped connection, 408, 429, 5xx)"},
		&cli.DurationFlag{Name: "retry-time", Value: oci.DefaultRetryTime, Usage: "the most time spent retrying one request (Retry-After is honoured within it)"},
	}
}

// newClient builds a registry client from the flags; credentials given on the command line
// apply to authHost (or, when authHost is mirrored, to its mirror's location).
func newClient(c *cli.Context, e *env, authHost string, extra ...oci.Option) (*oci.Client, error) {
	if c.Int("jobs") < 1 { // the operation's option (mirror's), checked once here for every command
		return nil, usagef("--jobs must be at least 1, got %d", c.Int("jobs"))
	}
	opts := append([]oci.Option{oci.WithCAFile(c.String("ca-file")),
		oci.WithPlainHTTP(c.Bool("plain-http")), oci.WithInsecureSkipTLSVerify(c.Bool("insecure-skip-tls-verify")),
		oci.WithTimeout(c.Duration("timeout")), oci.WithUserAgent(c.App.Name + "/" + version.Get().Version),
		oci.WithRetry(c.Int("retries"), c.Duration("retry-time"))}, extra...)
	ms, err := mirrors(c)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		opts = append(opts, oci.WithMirror(m))
		if h, _ := imageref.Normalize(authHost, ""); authHost != "" && h == m.Registry {
			authHost = m.Location // the requests go there, with these credentials
		}
	}
	if c.IsSet("chunk-size") {
		size, err := parseSize(c.String("chunk-size"))
		if err != nil {
			return nil, usagef("--chunk-size: %v", err)
		}
		opts = append(opts, oci.WithChunkSize(size))
	}
	if user := c.String("username"); user != "" {
		pw, err := password(c, e)
		if err != nil {
			return nil, err
		}
		if authHost == "" {
			return nil, usagef("--username: say which registry it is for")
		}
		opts = append(opts, oci.WithCredentials(authHost, user, pw))
	} else if c.Bool("password-stdin") {
		return nil, usagef("--password-stdin needs --username")
	}
	client, err := oci.New(opts...) // it checks the values, once
	if err != nil {
		if oerr := optionError(err); oerr != nil {
			return nil, oerr
		}
		return nil, err
	}
	return client, nil
}

// password reads the password from stdin (--password-stdin: at a terminal, prompted for
// without echo) or $REGISTRY_PASSWORD.
func password(c *cli.Context, e *env) (string, error) {
	if c.Bool("password-stdin") {
		pw, err := readPassword(c.Context, e)
		if err != nil {
			return "", fmt.Errorf("--password-stdin: %w", err)
		}
		if pw != "" {
			return pw, nil
		}
		return "", usagef("--password-stdin: standard input is empty")
	}
	if pw := os.Getenv("REGISTRY_PASSWORD"); pw != "" {
		return pw, nil
	}
	return "", usagef("--username needs a password: --password-stdin or $REGISTRY_PASSWORD")
}
