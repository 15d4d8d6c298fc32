package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// call is one system call of the trace, with where it starts and ends in
// the order strace saw the threads' events. A call that another thread's
// event interrupted is printed in two lines ("<unfinished ...>", "<...
// resumed>"); a call on one line starts and ends at that line.
//
// The order of the lines is the order in which strace handled the events,
// which keeps cause before effect: a thread stopped at a syscall's exit runs
// nothing until strace has printed that exit, so whatever the thread does
// after the call (unblocking another goroutine, which then makes a call of
// its own) is printed after it.
type call struct {
	line        int // line number of the call's first line, for messages
	entry, exit int // event positions: lines, in order
	pid         int
	time        string // the -tt timestamp, if any
	name        string
	args        []string // top-level arguments, as printed
	ret         int64    // the return value; -1 with errno set on failure
	errno       string   // "ENOENT"; "" on success
	done        bool     // the exit was seen (a killed process leaves calls open)
}

// ok reports whether the call returned without error.
func (c *call) ok() bool { return c.done && c.errno == "" && c.ret >= 0 }

func (c *call) String() string {
	t := ""
	if c.time != "" {
		t = c.time + " "
	}
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = shorten(a)
	}
	return fmt.Sprintf("line %d: %s[pid %d] %s(%s)", c.line, t, c.pid, c.name, strings.Join(args, ", "))
}

var (
	// "1234  12:00:00.123456 name(args...": pid, optional time, the rest.
	lineRE = regexp.MustCompile(`^(?:\[pid\s+)?(\d+)\]?\s+(?:(\d\d:\d\d:\d\d(?:\.\d+)?)\s+)?(.*)$`)
	// The result after the arguments: "= 5", "= -1 ENOENT (No such
	// file)", "= 0x8000 (flags O_RDONLY)", "= ? <unavailable>".
	retRE     = regexp.MustCompile(`^\s+= (-?\d+|0x[0-9a-f]+|\?)(?: ([A-Z][A-Z0-9_]*))?(?: .*)?$`)
	resumedRE = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
)

const unfinished = " <unfinished ...>"

// parseTrace reads an strace -f log and returns its calls in the order they
// started. Lines it does not know (signals, exits, "+++ killed") are
// skipped.
func parseTrace(r io.Reader) ([]*call, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var calls []*call
	pending := map[int]*call{}  // pid: its unfinished call
	partial := map[int]string{} // pid: the text of its unfinished call
	n := 0
	for sc.Scan() {
		n++
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		ts, rest := m[2], m[3]
		if strings.HasPrefix(rest, "+++ ") || strings.HasPrefix(rest, "--- ") {
			continue
		}
		var c *call
		text := rest
		if rm := resumedRE.FindStringSubmatch(rest); rm != nil {
			c = pending[pid]
			if c == nil || c.name != rm[1] {
				// A call begun before the trace, or lost: nothing to add to.
				continue
			}
			delete(pending, pid)
			text = partial[pid] + rm[2]
			delete(partial, pid)
		} else {
			open := strings.IndexByte(rest, '(')
			if open <= 0 || !isName(rest[:open]) {
				continue
			}
			c = &call{line: n, entry: n, pid: pid, time: ts, name: rest[:open]}
			calls = append(calls, c)
			text = rest
		}
		if strings.HasSuffix(text, unfinished) {
			pending[pid] = c
			partial[pid] = strings.TrimSuffix(text, unfinished)
			continue
		}
		c.exit = n
		if err := c.finish(text); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return calls, nil
}

func isName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return s != ""
}

// finish parses the whole text of a call, "name(args) = ret ...".
func (c *call) finish(text string) error {
	open := strings.IndexByte(text, '(')
	end := -1
	if open >= 0 {
		end = closing(text, open)
	}
	var m []int
	if end >= 0 {
		m = retRE.FindStringSubmatchIndex(text[end+1:])
	}
	if m == nil {
		return fmt.Errorf("cannot parse %q", shorten(text))
	}
	c.args = splitArgs(text[open+1 : end])
	c.done = true
	text = text[end+1:]
	ret := text[m[2]:m[3]]
	switch {
	case ret == "?":
		c.ret, c.errno = -1, "?"
	case strings.HasPrefix(ret, "0x"):
		v, err := strconv.ParseInt(ret[2:], 16, 64)
		if err != nil {
			return err
		}
		c.ret = v
	default:
		v, err := strconv.ParseInt(ret, 10, 64)
		if err != nil {
			return err
		}
		c.ret = v
	}
	if m[4] >= 0 {
		c.errno = text[m[4]:m[5]]
	}
	return nil
}

// closing returns the index of the parenthesis that closes the one at
// open, skipping strings (whose bytes may hold anything, "x) = 1" too), or
// -1.
func closing(s string, open int) int {
	depth := 0
	inStr := false
	for i := open; i < len(s); i++ {
		switch ch := s[i]; {
		case inStr && ch == '\\':
			i++
		case ch == '"':
			inStr = !inStr
		case inStr:
		case ch == '(' || ch == '{' || ch == '[':
			depth++
		case ch == ')' || ch == '}' || ch == ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitArgs splits strace's argument list at its top-level commas, keeping
// strings, structures and arrays whole.
func splitArgs(s string) []string {
	var args []string
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inStr && ch == '\\':
			i++
		case ch == '"':
			inStr = !inStr
		case inStr:
		case ch == '{' || ch == '[' || ch == '(':
			depth++
		case ch == '}' || ch == ']' || ch == ')':
			depth--
		case ch == ',' && depth == 0:
			args = append(args, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" || len(args) > 0 {
		args = append(args, last)
	}
	return args
}

// unquote decodes a string argument as strace prints it ("abc\x00\n",
// octal escapes without -x), and reports whether strace cut it short (a
// "..." after the closing quote, past -s).
func unquote(arg string) (b []byte, truncated bool, err error) {
	if strings.HasSuffix(arg, "...") {
		arg, truncated = strings.TrimSuffix(arg, "..."), true
	}
	if len(arg) < 2 || arg[0] != '"' || arg[len(arg)-1] != '"' {
		return nil, false, fmt.Errorf("not a string: %q", shorten(arg))
	}
	s := arg[1 : len(arg)-1]
	b = make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, false, fmt.Errorf("escape at the end of %q", shorten(arg))
		}
		switch e := s[i]; e {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'v':
			b = append(b, '\v')
		case 'f':
			b = append(b, '\f')
		case 'a':
			b = append(b, '\a')
		case 'b':
			b = append(b, '\b')
		case 'x':
			if i+3 > len(s) {
				return nil, false, fmt.Errorf("short \\x escape in %q", shorten(arg))
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, false, fmt.Errorf("bad \\x escape in %q", shorten(arg))
			}
			b = append(b, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 16)
			b = append(b, byte(v))
			i = j - 1
		default: // \" \\ and anything else stands for itself
			b = append(b, e)
		}
	}
	return b, truncated, nil
}

// shorten cuts s to at most 40 bytes, for messages.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
