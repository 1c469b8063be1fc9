package cli

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/serve"
	"github.com/urfave/cli/v2"
)

// serveCommand is `unbundle serve BUNDLE...`.
func serveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve bundles as a read-only registry, straight from the compressed files (for a site with no registry yet)",
		ArgsUsage: "BUNDLE [BUNDLE...]",
		Description: `Every image of the bundles is served at its path (after --path-prefix) and tag, as unbundle
   push would place it, with its referrers (signatures, SBOMs) and, for a chart bundle, the
   chart: pull them with docker, crane, skopeo or helm, or install the site's registry from
   them, then push to it. Each BUNDLE is a bundle file, its first part or its directory; give a
   full bundle and its deltas together (a delta's layers are read from the bundle carrying
   them; a tag a later bundle changes is the later bundle's). Every byte served is verified;
   a blob that does not verify is refused (HTTP 500) and named in the log on standard error.
   Writes are refused. Without --tls-cert, plain HTTP: containerd and docker then need the
   registry listed as insecure. With --htpasswd, an unknown user costs the same bcrypt work as
   a known one, and an address whose logins failed more than 3 times in a row waits (HTTP 429)
   1 s, then 2, 4, ... up to a minute before its next try is checked. A client is dropped when
   it takes longer than --timeout to send a request or to take the next part of an answer; a
   request asking for more than 8 ranges is refused (HTTP 416). Stop it with Ctrl-C or
   SIGTERM: requests in flight finish.`,
		Flags:  serveFlags(),
		Action: func(c *cli.Context) error { return runServe(c, e) },
	}
}

// serveFlags are serve's own flags.
func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: ":5000", Usage: "listen on `HOST:PORT` (port 0: any free port, printed)"},
		&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate `FILE` (PEM, the chain after the certificate)"},
		&cli.StringFlag{Name: "tls-key", Usage: "the private key `FILE` (PEM) of --tls-cert"},
		&cli.StringFlag{Name: "htpasswd", Usage: "require a user of this htpasswd `FILE` (bcrypt entries: htpasswd -B); needs --tls-cert, unless --addr is a loopback address or --plain-http-auth is given"},
		&cli.BoolFlag{Name: "plain-http-auth", Usage: "allow --htpasswd without --tls-cert: passwords then cross the network in clear"},
		&cli.DurationFlag{Name: "timeout", Value: serve.DefaultTimeout, Usage: "how long a client may take to send its request, or to take the next part of an answer (a client that stops reading is dropped after it; one that reads slowly is not), before it is dropped"},
		&cli.StringFlag{Name: "path-prefix", Usage: "serve every repository under this path, as unbundle push --path-prefix places them"},
		publicKeyFlag,
	}
}

// runServe checks the flags, opens the bundles (each verified as openBundle does), reads
// their graph (serve.New) and serves it until Ctrl-C or SIGTERM.
func runServe(c *cli.Context, e *env) error {
	args, err := bundleArgs(c)
	if err != nil {
		return err
	}
	logger := log.New(e.stderr, "unbundle serve: ", log.LstdFlags)
	opts, cert, err := serveOptions(c, logger)
	if err != nil {
		return err
	}
	bundles, names, err := openBundles(c, e, args)
	defer func() {
		for _, b := range bundles {
			b.Close()
		}
	}()
	if err != nil {
		return err
	}
	reg, err := serve.New(c.Context, bundles, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("--addr %s: %w", c.String("addr"), err)
	}
	scheme := "http"
	if cert != nil {
		scheme = "https"
	}
	fmt.Fprintf(e.stdout, "serving %s of %s on %s://%s (read-only); Ctrl-C or SIGTERM stops\n",
		reg.Summary(), strings.Join(names, ", "), scheme, ln.Addr())
	err = serve.Serve(c.Context, ln, reg, serve.ServerOptions{Cert: cert, Log: log.New(e.stderr, "unbundle serve: ", log.LstdFlags),
		Timeout: c.Duration("timeout")})
	n, sent := reg.Served()
	logger.Printf("stopped: %d requests answered, %d bytes sent", n, sent)
	return err
}

// serveOptions checks serve's flags together and reads the files they name: the registry's
// options (logger, --path-prefix, --htpasswd) and the TLS certificate (nil without --tls-cert).
func serveOptions(c *cli.Context, logger *log.Logger) ([]serve.Option, *tls.Certificate, error) {
	if c.IsSet("tls-cert") != c.IsSet("tls-key") {
		return nil, nil, usagef("serve: give --tls-cert and --tls-key together")
	}
	if c.IsSet("htpasswd") && !c.IsSet("tls-cert") && !c.Bool("plain-http-auth") && !loopbackAddr(c.String("addr")) {
		return nil, nil, usagef("serve: --htpasswd without --tls-cert would take passwords in clear over the network: give --tls-cert and --tls-key, listen on loopback (--addr 127.0.0.1:PORT), or accept it with --plain-http-auth")
	}
	if c.Duration("timeout") <= 0 {
		return nil, nil, usagef("serve: --timeout must be positive, got %s", c.Duration("timeout"))
	}
	opts := []serve.Option{serve.WithLog(logger), serve.WithPathPrefix(c.String("path-prefix"))}
	if p := c.String("htpasswd"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, usagef("--htpasswd: %v", err)
		}
		opts = append(opts, serve.WithHtpasswd(p, data))
	}
	if !c.IsSet("tls-cert") {
		return opts, nil, nil
	}
	crt, err := tls.LoadX509KeyPair(c.String("tls-cert"), c.String("tls-key"))
	if err != nil {
		return nil, nil, usagef("--tls-cert %s, --tls-key %s: %v", c.String("tls-cert"), c.String("tls-key"), err)
	}
	return opts, &crt, nil
}

// openBundles opens each bundle argument (verified, every part there), returning the bundles
// opened so far and their names; the caller closes them, whatever the error.
func openBundles(c *cli.Context, e *env, args []string) ([]*archive.Bundle, []string, error) {
	var bundles []*archive.Bundle
	var names []string
	for _, a := range args {
		b, err := openBundleOf(c, e, true, a)
		if err != nil {
			return bundles, names, err
		}
		bundles = append(bundles, b)
		names = append(names, trust.SetOf(b).Name)
	}
	return bundles, names, nil
}

// loopbackAddr reports whether a listen address (HOST:PORT) is on loopback only: what is
// sent to it does not cross a network. An empty host (every interface) is not.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && oci.IsLoopback(host)
}
