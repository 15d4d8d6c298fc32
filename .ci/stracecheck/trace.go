package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// file is one file (an inode) as the trace knows it: a descriptor's target,
// or the target of a name. Names move with rename and multiply with link;
// a file unlinked and created again at the same path is another file.
type file struct {
	id       int
	path     string // the path at which the trace first met it
	created  *call  // the open that created it (O_CREAT of a name the trace did not know), or nil
	pageSize int64  // for a WAL: the page size of its header, once written
}

// opKind is what a call did.
type opKind int

const (
	opOpen   opKind = iota + 1 // opened (f), at path
	opWrite                    // wrote data to f at off (-1: at its position)
	opSync                     // fsync or fdatasync of f
	opTrunc                    // ftruncate of f
	opPlace                    // link or rename of f (at path) to to
	opUnlink                   // unlink of f at path
)

// op is a successful call resolved to what it did to which file.
type op struct {
	c         *call
	kind      opKind
	f         *file
	path      string // the path opened, placed from, unlinked
	to        string // the new name of opPlace
	link      bool   // opPlace by link (else rename)
	off, n    int64  // opWrite: where and how much
	data      []byte // opWrite: the bytes (a prefix when truncated)
	truncated bool   // opWrite: strace printed only a prefix of data
}

// resolver turns calls into ops: it follows descriptors and names.
type resolver struct {
	cwd   string
	fds   map[int64]*file
	names map[string]*file
	next  int
	notes []string // what it could not follow
}

// resolve returns the ops of calls, in the order of their exits (opens)
// and entries (the rest): the order in which they took effect.
func resolve(calls []*call, cwd string) ([]*op, []string) {
	r := &resolver{cwd: cwd, fds: map[int64]*file{}, names: map[string]*file{}}
	type event struct {
		at   int
		exit bool
		c    *call
	}
	events := make([]event, 0, 2*len(calls))
	for _, c := range calls {
		if !c.done {
			continue // its process was killed inside it
		}
		events = append(events, event{c.entry, false, c}, event{c.exit, true, c})
	}
	slices.SortStableFunc(events, func(a, b event) int {
		if a.at != b.at {
			return a.at - b.at
		}
		if a.exit == b.exit {
			return 0
		}
		if a.exit {
			return 1
		}
		return -1
	})
	var ops []*op
	for _, e := range events {
		if o := r.event(e.c, e.exit); o != nil {
			ops = append(ops, o)
		}
	}
	return ops, r.notes
}

func (r *resolver) note(c *call, format string, args ...any) {
	if len(r.notes) < 50 {
		r.notes = append(r.notes, fmt.Sprintf("%s: %s", c, fmt.Sprintf(format, args...)))
	}
}

func (r *resolver) newFile(path string, created *call) *file {
	r.next++
	return &file{id: r.next, path: path, created: created}
}

// path resolves a path argument relative to the directory descriptor dirfd
// ("AT_FDCWD" or a number).
func (r *resolver) path(c *call, dirfd, arg string) (string, bool) {
	b, _, err := unquote(arg)
	if err != nil {
		r.note(c, "%v", err)
		return "", false
	}
	p := string(b)
	if filepath.IsAbs(p) {
		return filepath.Clean(p), true
	}
	base := r.cwd
	if dirfd != "" && dirfd != "AT_FDCWD" {
		f := r.fd(c, dirfd)
		if f == nil {
			return "", false
		}
		base = f.path
	}
	return filepath.Join(base, p), true
}

func (r *resolver) fd(c *call, arg string) *file {
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		r.note(c, "descriptor %q", arg)
		return nil
	}
	return r.fds[n]
}

// event applies the entry or exit of c and returns the op it made.
func (r *resolver) event(c *call, exit bool) *op {
	a := c.args
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	if !exit {
		switch c.name {
		case "close":
			// The kernel frees the number as close starts: another thread
			// may get it before this close returns.
			if n, err := strconv.ParseInt(arg(0), 10, 64); err == nil {
				delete(r.fds, n)
			}
		case "write", "pwrite64", "pwritev", "pwritev2", "writev":
			return r.write(c)
		case "fsync", "fdatasync":
			if f := r.fd(c, arg(0)); f != nil && c.ok() {
				return &op{c: c, kind: opSync, f: f}
			}
		case "ftruncate":
			if f := r.fd(c, arg(0)); f != nil && c.ok() {
				return &op{c: c, kind: opTrunc, f: f}
			}
		}
		return nil
	}
	if !c.ok() {
		return nil
	}
	switch c.name {
	case "open", "creat", "openat":
		var p string
		var ok bool
		flags := ""
		switch c.name {
		case "openat":
			p, ok = r.path(c, arg(0), arg(1))
			flags = arg(2)
		case "open":
			p, ok = r.path(c, "", arg(0))
			flags = arg(1)
		case "creat":
			p, ok = r.path(c, "", arg(0))
			flags = "O_CREAT|O_TRUNC"
		}
		if !ok {
			return nil
		}
		f := r.names[p]
		if f == nil || strings.Contains(flags, "O_EXCL") {
			var created *call
			if strings.Contains(flags, "O_CREAT") {
				created = c
			}
			f = r.newFile(p, created)
			r.names[p] = f
		}
		r.fds[c.ret] = f
		return &op{c: c, kind: opOpen, f: f, path: p}
	case "dup":
		if f := r.fd(c, arg(0)); f != nil {
			r.fds[c.ret] = f
		}
	case "dup2", "dup3":
		if f := r.fd(c, arg(0)); f != nil {
			r.fds[c.ret] = f
		}
	case "fcntl":
		if strings.HasPrefix(arg(1), "F_DUPFD") {
			if f := r.fd(c, arg(0)); f != nil {
				r.fds[c.ret] = f
			}
		}
	case "unlink", "unlinkat":
		var p string
		var ok bool
		if c.name == "unlink" {
			p, ok = r.path(c, "", arg(0))
		} else {
			p, ok = r.path(c, arg(0), arg(1))
		}
		if !ok {
			return nil
		}
		f := r.names[p]
		delete(r.names, p)
		if f != nil {
			return &op{c: c, kind: opUnlink, f: f, path: p}
		}
	case "rename", "renameat", "renameat2", "link", "linkat":
		var from, to string
		var ok1, ok2 bool
		if c.name == "rename" || c.name == "link" {
			from, ok1 = r.path(c, "", arg(0))
			to, ok2 = r.path(c, "", arg(1))
		} else {
			from, ok1 = r.path(c, arg(0), arg(1))
			to, ok2 = r.path(c, arg(2), arg(3))
		}
		if !ok1 || !ok2 {
			return nil
		}
		f := r.names[from]
		if f == nil {
			f = r.newFile(from, nil)
		}
		link := strings.HasPrefix(c.name, "link")
		if !link {
			delete(r.names, from)
		}
		r.names[to] = f
		return &op{c: c, kind: opPlace, f: f, path: from, to: to, link: link}
	}
	return nil
}

// write resolves a write, at its entry (the descriptor must be open then).
func (r *resolver) write(c *call) *op {
	if !c.ok() || len(c.args) < 2 {
		return nil
	}
	f := r.fd(c, c.args[0])
	if f == nil {
		return nil
	}
	o := &op{c: c, kind: opWrite, f: f, off: -1, n: c.ret}
	switch c.name {
	case "write", "pwrite64":
		data, truncated, err := unquote(c.args[1])
		if err != nil {
			r.note(c, "%v", err)
			truncated = true
		}
		o.data, o.truncated = data, truncated
		if c.name == "pwrite64" && len(c.args) >= 4 {
			if off, err := strconv.ParseInt(c.args[3], 10, 64); err == nil {
				o.off = off
			}
		}
	default:
		// Vectored writes: where and what is not followed; a checker
		// that needs the data finds it missing.
		o.truncated = true
	}
	return o
}
