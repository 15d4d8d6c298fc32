package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// config says what to check.
type config struct {
	acks string   // the acknowledgement log bench wrote (LITEDIR_BENCH_ACKS); "" skips the ack rule
	wal  string   // the WAL whose writes the acknowledged writes must be in
	dirs []string // directories where new database files and placed copies must be synced
}

// report is what check found.
type report struct {
	acks, creates, placements int // checked
	walWrites, walSyncs       int
	violations                []string
}

func (r *report) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

// end is a position after every event of a trace.
const end = int(^uint(0) >> 1)

// walHeaderSize and frameHeaderSize are SQLite's WAL format.
const (
	walHeaderSize   = 32
	frameHeaderSize = 24
)

// keyRE matches the key that leads every bench message body: "w<writer>.<n>:".
var keyRE = regexp.MustCompile(`w[0-9]+\.[0-9]+:`)

// frameHeader is a frame header the trace saw written to the WAL.
type frameHeader struct {
	write  int   // index in walWrites
	frame  int64 // frame number from 0
	commit bool  // the frame ends a transaction (its "database size" is set)
}

// ack is one acknowledged write of the log.
type ack struct {
	o     *op
	phase string
	key   string
}

// check applies the rules to ops (see the package documentation).
func check(ops []*op, cfg config) *report {
	r := &report{}
	// The successful syncs, in order of entry: by file (an inode), and by
	// path for directories (a directory's every open is the same file).
	syncs := map[int][]*op{}
	dirSyncs := map[string][]*op{}
	var (
		walWrites []*op
		headers   = map[int][]frameHeader{}     // by file id
		firstKey  = map[string]map[string]int{} // phase, key: the first WAL write holding it
		acks      []ack
		phase     string
	)
	firstKey[""] = map[string]int{}
	for _, o := range ops {
		switch {
		case o.kind == opSync:
			syncs[o.f.id] = append(syncs[o.f.id], o)
			dirSyncs[o.f.path] = append(dirSyncs[o.f.path], o)
			if cfg.wal != "" && o.f.path == cfg.wal {
				r.walSyncs++
			}
		case o.kind == opWrite && cfg.acks != "" && o.f.path == cfg.acks:
			for _, line := range strings.Split(strings.TrimSuffix(string(o.data), "\n"), "\n") {
				kind, arg, _ := strings.Cut(line, " ")
				switch kind {
				case "phase":
					phase = arg
					firstKey[phase] = map[string]int{}
				case "ack":
					acks = append(acks, ack{o, phase, arg})
				default:
					r.violate("%s: not an acknowledgement marker: %q", o.c, line)
				}
			}
		case o.kind == opWrite && cfg.wal != "" && o.f.path == cfg.wal:
			k := len(walWrites)
			walWrites = append(walWrites, o)
			if o.off < 0 {
				r.violate("%s: a write of the WAL without an offset (writev?): the checker cannot follow it", o.c)
				continue
			}
			if o.off == 0 && len(o.data) >= 12 {
				// The WAL header: magic, version, page size.
				o.f.pageSize = int64(binary.BigEndian.Uint32(o.data[8:12]))
			}
			ps := o.f.pageSize
			if ps == 0 {
				continue
			}
			fs := frameHeaderSize + ps
			end := o.off + int64(len(o.data))
			for j := max(0, (o.off-walHeaderSize+fs-1)/fs); ; j++ {
				h := walHeaderSize + j*fs
				if h+8 > end {
					break
				}
				if h < o.off {
					continue
				}
				commit := binary.BigEndian.Uint32(o.data[h-o.off+4:]) != 0
				headers[o.f.id] = append(headers[o.f.id], frameHeader{k, j, commit})
			}
			if !o.truncated {
				for _, m := range keyRE.FindAllIndex(o.data, -1) {
					key := string(o.data[m[0]:m[1]])
					if _, ok := firstKey[phase][key]; !ok {
						firstKey[phase][key] = k
					}
				}
			}
		}
	}
	r.walWrites = len(walWrites)

	// synced returns the first of the syncs in list that starts after the
	// event after and ends before the event before.
	synced := func(list []*op, after, before int) *op {
		i := sort.Search(len(list), func(i int) bool { return list[i].c.entry > after })
		for ; i < len(list) && list[i].c.entry < before; i++ {
			if list[i].c.exit < before {
				return list[i]
			}
		}
		return nil
	}

	// Rule 1: every acknowledged write was written to the WAL, with the
	// COMMIT frame of its transaction, and the WAL synced after that and
	// before the acknowledgement.
	for _, a := range acks {
		r.acks++
		k, ok := firstKey[a.phase][a.key]
		if !ok {
			r.violate("%s: acknowledged %s, whose row the trace never saw written to %s", a.o.c, a.key, cfg.wal)
			continue
		}
		w := walWrites[k]
		if w.c.exit > a.o.c.entry {
			r.violate("%s: acknowledged %s before its row was written to the WAL (%s)", a.o.c, a.key, w.c)
			continue
		}
		ps := w.f.pageSize
		if ps == 0 {
			r.violate("%s: acknowledged %s: the WAL's page size is unknown (its header was not in the trace)", a.o.c, a.key)
			continue
		}
		fs := frameHeaderSize + ps
		pos := int64(bytes.Index(w.data, []byte(a.key)))
		frame := (w.off + pos - walHeaderSize) / fs
		commit, ok := commitOf(headers[w.f.id], walWrites, k, frame)
		if !ok {
			r.violate("%s: acknowledged %s, but no COMMIT frame follows its row's frame %d (%s)", a.o.c, a.key, frame, w.c)
			continue
		}
		// The transaction ends with the last byte of its commit frame.
		last := walHeaderSize + commit.frame*fs + fs - 1
		end := -1
		for i := commit.write; i < len(walWrites); i++ {
			x := walWrites[i]
			if x.f == w.f && x.off <= last && last < x.off+x.n {
				end = i
				break
			}
		}
		if end < 0 || walWrites[end].c.exit > a.o.c.entry {
			r.violate("%s: acknowledged %s before the COMMIT frame %d of its transaction was written", a.o.c, a.key, commit.frame)
			continue
		}
		if synced(syncs[w.f.id], walWrites[end].c.exit, a.o.c.entry) == nil {
			r.violate("%s: acknowledged %s, but no fsync or fdatasync of %s came between its COMMIT (%s) and the acknowledgement",
				a.o.c, a.key, filepath.Base(cfg.wal), walWrites[end].c)
		}
	}

	watched := func(dir string) bool {
		for _, d := range cfg.dirs {
			if filepath.Clean(d) == dir {
				return true
			}
		}
		return false
	}
	// firstAckAfter returns the entry of the first acknowledgement after
	// the event at, or -1.
	firstAckAfter := func(at int) int {
		i := sort.Search(len(acks), func(i int) bool { return acks[i].o.c.entry > at })
		if i < len(acks) {
			return acks[i].o.c.entry
		}
		return -1
	}
	lastWrite := map[int]*op{} // by file id: the last write or truncation so far
	for _, o := range ops {
		switch o.kind {
		case opWrite, opTrunc:
			lastWrite[o.f.id] = o
		case opOpen:
			// Rule 2: a database, journal or WAL created in a watched
			// directory is followed by a sync of the directory, before
			// any later acknowledgement.
			dir, base := filepath.Split(o.path)
			dir = filepath.Clean(dir)
			if o.f.created != o.c || !watched(dir) || !isDatabaseFile(base) {
				continue
			}
			r.creates++
			if before := firstAckAfter(o.c.exit); before >= 0 {
				if synced(dirSyncs[dir], o.c.exit, before) == nil {
					r.violate("%s: created %s, but its directory was not synced after it before the next acknowledgement", o.c, base)
				}
			} else if synced(dirSyncs[dir], o.c.exit, end) == nil {
				r.violate("%s: created %s, but its directory was not synced after it", o.c, base)
			}
		case opPlace:
			// Rule 3: a copy placed in a watched directory was synced
			// after its last write and before it was placed, and the
			// directory after.
			dir := filepath.Dir(o.to)
			if !watched(dir) {
				continue
			}
			r.placements++
			verb := "renamed"
			if o.link {
				verb = "linked"
			}
			w := lastWrite[o.f.id]
			if w == nil {
				r.violate("%s: %s %s to %s, but the trace never saw it written: nothing to check", o.c, verb, o.path, o.to)
			} else if synced(syncs[o.f.id], w.c.exit, o.c.entry) == nil {
				r.violate("%s: %s %s to %s without a sync of it after its last write (%s)", o.c, verb, o.path, o.to, w.c)
			}
			if synced(dirSyncs[dir], o.c.exit, end) == nil {
				r.violate("%s: %s %s to %s, but %s was not synced after", o.c, verb, o.path, o.to, dir)
			}
		}
	}
	return r
}

// commitOf finds the commit frame of the transaction that wrote frame with
// the WAL write k: the frame itself if its header, written before k, says
// commit, or else the first commit frame after it written later, unless the
// WAL starts over (its header is written again) first.
func commitOf(hs []frameHeader, walWrites []*op, k int, frame int64) (frameHeader, bool) {
	// The header of frame itself: the last one written up to k.
	i := sort.Search(len(hs), func(i int) bool { return hs[i].write > k })
	for j := i - 1; j >= 0; j-- {
		if hs[j].frame == frame {
			if hs[j].commit {
				return hs[j], true
			}
			break
		}
	}
	f := walWrites[k].f
	for j := i; j < len(hs); j++ {
		h := hs[j]
		if h.frame < frame {
			return frameHeader{}, false // started over
		}
		if h.commit {
			// No WAL header written in between (a restart).
			for w := k + 1; w < h.write; w++ {
				if walWrites[w].f == f && walWrites[w].off == 0 {
					return frameHeader{}, false
				}
			}
			return h, true
		}
	}
	return frameHeader{}, false
}

// isDatabaseFile reports whether base names a database, journal or WAL
// whose name must survive a power loss: not a hidden temporary file.
func isDatabaseFile(base string) bool {
	if strings.HasPrefix(base, ".") {
		return false
	}
	return strings.HasSuffix(base, ".db") || strings.HasSuffix(base, ".db-wal") || strings.HasSuffix(base, ".db-journal")
}
