// Command testjson reads the output of `go test -json` (or of a test binary
// run through `go tool test2json`) on stdin, prints it the way go test
// prints without -v, and checks that the tests named with -must passed.
//
// It prints each package's result line, the whole output of every failed
// test and package, and at the end every skipped test with the reason it
// gave. A test named in -must that failed, or did not run at all, fails;
// one that was skipped is a skip of the CI run: it is printed as
// "SKIPPED: <section>: ..." and, with -skips, appended to that file (one
// line, "<section>: <what> skipped: <reason>") for .ci/lib.sh to judge with
// the run's other skips at its end; without -skips it fails here, unless
// LITEDIR_CI_ALLOW_SKIP allows the section (as .ci/lib.sh reads it). The
// skips file is only ever the flag's: a LITEDIR_CI_SKIPS left in the
// environment does not turn the judging off. Input with no test result at
// all (nothing ran) fails too.
//
// Exit status: 0 when everything ran passed and every -must test passed, 1
// otherwise, 2 on bad usage or unreadable input.
//
// Usage: go test -json ARGS | testjson -section NAME [-must LIST] [-skips FILE] [-log FILE]
//
// LIST is comma-separated test names as go test -json gives them
// ("TestKilledHolder", "TestKilledHolder/shared"), each optionally prefixed
// with the end of its import path and a colon ("lock:TestKilledHolder").
// It is used by .ci/lib.sh; it is a CI tool, not part of litedir.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of go test -json (cmd/test2json's TestEvent).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail
	Test       string
	Output     string
}

type key struct{ pkg, test string }

func main() {
	section := flag.String("section", "tests", "name of the CI section, for messages")
	must := flag.String("must", "", "comma-separated tests that must pass")
	skipsFile := flag.String("skips", "", "file to append skipped must-pass tests to, for .ci/lib.sh to judge; empty: judged here")
	logFile := flag.String("log", "", "file to write the whole text output to")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	var log io.Writer = io.Discard
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testjson:", err)
			os.Exit(2)
		}
		defer f.Close()
		log = f
	}
	os.Exit(run(os.Stdin, os.Stdout, log, *section, *must, *skipsFile))
}

func run(in io.Reader, out, log io.Writer, section, must, skipsFile string) int {
	var (
		buf     = map[key][]string{} // output of each test and package (test "")
		result  = map[key]string{}   // pass, fail or skip
		failed  bool
		skipped []string
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event: a line the test binary or the go command
			// printed outside test2json's framing. Show it.
			fmt.Fprintf(out, "%s\n", line)
			fmt.Fprintf(log, "%s\n", line)
			continue
		}
		if e.Package == "" {
			e.Package = e.ImportPath
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			io.WriteString(log, e.Output)
			if e.Action == "build-output" {
				io.WriteString(out, e.Output)
				continue
			}
			buf[k] = append(buf[k], e.Output)
		case "build-fail":
			failed = true
		case "pass", "fail", "skip":
			result[k] = e.Action
			if e.Test != "" {
				switch e.Action {
				case "fail":
					failed = true
					io.WriteString(out, strings.Join(buf[k], ""))
				case "skip":
					skipped = append(skipped, fmt.Sprintf("%s %s: %s", short(e.Package), e.Test, reason(buf[k])))
				}
				continue
			}
			// The package's own lines: its result ("ok  \tpkg\t1s"),
			// and, when it failed, whatever it printed outside a test
			// (a panic, a timeout).
			for _, l := range buf[k] {
				if e.Action == "fail" || strings.HasPrefix(l, "ok  ") || strings.HasPrefix(l, "?   ") || strings.HasPrefix(l, "FAIL\t") {
					io.WriteString(out, l)
				}
			}
			if e.Action == "fail" {
				failed = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testjson: reading go test -json: %v\n", err)
		return 2
	}

	if len(skipped) > 0 {
		sort.Strings(skipped)
		fmt.Fprintf(out, "%s: %d tests skipped themselves:\n", section, len(skipped))
		for _, s := range skipped {
			fmt.Fprintf(out, "    skip %s\n", s)
		}
	}
	passed, packages := 0, 0
	for k, r := range result {
		if k.test != "" && r == "pass" {
			passed++
		}
		if k.test == "" {
			packages++
		}
	}
	fmt.Fprintf(out, "%s: %d tests passed\n", section, passed)
	if packages == 0 {
		fmt.Fprintf(out, "FAILED: %s: no package reported a result: nothing ran\n", section)
		failed = true
	}

	allow := allowed(os.Getenv("LITEDIR_CI_ALLOW_SKIP"), section)
	var skips []string
	for _, name := range strings.Split(must, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		pkgSuffix, test, ok := strings.Cut(name, ":")
		if !ok {
			pkgSuffix, test = "", name
		}
		var got []string // results of the matching tests
		var why string
		for k, r := range result {
			if k.test == test && (pkgSuffix == "" || k.pkg == pkgSuffix || strings.HasSuffix(k.pkg, "/"+pkgSuffix)) {
				got = append(got, r)
				if r == "skip" {
					why = reason(buf[k])
				}
			}
		}
		switch {
		case len(got) == 0:
			fmt.Fprintf(out, "FAILED: %s: must-pass test %s did not run\n", section, name)
			failed = true
		case contains(got, "fail"):
			fmt.Fprintf(out, "FAILED: %s: must-pass test %s failed\n", section, name)
			failed = true
		case contains(got, "skip"):
			msg := fmt.Sprintf("%s: must-pass test %s skipped: %s", section, name, why)
			fmt.Fprintf(out, "SKIPPED: %s\n", msg)
			skips = append(skips, msg)
		}
	}
	if len(skips) > 0 && skipsFile != "" {
		f, err := os.OpenFile(skipsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			for _, s := range skips {
				fmt.Fprintln(f, s)
			}
			err = f.Close()
		}
		if err != nil {
			fmt.Fprintf(out, "testjson: recording skips: %v\n", err)
			return 2
		}
	}
	// With a skips file the skips are judged once, at the end, by
	// ci_report; without one, here.
	if failed || (len(skips) > 0 && skipsFile == "" && !allow) {
		return 1
	}
	return 0
}

// allowed reports whether the value allow of LITEDIR_CI_ALLOW_SKIP allows
// the skips of section, as .ci/lib.sh's ci_allowed does: "1" allows all; a
// comma-separated list allows the sections named, with every kind of skip
// ("linux/386") or one ("linux/386[host]").
func allowed(allow, section string) bool {
	if allow == "1" {
		return true
	}
	base, _, _ := strings.Cut(section, "[")
	for _, a := range strings.Split(allow, ",") {
		if a != "" && (a == section || a == base) {
			return true
		}
	}
	return false
}

// reason returns the last line a skipped test logged before its
// "--- SKIP" line: the message it gave t.Skip.
func reason(lines []string) string {
	r := "(no reason given)"
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		// "file_test.go:12: message": keep the message.
		if i := strings.Index(t, ".go:"); i >= 0 {
			if j := strings.Index(t[i+4:], ": "); j >= 0 {
				t = t[i+4+j+2:]
			}
		}
		r = t
	}
	return r
}

// short returns the import path without the module's prefix.
func short(pkg string) string {
	return strings.TrimPrefix(strings.TrimPrefix(pkg, "github.com/litedir/litedir"), "/")
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
