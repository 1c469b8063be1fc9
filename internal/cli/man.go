package cli

import "io"

// Man returns the man page (section 1, roff) of the named program, made from its command
// definitions by urfave/cli (ToManWithSection, through go-md2man): every command with its
// usage, description and flags, and the exit codes. `make man` writes them (cmd/mangen).
func Man(prog string) (string, error) {
	lg := &logger{w: io.Discard, prog: prog}
	app, err := newApp(prog, &env{stdout: io.Discard, stderr: lg, log: lg})
	if err != nil {
		return "", err
	}
	app.Description = app.Usage + "\n\n```\n" + exitCodesHelp + "\n```"
	return app.ToManWithSection(1)
}
