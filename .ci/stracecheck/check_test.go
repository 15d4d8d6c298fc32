package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The synthetic traces: a workspace in /w, its WAL with 512-byte pages, an
// acknowledgement log /acks, and a backup into /b.
const (
	wal      = "/w/litedir.db-wal"
	pageSize = 512
)

// hexString formats b as strace -x does.
func hexString(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		fmt.Fprintf(&s, "\\x%02x", c)
	}
	s.WriteByte('"')
	return s.String()
}

// walHeader is the 32-byte WAL header with the page size.
func walHeader() string {
	b := make([]byte, walHeaderSize)
	binary.BigEndian.PutUint32(b, 0x377f0682)
	binary.BigEndian.PutUint32(b[8:], pageSize)
	return fmt.Sprintf("pwrite64(11, %s, 32, 0) = 32", hexString(b))
}

// frame returns the two pwrite64 lines of WAL frame i on descriptor 11: its
// header (commit or not) and its page, holding the text rows.
func frame(i int, commit bool, rows ...string) (header, page string) {
	h := make([]byte, frameHeaderSize)
	binary.BigEndian.PutUint32(h, uint32(i+2))
	if commit {
		binary.BigEndian.PutUint32(h[4:], 9)
	}
	off := walHeaderSize + i*(frameHeaderSize+pageSize)
	p := make([]byte, pageSize)
	copy(p[100:], strings.Join(rows, "user"))
	return fmt.Sprintf("pwrite64(11, %s, 24, %d) = 24", hexString(h), off),
		fmt.Sprintf("pwrite64(11, %s, %d, %d) = %d", hexString(p), pageSize, off+frameHeaderSize, pageSize)
}

// trace numbers lines as strace -f -o does: "PID  line", one pid unless the
// line has its own prefix.
func trace(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if l[0] < '0' || l[0] > '9' {
			l = "100   " + l
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// open is the start of every WAL trace: the acknowledgement log, the WAL
// created and its directory synced, the WAL header.
func open() []string {
	return []string{
		`openat(AT_FDCWD, "/acks", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 5`,
		`write(5, "phase litedir\n", 14) = 14`,
		`openat(AT_FDCWD, "/w/litedir.db-wal", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 11`,
		`openat(AT_FDCWD, "/w", O_RDONLY|O_CLOEXEC) = 12`,
		`fsync(12) = 0`,
		`close(12) = 0`,
		walHeader(),
	}
}

func ackLine(key string) string {
	return fmt.Sprintf(`write(5, "ack %s\n", %d) = %d`, key, len(key)+5, len(key)+5)
}

func runCheck(t *testing.T, text string, cfg config) *report {
	t.Helper()
	calls, err := parseTrace(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	ops, notes := resolve(calls, "/")
	for _, n := range notes {
		t.Log("note:", n)
	}
	return check(ops, cfg)
}

func TestAcknowledgements(t *testing.T) {
	h0, p0 := frame(0, false, "w0.0:body")
	h1, p1 := frame(1, true, "w1.0:body")
	h2, p2 := frame(2, true, "w0.1:body")
	cfg := config{acks: "/acks", wal: wal, dirs: []string{"/w"}}
	tests := []struct {
		name  string
		lines []string
		want  []string // substrings of the violations, in order; none for a pass
	}{
		{"synced before the acknowledgements", []string{h0, p0, h1, p1, "fdatasync(11) = 0", ackLine("w0.0:"), ackLine("w1.0:")}, nil},
		{"synced through another descriptor", []string{h0, p0, h1, p1,
			`openat(AT_FDCWD, "/w/litedir.db-wal", O_RDWR|O_CLOEXEC) = 16`, "fdatasync(16) = 0", ackLine("w0.0:")}, nil},
		{"fsync counts too", []string{h0, p0, h1, p1, "fsync(11) = 0", ackLine("w1.0:")}, nil},
		{"never synced", []string{h0, p0, h1, p1, ackLine("w0.0:"), ackLine("w1.0:")},
			[]string{"acknowledged w0.0:, but no fsync", "acknowledged w1.0:, but no fsync"}},
		{"synced before the COMMIT frame's page", []string{h0, p0, h1, "fdatasync(11) = 0", p1, ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"synced before the COMMIT frame", []string{h0, p0, "fdatasync(11) = 0", h1, p1, ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"a later sync covers an earlier commit", []string{h0, p0, h1, p1, h2, p2, "fdatasync(11) = 0", ackLine("w0.0:"), ackLine("w0.1:")}, nil},
		{"a later batch may be unsynced at an earlier acknowledgement", []string{h0, p0, h1, p1, "fdatasync(11) = 0", h2, p2, ackLine("w0.0:")}, nil},
		{"the later batch acknowledged unsynced", []string{h0, p0, h1, p1, "fdatasync(11) = 0", h2, p2, ackLine("w0.1:")},
			[]string{"acknowledged w0.1:, but no fsync"}},
		{"acknowledged before its row was written", []string{ackLine("w0.0:"), h0, p0, h1, p1, "fdatasync(11) = 0"},
			[]string{"acknowledged w0.0: before its row was written"}},
		{"acknowledged before its COMMIT frame", []string{h0, p0, "fdatasync(11) = 0", ackLine("w0.0:"), h1, p1},
			[]string{"before the COMMIT frame 1 of its transaction was written"}},
		{"no COMMIT frame at all", []string{h0, p0, "fdatasync(11) = 0", ackLine("w0.0:")},
			[]string{"no COMMIT frame follows"}},
		{"never written", []string{h0, p0, h1, p1, "fdatasync(11) = 0", ackLine("w9.9:")},
			[]string{"never saw written"}},
		{"a sync that ends after the acknowledgement", []string{h0, p0, h1, p1,
			"101   fdatasync(11 <unfinished ...>", ackLine("w0.0:"), "101   <... fdatasync resumed>) = 0"},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"a sync that started before the commit", []string{h0, p0,
			"101   fdatasync(11 <unfinished ...>", h1, p1, "101   <... fdatasync resumed>) = 0", ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"a failed sync", []string{h0, p0, h1, p1, "fdatasync(11) = -1 EIO (Input/output error)", ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"a sync of another file", []string{h0, p0, h1, p1,
			`openat(AT_FDCWD, "/w/litedir.db", O_RDWR|O_CLOEXEC) = 13`, "fdatasync(13) = 0", ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"a sync of a WAL deleted and created again", []string{h0, p0, h1, p1,
			`unlink("/w/litedir.db-wal") = 0`,
			`openat(AT_FDCWD, "/w/litedir.db-wal", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 16`,
			`openat(AT_FDCWD, "/w", O_RDONLY|O_CLOEXEC) = 12`, `fsync(12) = 0`,
			"fdatasync(16) = 0", ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
		{"a descriptor reused while its close runs", []string{h0, p0, h1, p1,
			"101   close(11 <unfinished ...>",
			`102   openat(AT_FDCWD, "/w/other", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 11`,
			"101   <... close resumed>) = 0",
			"fdatasync(11) = 0", ackLine("w0.0:")},
			[]string{"acknowledged w0.0:, but no fsync"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, trace(append(open(), tt.lines...)...), cfg)
			if len(r.violations) != len(tt.want) {
				t.Fatalf("violations: got %d, want %d:\n%s", len(r.violations), len(tt.want), strings.Join(r.violations, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(r.violations[i], w) {
					t.Errorf("violation %d: got %q, want it to say %q", i, r.violations[i], w)
				}
			}
			if r.acks == 0 || r.creates == 0 {
				t.Errorf("checked %d acknowledgements and %d created files, want some of each", r.acks, r.creates)
			}
		})
	}
}

func TestCreatedFiles(t *testing.T) {
	cfg := config{acks: "/acks", wal: wal, dirs: []string{"/w"}}
	create := `openat(AT_FDCWD, "/w/litedir.db", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8`
	dirSync := []string{`openat(AT_FDCWD, "/w", O_RDONLY|O_CLOEXEC) = 12`, `fsync(12) = 0`, `close(12) = 0`}
	ack := []string{`openat(AT_FDCWD, "/acks", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 5`, `write(5, "phase x\n", 8) = 8`}
	tests := []struct {
		name  string
		lines []string
		want  int
	}{
		{"synced", append([]string{create}, dirSync...), 0},
		{"never synced", []string{create}, 1},
		{"synced before it was created", append(append([]string{}, dirSync...), create), 1},
		{"synced after an acknowledgement", append(append(append([]string{create}, ack...), `write(5, "ack w0.0:\n", 10) = 10`), dirSync...), 2},
		{"a hidden temporary file", []string{`openat(AT_FDCWD, "/w/.x.db.tmp-1", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8`}, 0},
		{"another directory", []string{`openat(AT_FDCWD, "/other/x.db", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8`}, 0},
		{"an existing file opened", []string{`openat(AT_FDCWD, "/w/litedir.db", O_RDWR|O_CLOEXEC) = 8`}, 0},
		{"a failed create", []string{`openat(AT_FDCWD, "/w/litedir.db", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = -1 EEXIST (File exists)`}, 0},
		{"relative to the directory's descriptor", []string{`openat(AT_FDCWD, "/w", O_RDONLY|O_CLOEXEC) = 12`,
			`openat(12, "litedir.db-journal", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8`}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, trace(tt.lines...), cfg)
			if len(r.violations) != tt.want {
				t.Errorf("violations: got %d, want %d:\n%s", len(r.violations), tt.want, strings.Join(r.violations, "\n"))
			}
		})
	}
}

func TestPlacements(t *testing.T) {
	cfg := config{dirs: []string{"/b"}}
	tmp := `"/b/.c.db.tmp-1"`
	write := []string{
		`openat(AT_FDCWD, ` + tmp + `, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8`,
		`pwrite64(8, "SQLite format 3\0", 16, 0) = 16`,
		`close(8) = 0`,
	}
	syncCopy := []string{`openat(AT_FDCWD, ` + tmp + `, O_RDWR|O_CLOEXEC) = 9`, `fsync(9) = 0`, `close(9) = 0`}
	link := `linkat(AT_FDCWD, ` + tmp + `, AT_FDCWD, "/b/c.db", 0) = 0`
	rename := `renameat(AT_FDCWD, ` + tmp + `, AT_FDCWD, "/b/c.db") = 0`
	syncDir := []string{`openat(AT_FDCWD, "/b", O_RDONLY|O_CLOEXEC) = 10`, `fsync(10) = 0`}
	cat := func(parts ...any) []string {
		var out []string
		for _, p := range parts {
			switch p := p.(type) {
			case string:
				out = append(out, p)
			case []string:
				out = append(out, p...)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"synced, linked, directory synced", cat(write, syncCopy, link, syncDir), nil},
		{"synced, renamed, directory synced", cat(write, syncCopy, rename, syncDir), nil},
		{"not synced", cat(write, link, syncDir), []string{"without a sync of it after its last write"}},
		{"synced before its last write", cat(syncCopy, write, link, syncDir), []string{"without a sync"}},
		{"synced after it was placed", cat(write, link, syncCopy, syncDir), []string{"without a sync"}},
		{"directory not synced", cat(write, syncCopy, link), []string{"/b was not synced after"}},
		{"directory synced before", cat(write, syncCopy, syncDir, link), []string{"/b was not synced after"}},
		{"never written in the trace", cat(link, syncDir), []string{"never saw it written"}},
		{"elsewhere", []string{`rename("/x/a", "/x/b") = 0`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, trace(tt.lines...), cfg)
			if len(r.violations) != len(tt.want) {
				t.Fatalf("violations: got %d, want %d:\n%s", len(r.violations), len(tt.want), strings.Join(r.violations, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(r.violations[i], w) {
					t.Errorf("violation %d: got %q, want it to say %q", i, r.violations[i], w)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	text := trace(
		`100   12:00:00.000001 openat(AT_FDCWD, "/a b", O_RDONLY|O_CLOEXEC) = 3`,
		`101   12:00:00.000002 fdatasync(3 <unfinished ...>`,
		`100   12:00:00.000003 write(1, "x\ty\\\"\0\377z) = 1", 11) = 11`,
		`101   12:00:00.000004 <... fdatasync resumed>) = 0`,
		`100   12:00:00.000005 fcntl(3, F_GETFL) = 0x8000 (flags O_RDONLY|O_LARGEFILE)`,
		`100   12:00:00.000006 openat(AT_FDCWD, "/missing", O_RDONLY) = -1 ENOENT (No such file or directory)`,
		`100   --- SIGURG {si_signo=SIGURG} ---`,
		`100   12:00:00.000007 pwrite64(3, "abc"..., 4096, 0) = 4096`,
		`102   12:00:00.000008 fsync(4 <unfinished ...>`,
		`102   +++ killed by SIGKILL +++`,
	)
	calls, err := parseTrace(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 7 {
		t.Fatalf("got %d calls, want 7: %v", len(calls), calls)
	}
	c := calls[1]
	if c.name != "fdatasync" || c.entry != 2 || c.exit != 4 || !c.ok() || c.time != "12:00:00.000002" {
		t.Errorf("the resumed call: got %+v, want fdatasync from line 2 to 4, ok", c)
	}
	if calls[0].args[1] != `"/a b"` || calls[0].ret != 3 {
		t.Errorf("openat: got args %q = %d", calls[0].args, calls[0].ret)
	}
	b, truncated, err := unquote(calls[2].args[1])
	if err != nil || truncated || !bytes.Equal(b, []byte("x\ty\\\"\x00\xffz) = 1")) || calls[2].ret != 11 {
		t.Errorf("write's data: got %q, %v, %v", b, truncated, err)
	}
	if calls[3].ret != 0x8000 {
		t.Errorf("fcntl: got %d, want 0x8000", calls[3].ret)
	}
	if c := calls[4]; c.ok() || c.errno != "ENOENT" {
		t.Errorf("failed openat: got ok %v, errno %q", c.ok(), c.errno)
	}
	if _, truncated, _ := unquote(calls[5].args[1]); !truncated {
		t.Error("pwrite64 data cut by -s: not reported truncated")
	}
	if calls[6].done {
		t.Error("a call its process was killed in: reported done")
	}
	for _, bad := range []string{`"\x4"`, `abc`, `"abc\`} {
		if _, _, err := unquote(bad); err == nil {
			t.Errorf("unquote(%q): no error", bad)
		}
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace")
	h0, p0 := frame(0, true, "w0.0:body")
	good := trace(append(open(), h0, p0, "fdatasync(11) = 0", ackLine("w0.0:"))...)
	bad := trace(append(open(), h0, p0, ackLine("w0.0:"))...)
	for _, tt := range []struct {
		name string
		text string
		args []string
		want int
		out  string
	}{
		{"pass", good, []string{"-acks", "/acks", "-wal", wal, "-dir", "/w", "-min-acks", "1", "-min-creates", "1"}, 0, "1 acknowledged writes checked"},
		{"violation", bad, []string{"-acks", "/acks", "-wal", wal, "-dir", "/w"}, 1, "VIOLATION"},
		{"too few acknowledgements", good, []string{"-acks", "/acks", "-wal", wal, "-min-acks", "2"}, 1, "want at least 2"},
		{"nothing placed", good, []string{"-dir", "/w", "-min-placements", "1"}, 1, "0 placed copies checked"},
		{"-acks without -wal", good, []string{"-acks", "/acks"}, 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			got := run(append(tt.args, path), &out, &errOut)
			if got != tt.want || !strings.Contains(out.String(), tt.out) {
				t.Errorf("run %q: got %d, want %d; output:\n%s%s", tt.args, got, tt.want, out.String(), errOut.String())
			}
		})
	}
}
