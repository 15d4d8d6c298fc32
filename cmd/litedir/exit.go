package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/workspace"
)

// Exit statuses.
const (
	exitOK          = 0 // success, and an explicit -h
	exitError       = 1 // a runtime error
	exitUsage       = 2 // bad flags or arguments
	exitLocked      = 3 // the workspace is locked by another process
	exitCheckFailed = 4 // check found problems; recover could not recover every row
)

// exitCode maps an error to the exit status that tells a script what
// happened.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage),
		// Every option the commands pass comes from a flag or an argument,
		// so options the library refuses are a bad command line.
		errors.Is(err, workspace.ErrInvalidOptions),
		errors.Is(err, lock.ErrInvalidOptions):
		return exitUsage
	case errors.Is(err, lock.ErrLocked):
		return exitLocked
	case errors.Is(err, workspace.ErrCheckFailed), errors.Is(err, workspace.ErrDataLost):
		return exitCheckFailed
	default:
		return exitError
	}
}

// errUsage marks errors in the command line itself.
var errUsage = errors.New("usage")

// usageErr is an error in the command line. It matches errUsage.
type usageErr struct {
	msg   string
	shown bool // the flag package has printed it, and the usage, already
}

func (e *usageErr) Error() string { return e.msg }

func (e *usageErr) Is(target error) bool { return target == errUsage }

// usageError returns an error for a bad command line; its exit status is 2.
func usageError(format string, args ...any) error {
	return &usageErr{msg: fmt.Sprintf(format, args...)}
}

// report prints err (if any) to stderr as "litedir <name>: ..." and returns
// the exit status for it. A context cancelled by a signal is reported as an
// interruption, with exit status 1.
func report(stderr io.Writer, name string, err error) int {
	code := exitCode(err)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "litedir %s: interrupted\n", name)
			return exitError
		}
		fmt.Fprintf(stderr, "litedir %s: %v\n", name, err)
		if errors.Is(err, workspace.ErrEncrypted) {
			fmt.Fprintf(stderr, "litedir %s: if the workspace is encrypted, give its key: -key-file FILE, or %s=FILE\n", name, envKeyFile)
		}
	}
	return code
}
