package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/sshsig"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
)

// bundleArgsUsage is the ArgsUsage of the commands that read a bundle in place.
const bundleArgsUsage = "NAME.tar.zst | NAME.tar.zst.001 | DIR | 'GLOB' ..."

// bundleArgs returns the arguments naming a bundle: its file, any of its parts, a directory, a
// glob; several for parts spread over several directories. A flag among them is refused:
// urfave/cli would ignore it.
func bundleArgs(c *cli.Context) ([]string, error) {
	if c.NArg() == 0 {
		return nil, usagef("%s: missing bundle argument", c.Command.Name)
	}
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") {
			return nil, usagef("%s: unexpected %q after the bundle argument", c.Command.Name, a)
		}
	}
	return c.Args().Slice(), nil
}

// publicKeyEnv names the allowed signers of every command that reads a bundle, so that a site
// sets it once (a .pub file or an allowed_signers file; several separated by commas).
const publicKeyEnv = "ESS_AIRGAP_PUBLIC_KEY"

// publicKeyFlag is --public-key of every command that reads a bundle.
var publicKeyFlag = &cli.StringSliceFlag{Name: "public-key", EnvVars: []string{publicKeyEnv},
	Usage: "refuse the bundle unless NAME.tar.zst.sha256.sig is a signature by a key of `FILE` (a .pub file, or an allowed_signers file; repeatable), checked before anything else is read"}

// allowedKeys reads the keys of every --public-key; none when the flag is not given.
func allowedKeys(c *cli.Context) ([]sshsig.Allowed, error) {
	var all []sshsig.Allowed
	for _, p := range c.StringSlice("public-key") {
		if strings.TrimSpace(p) == "" { // ESS_AIRGAP_PUBLIC_KEY= set empty, or "a.pub,"
			return nil, usagef("--public-key (or $%s): an empty file name: name a .pub or allowed_signers file (unset $%s to read bundles without checking a signature)",
				publicKeyEnv, publicKeyEnv)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, usagef("--public-key (or $%s): %v", publicKeyEnv, err)
		}
		keys, err := sshsig.ParseAllowed(p, data)
		if err != nil {
			return nil, usagef("--public-key (or $%s): %v", publicKeyEnv, err)
		}
		all = append(all, keys...)
	}
	return all, nil
}

// trustOf is what the command requires of a bundle's signature: --public-key's keys, if any.
func trustOf(c *cli.Context) (trust.Trust, error) {
	keys, err := allowedKeys(c)
	return trust.Trust{Keys: keys}, err
}

// findBundle is how every command finds the bundle it reads: trust.Find with the keys of
// --public-key, and what it found of the signature said on stderr.
func findBundle(c *cli.Context, e *env, args ...string) (*trust.Set, error) {
	t, err := trustOf(c)
	if err != nil {
		return nil, err
	}
	s, err := trust.Find(c.Context, t, args...)
	if err != nil {
		return nil, err
	}
	if line := trustLine(s); line != "" {
		fmt.Fprintf(e.stderr, "%s: %s\n", s.Name, line)
	}
	return s, nil
}

// trustLine says who signed the bundle, and whether that was checked against an allowed key;
// "" when it is not signed.
func trustLine(s *trust.Set) string {
	if sig := s.Signature; sig != nil {
		who := strings.Join(sig.Principals, ", ")
		if who != "" {
			who += ", "
		}
		when := "signing time not recorded"
		if !sig.Signed.IsZero() {
			when = "signed " + sig.Signed.Format(time.RFC3339)
		}
		return fmt.Sprintf("signed by %s (%sallowed by %s), %s", sig.Key, who, sig.Source, when)
	}
	if sig := s.Unchecked; sig != nil {
		return fmt.Sprintf("signed by %s, signature not checked: give --public-key FILE (or set $%s) to refuse any bundle a key you trust did not sign",
			sig.Key, publicKeyEnv)
	}
	return ""
}

// openBundle finds and opens the bundle the arguments name (see openBundleOf).
func openBundle(c *cli.Context, e *env, allMustBeThere bool) (*archive.Bundle, error) {
	args, err := bundleArgs(c)
	if err != nil {
		return nil, err
	}
	return openBundleOf(c, e, allMustBeThere, args...)
}

// openBundleOf finds the bundle the args name (findBundle: its signature first, with
// --public-key) and opens it. A bundle in parts must have every data part there, of its size,
// unless some may be missing (list: only the first and last are read); every bad part is named,
// and whether parity can rebuild it.
func openBundleOf(c *cli.Context, e *env, allMustBeThere bool, args ...string) (*archive.Bundle, error) {
	s, err := findBundle(c, e, args...)
	if err != nil {
		return nil, err
	}
	b, bad, err := s.Open(c.Context, allMustBeThere)
	printBadParts(e, bad)
	return b, err
}

// bundleOpener opens a bundle named by a flag or an argument of a command that reads other
// things too (diff, inventory, create --since), as openBundleOf does.
func bundleOpener(c *cli.Context, e *env) func(path string) (*archive.Bundle, error) {
	return func(path string) (*archive.Bundle, error) { return openBundleOf(c, e, true, path) }
}

func printBadParts(e *env, bad []parts.Status) {
	for _, b := range bad {
		fmt.Fprintf(e.stderr, "BAD %s: %s\n", b.Name, b.Problem)
	}
}

// partsSummary describes the files of a bundle for the messages of create and verify.
func partsSummary(sums *parts.Sums) string {
	if !sums.Split() {
		return "one file"
	}
	return fmt.Sprintf("%d parts of %s (%d bytes)%s", len(sums.Parts), progress.Bytes(sums.PartSize), sums.PartSize,
		map[bool]string{true: fmt.Sprintf(" and %d parity parts", len(sums.Parity)), false: ""}[len(sums.Parity) > 0])
}

// passphraseEnv holds the passphrase of an encrypted signing key.
const passphraseEnv = "SIGN_KEY_PASSPHRASE"

// loadSigner reads the signing key of --sign-key or --key: an OpenSSH ed25519 private key file
// (the passphrase of an encrypted one from $SIGN_KEY_PASSPHRASE), or the .pub of a key an
// ssh-agent holds.
func loadSigner(flag, path string) (ssh.Signer, error) {
	s, err := sshsig.LoadSigner(path, func() ([]byte, error) {
		if p := os.Getenv(passphraseEnv); p != "" {
			return []byte(p), nil
		}
		return nil, fmt.Errorf("set $%s to its passphrase, or give the .pub of a key an ssh-agent holds", passphraseEnv)
	})
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return s, nil
}

// signBundle signs the bundle at path and says so.
func signBundle(e *env, s *trust.Set, signer ssh.Signer) error {
	if err := trust.Sign(s, signer, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "signed %s with %s: %s.sig; check it with: ssh-keygen -Y verify -f allowed_signers -I SIGNER -n %s -s %s.sig < %s\n",
		s.SumsPath, sshsig.ID(signer.PublicKey()), s.SumsPath, trust.SignatureNamespace, s.Name+".sha256", s.Name+".sha256")
	return nil
}

// signCommand is `bundle sign --key FILE NAME.tar.zst`.
func signCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign a bundle: verify it, then write NAME.tar.zst.sha256.sig, an OpenSSH signature of its checksum file",
		ArgsUsage: bundleArgsUsage,
		Description: `The bundle (or every part) is verified against NAME.tar.zst.sha256 first. The signing time is
   recorded in the checksum file, which is then signed as it is with an ed25519 key (ssh-keygen
   -t ed25519): unbundle verify --public-key checks it, and so does ssh-keygen -Y verify -n
   ess-airgap-bundle. The passphrase of an encrypted key is read from $SIGN_KEY_PASSPHRASE; or
   give the .pub of a key an ssh-agent holds.`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "key", Usage: "the signing key `FILE`: an OpenSSH ed25519 private key (mode 0600), or the .pub of a key an ssh-agent holds"}},
		Action: func(c *cli.Context) error {
			args, err := bundleArgs(c)
			if err != nil {
				return err
			}
			if err := required(c, "key"); err != nil {
				return err
			}
			signer, err := loadSigner("key", c.String("key"))
			if err != nil {
				return err
			}
			s, err := trust.Find(c.Context, trust.Trust{Replacing: true}, args...)
			if err != nil {
				return err
			}
			if s.Sums == nil {
				return fmt.Errorf("%s: %w: no checksum file %s.sha256 to sign", s.Name, archive.ErrCorrupt, s.Name)
			}
			res, err := trust.VerifySet(c.Context, s, nil)
			if err == nil && len(res.Bad) > 0 {
				for _, bad := range res.Bad {
					fmt.Fprintf(e.stderr, "BAD %s: %v\n", bad.Name, bad.Err)
				}
				err = fmt.Errorf("%s: %w: %d entries failed verification", s.Name, archive.ErrCorrupt, len(res.Bad))
			}
			if err != nil {
				return fmt.Errorf("not signed: %w", err)
			}
			return signBundle(e, s, signer)
		},
	}
}

// repairCommand is `unbundle repair PARTS...`.
func repairCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "repair",
		Usage:     "rebuild the lost or damaged parts of a bundle in parts from its parity parts",
		ArgsUsage: bundleArgsUsage,
		Description: `Every part is checked against NAME.tar.zst.sha256; with N parity parts, any N parts that are
   missing or damaged are rebuilt, each checked against its sha256 before it is written. The
   parts are read in place (several directories may be given, one per medium); the rebuilt
   parts are written into --output-dir (default: the directory of NAME.tar.zst.sha256), where
   a damaged part is replaced and kept as NAME.tar.zst.00N.damaged. With a signature beside
   the checksum file, the checksum file must be the one signed (with --public-key, by a key
   you trust) before any part is written.`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "output-dir", Usage: "write the rebuilt parts into `DIR` (default: beside NAME.tar.zst.sha256)"}, publicKeyFlag},
		Action: func(c *cli.Context) error {
			args, err := bundleArgs(c)
			if err != nil {
				return err
			}
			s, err := findBundle(c, e, args...)
			if err != nil {
				return err
			}
			dir := c.String("output-dir")
			if dir == "" {
				dir = s.Dir()
			}
			var wrote []parts.Rebuilt
			err = withProgress(e, "repair", func(m *progress.Meter) error {
				if s.Sums != nil {
					m.SetTotal(s.Sums.Size + int64(len(s.Sums.Parity))*s.Sums.PartSize)
				}
				var err error
				wrote, err = trust.Repair(c.Context, s, dir, m)
				return err
			})
			var pe *parts.Error
			if errors.As(err, &pe) {
				printBadParts(e, pe.Bad)
			}
			if err != nil {
				return err
			}
			if len(wrote) == 0 {
				fmt.Fprintf(e.stdout, "%s: every part matches %s.sha256: nothing to repair\n", s.Name, s.Name)
				return nil
			}
			for _, p := range wrote {
				fmt.Fprintf(e.stdout, "rebuilt %s (it matches its sha256 in %s.sha256)\n", p.Path, s.Name)
				if p.Kept != "" {
					fmt.Fprintf(e.stdout, "  the damaged file it replaces is kept as %s: remove it once unbundle verify says OK\n", p.Kept)
				}
			}
			return nil
		},
	}
}
