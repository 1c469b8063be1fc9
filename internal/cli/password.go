package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// readPassword reads one line from stdin (--password-stdin): at a terminal, after a prompt on
// stderr and without echo; from a pipe, as it comes. Either way Ctrl-C (ctx) ends the wait at
// once, and a terminal gets its echo back.
func readPassword(ctx context.Context, e *env) (string, error) {
	type read struct {
		line string
		err  error
	}
	done := make(chan read, 1)
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		state, err := term.GetState(fd)
		if err != nil {
			return "", fmt.Errorf("--password-stdin: %w", err)
		}
		fmt.Fprint(e.stderr, "Password: ")
		go func() {
			b, err := term.ReadPassword(fd)
			done <- read{string(b), err}
		}()
		select {
		case r := <-done:
			fmt.Fprintln(e.stderr)
			return r.line, r.err
		case <-ctx.Done():
			term.Restore(fd, state) // the reader stays blocked; the terminal must not stay mute
			fmt.Fprintln(e.stderr)
			return "", ctx.Err()
		}
	}
	go func() {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err == io.EOF {
			err = nil
		}
		done <- read{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
