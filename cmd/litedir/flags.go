package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/litedir/litedir/workspace"
)

// newFlagSet returns the flag set of the subcommand name. It reports errors
// to stderr, and its Usage prints "Usage: litedir name synopsis", the
// description doc and the flags there.
func newFlagSet(name, synopsis, doc string, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: litedir %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(doc))
		n := 0
		flags.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(stderr, "\nFlags:\n")
			flags.PrintDefaults()
		}
	}
	return flags
}

// parseArgs parses the flags in args and checks that exactly one positional
// argument per name in names remains. Flags may come before, between or
// after the positional arguments (litedir status DIR -json); "--" ends the
// flags, so an argument that starts with "-" can follow it. It returns the
// positional arguments, or an error to give to [usageExit]: flag.ErrHelp
// for -h, or an error matching errUsage.
func parseArgs(flags *flag.FlagSet, args []string, names ...string) ([]string, error) {
	pos, rest, err := parseInterspersed(flags, args)
	if err != nil {
		return nil, err
	}
	pos = append(pos, rest...)
	return checkArgs(pos, names)
}

// parseCommandArgs is parseArgs for the commands that run another command:
// the positional arguments named by names come first, and everything after
// a "--" that follows them is the command, returned as cmd (nil without
// "--").
func parseCommandArgs(flags *flag.FlagSet, args []string, names ...string) (pos, cmd []string, err error) {
	pos, rest, err := parseInterspersed(flags, args)
	if err != nil {
		return nil, nil, err
	}
	if rest != nil {
		cmd = rest
		if len(cmd) == 0 {
			return nil, nil, usageError("no command after --")
		}
	}
	pos, err = checkArgs(pos, names)
	return pos, cmd, err
}

// parseInterspersed parses args with flags, collecting the positional
// arguments between the flags into pos. If a "--" ends the flags, rest is
// what follows it (not nil, possibly empty); otherwise rest is nil.
func parseInterspersed(flags *flag.FlagSet, args []string) (pos, rest []string, err error) {
	for {
		if err := flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, err
			}
			// The flag package has printed the error and the usage already.
			return nil, nil, &usageErr{msg: err.Error(), shown: true}
		}
		left := flags.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			// The flag package consumed the "--" that ended the flags.
			return pos, append([]string{}, left...), nil
		}
		if len(left) == 0 {
			return pos, nil, nil
		}
		// Parsing stopped at a positional argument: keep it, and go on
		// with the flags after it.
		pos = append(pos, left[0])
		args = left[1:]
	}
}

// checkArgs checks that pos holds exactly one non-empty argument per name in
// names.
func checkArgs(pos, names []string) ([]string, error) {
	switch {
	case len(pos) < len(names):
		return nil, usageError("missing %s", strings.Join(names[len(pos):], " "))
	case len(pos) > 0 && len(names) == 0:
		return nil, usageError("unexpected argument %q: the command takes none", pos[0])
	case len(pos) > len(names):
		return nil, usageError("unexpected argument %q (want %s)", pos[len(names)], strings.Join(names, " "))
	}
	for i, p := range pos {
		if p == "" {
			return nil, usageError("empty %s", names[i])
		}
	}
	return pos, nil
}

// usageExit reports a command-line error of the command of flags and returns
// its exit status: exitOK for -h (the flag package has printed the usage),
// exitUsage otherwise, after printing the error and the usage unless the
// flag package has.
func usageExit(flags *flag.FlagSet, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageErr
	if !errors.As(err, &ue) || !ue.shown {
		fmt.Fprintf(flags.Output(), "litedir %s: %v\n", flags.Name(), err)
		flags.Usage()
	}
	return exitUsage
}

// nameFlag defines the -name flag shared by the commands that open a
// workspace. It refuses what Open would (see workspace.CheckName) up front,
// as a usage error, before any path is built from it.
func nameFlag(flags *flag.FlagSet) *string {
	name := workspace.DefaultName
	flags.Func("name", "base `name` of the workspace files: NAME.db and NAME.lock (default \""+name+"\")", func(s string) error {
		if s == "" {
			return errors.New("empty name")
		}
		if err := workspace.CheckName(s); err != nil {
			return err
		}
		name = s
		return nil
	})
	return &name
}

// envKeyFile is the environment variable that names the key file of an
// encrypted workspace when -key-file is not given.
const envKeyFile = "LITEDIR_KEY_FILE"

// keyFlag defines the -key-file flag of the commands that open a workspace
// and returns it: after parsing, it names the flag's file, or else
// $LITEDIR_KEY_FILE's, or none (no key) when neither is set or the flag is
// given empty. The key itself never appears on the command line, where the
// process list would show it.
func keyFlag(flags *flag.FlagSet) *keyFile {
	return keyFileFlag(flags, "key-file", "the key of an encrypted workspace", envKeyFile)
}

// keyFileFlag defines a flag named name for a key file holding what and
// returns it (see keyFlag); env, unless empty, is the variable consulted when
// the flag is not given.
func keyFileFlag(flags *flag.FlagSet, name, what, env string) *keyFile {
	k := &keyFile{env: env}
	usage := "read " + what + " from `file`: 32 bytes, or 64 hex digits and a newline"
	if env != "" {
		usage += " (default $" + env + "; empty: no key)"
	}
	flags.Func(name, usage, func(s string) error {
		k.path, k.set = s, true
		return nil
	})
	return k
}

// keyFile is a key file named on the command line.
type keyFile struct {
	path string
	set  bool   // the flag was given
	env  string // the variable that names the file otherwise, or ""
}

// file returns the path of the key file, or "" for none.
func (k *keyFile) file() string {
	if !k.set && k.env != "" {
		return os.Getenv(k.env)
	}
	return k.path
}

// source returns the key source that reads the key file, or nil for none.
func (k *keyFile) source() workspace.KeySource {
	if f := k.file(); f != "" {
		return workspace.KeyFile(f)
	}
	return nil
}

// waitFlag defines the -wait flag of the commands that take the lock: how
// long to wait for another holder, refusing negative durations.
func waitFlag(flags *flag.FlagSet, what string) *time.Duration {
	var wait time.Duration
	flags.Func("wait", "`duration` to wait for "+what+" that another process holds (default 0: fail at once)", func(s string) error {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return errors.New("want a duration such as 500ms or 2m")
		case d < 0:
			return errors.New("negative duration")
		}
		wait = d
		return nil
	})
	return &wait
}

// metaFlag collects repeated -meta key=value flags into a map.
type metaFlag map[string]string

// String returns the pairs as "k1=v1,k2=v2", sorted by key.
func (m metaFlag) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// Set adds one key=value pair. The value may contain "=" and may be empty;
// the key may not, and a key given twice is refused rather than silently
// overwritten.
func (m metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		return errors.New("want key=value")
	case k == "":
		return errors.New("empty key")
	}
	if _, dup := m[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	m[k] = v
	return nil
}

// newLogger returns the logger for the diagnostics of the workspace and
// engine packages (a journal mode SQLite refused, an unusable engine cache):
// records at level or above, as text on stderr, without the time, which a
// command-line user does not need.
func newLogger(stderr io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// noDatabaseError reports a workspace directory without its database file.
// It matches fs.ErrNotExist.
type noDatabaseError struct{}

func (noDatabaseError) Error() string {
	return "no database (litedir migrate creates one)"
}

func (noDatabaseError) Is(target error) bool { return target == fs.ErrNotExist }

// needDatabase returns an *fs.PathError naming the database file of the
// workspace name in dir when that file does not exist, so that commands which
// only read or maintain a workspace never create one, and say so clearly.
func needDatabase(op, dir, name string) error {
	var pe *fs.PathError
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && errors.As(err, &pe) {
		return &fs.PathError{Op: op, Path: dir, Err: pe.Err}
	}
	path := workspace.DatabasePath(dir, name)
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return &fs.PathError{Op: op, Path: path, Err: noDatabaseError{}}
	default:
		// Let the open report anything else (a permission error, a file
		// where the directory should be) in its own words.
		return nil
	}
}

// openExisting opens the existing workspace in dir with opts; it never
// creates one (see needDatabase). With program set it opens the workspace as
// its owner, taking its lock as program and waiting up to wait for it;
// without, read-only and without the lock. Unless opts has a logger, the
// library's warnings go to stderr.
func openExisting(ctx context.Context, stderr io.Writer, dir string, opts workspace.Options, program string, wait time.Duration) (*workspace.Workspace, error) {
	if err := needDatabase("open workspace", dir, opts.Name); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = newLogger(stderr, slog.LevelWarn)
	}
	if program == "" {
		return workspace.OpenReadOnly(ctx, dir, &opts)
	}
	opts.Program, opts.LockWait = program, wait
	return workspace.Open(ctx, dir, &opts)
}

// isTerminal reports whether w is a terminal, where a progress line that
// redraws itself with "\r" makes sense. Anything but an *os.File (a test's
// buffer, a pipe wrapped in a writer) is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
