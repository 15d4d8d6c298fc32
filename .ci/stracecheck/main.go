// Command stracecheck reads the log of `strace -f` run on litedir and
// checks, system call by system call, that litedir kept its disk promises:
//
//  1. Every write bench acknowledged (a line "ack KEY" that bench wrote to
//     its acknowledgement log, LITEDIR_BENCH_ACKS) was durable before the
//     acknowledgement: the WAL write holding its row came first, then the
//     write of the COMMIT frame of its transaction, then an fsync or
//     fdatasync of the WAL (through any descriptor of that file), and only
//     then the acknowledgement. The row is found by its key, which leads
//     the message body, in the bytes written to the WAL; the transaction's
//     end by the frame headers (a commit frame has its database size set).
//  2. Every database, journal or WAL file created in a watched directory
//     (-dir) is followed by an fsync of that directory, before the next
//     acknowledgement.
//  3. Every file linked or renamed into a watched directory (a backup's
//     copy) was synced after its last write and before it was placed, and
//     the directory was synced after.
//
// Order is the order of the log's lines, which strace prints as it handles
// each thread's events: a call's effects that another thread waits for are
// printed before what that thread does next. A call split over two lines
// ("<unfinished ...>", "<... resumed>") starts at the first and ends at the
// second; "A before B" means A ended before B started.
//
// It needs the whole data of the WAL's writes (strace -s at least the page
// size plus the frame header, and -x or the default escaping), the
// descriptors' history (open, openat, creat, close, dup*, fcntl) and the
// calls above; see .ci/strace for the command line. The traced program must
// not start child processes (descriptor tables are followed as one), and
// the watched directories must be new to the trace (a file's first open
// with O_CREAT counts as its creation).
//
// Usage: stracecheck [-acks FILE -wal FILE] [-dir DIR]... [-min-acks N] [-min-creates N] [-min-placements N] TRACE
//
// Exit status: 0 when nothing was violated and the minimums were met, 1
// otherwise, 2 on bad usage or an unreadable trace. It is a CI tool, not
// part of litedir.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxShown bounds the violations printed.
const maxShown = 20

type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(s string) error { *d = append(*d, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("stracecheck", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var cfg config
	flags.StringVar(&cfg.acks, "acks", "", "bench's acknowledgement log (`file`); empty: no acknowledgement rule")
	flags.StringVar(&cfg.wal, "wal", "", "the WAL `file` the acknowledged writes must be in")
	flags.Var((*dirList)(&cfg.dirs), "dir", "a watched `directory` (repeatable)")
	minAcks := flags.Int("min-acks", 0, "fail unless at least `n` acknowledgements were checked")
	minCreates := flags.Int("min-creates", 0, "fail unless at least `n` created files were checked")
	minPlacements := flags.Int("min-placements", 0, "fail unless at least `n` placed copies were checked")
	cwd, _ := os.Getwd()
	flags.StringVar(&cwd, "cwd", cwd, "the traced program's working `directory`, for relative paths")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 || (cfg.acks == "") != (cfg.wal == "") {
		fmt.Fprintln(stderr, "usage: stracecheck [-acks FILE -wal FILE] [-dir DIR]... [-min-acks N] [-min-creates N] [-min-placements N] TRACE")
		return 2
	}
	f, err := os.Open(flags.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "stracecheck:", err)
		return 2
	}
	defer f.Close()
	calls, err := parseTrace(f)
	if err != nil {
		fmt.Fprintf(stderr, "stracecheck: %s: %v\n", flags.Arg(0), err)
		return 2
	}
	ops, notes := resolve(calls, cwd)
	for _, n := range notes {
		fmt.Fprintln(stdout, "stracecheck: note:", n)
	}
	r := check(ops, cfg)
	fmt.Fprintf(stdout, "stracecheck: %d system calls; %d acknowledged writes checked against %d WAL writes and %d WAL syncs; %d created files; %d placed copies: %d violations\n",
		len(calls), r.acks, r.walWrites, r.walSyncs, r.creates, r.placements, len(r.violations))
	for i, v := range r.violations {
		if i == maxShown {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(r.violations)-i)
			break
		}
		fmt.Fprintln(stdout, "  VIOLATION:", v)
	}
	status := 0
	if len(r.violations) > 0 {
		status = 1
	}
	for _, m := range []struct {
		what      string
		got, want int
	}{{"acknowledged writes", r.acks, *minAcks}, {"created files", r.creates, *minCreates}, {"placed copies", r.placements, *minPlacements}} {
		if m.got < m.want {
			fmt.Fprintf(stdout, "  FAIL: %d %s checked, want at least %d: the trace does not show what it should\n", m.got, m.what, m.want)
			status = 1
		}
	}
	return status
}
