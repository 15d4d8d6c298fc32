package ncruces

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/testdir"
)

// The tables of every OS, checked on any OS with what each OS's system call would report.

func TestLinuxFilesystem(t *testing.T) {
	for _, tt := range []struct {
		name    string
		magic   int64
		subtype string
		want    Filesystem
	}{
		{"ext4", 0xef53, "", Filesystem{"ext4", LocalFilesystem}},
		{"xfs", 0x58465342, "", Filesystem{"xfs", LocalFilesystem}},
		{"btrfs", 0x9123683e, "", Filesystem{"btrfs", LocalFilesystem}},
		{"tmpfs", 0x01021994, "", Filesystem{"tmpfs", LocalFilesystem}},
		{"overlay", 0x794c7630, "", Filesystem{"overlay", LocalFilesystem}},
		{"zfs", 0x2fc12fc1, "", Filesystem{"zfs", LocalFilesystem}},
		{"nfs", 0x6969, "", Filesystem{"nfs", NetworkFilesystem}},
		{"cifs", 0xff534d42, "", Filesystem{"cifs", NetworkFilesystem}},
		{"smb2", 0xfe534d42, "", Filesystem{"smb2", NetworkFilesystem}},
		{"old smbfs", 0x517b, "", Filesystem{"smbfs", NetworkFilesystem}},
		{"9p", 0x01021997, "", Filesystem{"9p", NetworkFilesystem}},
		{"ceph", 0x00c36400, "", Filesystem{"ceph", NetworkFilesystem}},
		{"afs", 0x5346414f, "", Filesystem{"afs", NetworkFilesystem}},
		{"vboxsf", 0x786f4256, "", Filesystem{"vboxsf", NetworkFilesystem}},
		{"fuse without a subtype", 0x65735546, "", Filesystem{"fuse", FUSEFilesystem}},
		{"sshfs", 0x65735546, "fuse.sshfs", Filesystem{"fuse.sshfs", FUSEFilesystem}},
		{"glusterfs", 0x65735546, "fuse.glusterfs", Filesystem{"fuse.glusterfs", FUSEFilesystem}},
		{"virtiofs", 0x65735546, "virtiofs", Filesystem{"virtiofs", FUSEFilesystem}},
		// The subtype only refines FUSE: a local filesystem keeps its name.
		{"ext4 with a subtype", 0xef53, "ext3", Filesystem{"ext4", LocalFilesystem}},
		{"unknown", 0x12345678, "", Filesystem{"0x12345678", UnknownFilesystem}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := linuxFilesystem(tt.magic, tt.subtype); got != tt.want {
				t.Errorf("linuxFilesystem(%#x, %q): got %+v, want %+v", tt.magic, tt.subtype, got, tt.want)
			}
		})
	}
	// Every remote or user-space kind is not local; every local one is.
	for magic, m := range linuxMagic {
		f := linuxFilesystem(magic, "")
		if f.Local() != (m.kind == LocalFilesystem) {
			t.Errorf("%#x (%s): Local() = %v for kind %s", magic, m.name, f.Local(), m.kind)
		}
	}
}

func TestMountinfoType(t *testing.T) {
	// Lines as proc(5) documents them: optional fields before the "-".
	const mountinfo = `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
98 22 0:52 / /mnt/remote rw,nosuid,nodev,relatime shared:55 master:3 - fuse.sshfs user@host:/srv rw,user_id=0,group_id=0
99 22 0:53 / /mnt/plain rw,relatime - fuse /dev/fuse rw
100 22 0:54 /sub /mnt/bind rw - nfs4 server:/export rw,vers=4.2
`
	for _, tt := range []struct {
		major, minor uint32
		want         string
	}{
		{253, 1, "ext4"},
		{0, 52, "fuse.sshfs"},
		{0, 53, "fuse"},
		{0, 54, "nfs4"},
		{0, 99, ""},
	} {
		if got := mountinfoType([]byte(mountinfo), tt.major, tt.minor); got != tt.want {
			t.Errorf("mountinfoType(%d:%d): got %q, want %q", tt.major, tt.minor, got, tt.want)
		}
	}
	if got := mountinfoType([]byte("garbage\n\n1 2 0:52\n"), 0, 52); got != "" {
		t.Errorf("mountinfoType of garbage: got %q, want \"\"", got)
	}
}

func TestBSDFilesystem(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags uint64
		want  FilesystemKind
	}{
		{"apfs", mntLocal, LocalFilesystem},
		{"hfs", mntLocal | 0x1, LocalFilesystem},
		{"ufs", mntLocal, LocalFilesystem},
		{"zfs", mntLocal, LocalFilesystem},
		{"tmpfs", mntLocal, LocalFilesystem},
		{"ffs", mntLocal, LocalFilesystem},
		{"hammer2", mntLocal, LocalFilesystem},
		{"nfs", 0, NetworkFilesystem},
		{"smbfs", 0, NetworkFilesystem},
		{"afpfs", 0, NetworkFilesystem},
		{"webdav", 0, NetworkFilesystem},
		// A remote filesystem the table does not name: the kernel's flag decides.
		{"oddfs", 0, NetworkFilesystem},
		// FUSE is told by name, even when it claims to be local.
		{"macfuse", mntLocal, FUSEFilesystem},
		{"osxfuse", 0, FUSEFilesystem},
		{"fusefs.sshfs", 0, FUSEFilesystem},
		{"fusefs", mntLocal, FUSEFilesystem},
		{"puffs", mntLocal, FUSEFilesystem},
		{"fuse-t", 0, FUSEFilesystem},
		{"", mntLocal, UnknownFilesystem},
	} {
		got := bsdFilesystem(tt.name, tt.flags)
		if got.Kind != tt.want || got.Type != tt.name {
			t.Errorf("bsdFilesystem(%q, %#x): got %+v, want {%s %s}", tt.name, tt.flags, got, tt.name, tt.want)
		}
	}
}

func TestSolarisFilesystem(t *testing.T) {
	for name, want := range map[string]FilesystemKind{
		"zfs": LocalFilesystem, "ufs": LocalFilesystem, "tmpfs": LocalFilesystem, "lofs": LocalFilesystem,
		"nfs": NetworkFilesystem, "smbfs": NetworkFilesystem, "fuse": FUSEFilesystem, "mystery": UnknownFilesystem,
	} {
		if got := solarisFilesystem(name); got.Kind != want || got.Type != name {
			t.Errorf("solarisFilesystem(%q): got %+v, want kind %s", name, got, want)
		}
	}
}

func TestWindowsFilesystem(t *testing.T) {
	for _, tt := range []struct {
		name      string
		unc       bool
		driveType uint32
		fsName    string
		want      FilesystemKind
	}{
		{"fixed NTFS", false, driveFixed, "NTFS", LocalFilesystem},
		{"dev drive", false, driveFixed, "ReFS", LocalFilesystem},
		{"USB stick", false, driveRemovable, "exFAT", LocalFilesystem},
		{"RAM disk", false, driveRAMDisk, "FAT32", LocalFilesystem},
		{"mapped network drive", false, driveRemote, "NTFS", NetworkFilesystem},
		{"UNC share", true, driveRemote, "NTFS", NetworkFilesystem},
		// A UNC path is remote whatever the drive type says (\\localhost\c$, \\wsl$).
		{"UNC share, fixed", true, driveFixed, "NTFS", NetworkFilesystem},
		{"no root", false, driveNoRootDir, "", UnknownFilesystem},
		{"unknown", false, driveUnknown, "", UnknownFilesystem},
	} {
		got := windowsFilesystem(tt.unc, tt.driveType, tt.fsName)
		if got.Kind != tt.want || got.Type != tt.fsName {
			t.Errorf("%s: got %+v, want {%s %s}", tt.name, got, tt.fsName, tt.want)
		}
	}
	for path, want := range map[string]bool{
		`\\server\share\dir\x.db`:          true,
		`\\?\UNC\server\share\x.db`:        true,
		`\\?\unc\server\share\x.db`:        true,
		`\\wsl$\Debian\home\x.db`:          true,
		`\\wsl.localhost\Debian\home\x`:    true,
		`C:\Users\me\x.db`:                 false,
		`\\?\C:\Users\me\x.db`:             false,
		`\\.\C:\x.db`:                      false,
		`\\?\Volume{b75e2c83}\x.db`:        false,
		`D:x.db`:                           false,
		`\\?\GLOBALROOT\Device\Mup\x\y.db`: false,
	} {
		if got := windowsUNC(path); got != want {
			t.Errorf("windowsUNC(%q): got %v, want %v", path, got, want)
		}
	}
}

func TestFilesystemLocal(t *testing.T) {
	for kind, want := range map[FilesystemKind]bool{
		LocalFilesystem: true, UnknownFilesystem: true, "": true,
		NetworkFilesystem: false, FUSEFilesystem: false,
	} {
		if got := (Filesystem{Kind: kind}).Local(); got != want {
			t.Errorf("Filesystem{Kind: %q}.Local(): got %v, want %v", kind, got, want)
		}
	}
	if got, want := (Filesystem{"fuse.sshfs", FUSEFilesystem}).String(), "fuse.sshfs (fuse)"; got != want {
		t.Errorf("String(): got %q, want %q", got, want)
	}
}

// TestDetectFilesystem asks the running system about a test directory, and about a path
// that does not exist.
func TestDetectFilesystem(t *testing.T) {
	dir := testdir.New(t)
	f, err := DetectFilesystem(dir)
	if err != nil {
		t.Fatalf("DetectFilesystem(%s): %v", dir, err)
	}
	t.Logf("%s: %v", dir, f)
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "openbsd", "netbsd", "dragonfly", "windows":
		if f.Type == "" || f.Kind == "" {
			t.Errorf("got %+v, want a type and a kind", f)
		}
	default:
		if f.Kind != UnknownFilesystem {
			t.Errorf("got %+v, want kind unknown where the platform cannot tell", f)
		}
	}
	// The test directories are on local disks or tmpfs wherever CI runs them.
	if !f.Local() {
		t.Errorf("got %+v: the test directory is not local?", f)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := DetectFilesystem(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DetectFilesystem(missing): got %v, want fs.ErrNotExist", err)
	} else if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Path != missing {
		t.Errorf("DetectFilesystem(missing): got %#v, want an *fs.PathError naming the path", err)
	}
}

func TestParseFilesystemMode(t *testing.T) {
	for s, want := range map[string]FilesystemMode{
		"": FilesystemAuto, "auto": FilesystemAuto, "AUTO": FilesystemAuto, " local ": FilesystemLocal, "network": FilesystemNetwork,
	} {
		got, err := ParseFilesystemMode(s)
		if err != nil || got != want {
			t.Errorf("ParseFilesystemMode(%q): got %v, %v, want %v", s, got, err, want)
		}
		if s == strings.TrimSpace(strings.ToLower(s)) && s != "" && got.String() != s {
			t.Errorf("%v.String(): got %q, want %q", got, got.String(), s)
		}
	}
	for _, s := range []string{"remote", "nfs", "1"} {
		if _, err := ParseFilesystemMode(s); !errors.Is(err, ErrInvalidFilesystemMode) {
			t.Errorf("ParseFilesystemMode(%q): got %v, want ErrInvalidFilesystemMode", s, err)
		}
	}
	if got := FilesystemMode(7).String(); got != "FilesystemMode(7)" {
		t.Errorf("String of an invalid mode: got %q", got)
	}
}

// TestProfileOnFilesystem checks the profile each platform class gets on each kind of
// filesystem and with each mode.
func TestProfileOnFilesystem(t *testing.T) {
	var (
		ext4  = Filesystem{"ext4", LocalFilesystem}
		nfs   = Filesystem{"nfs", NetworkFilesystem}
		sshfs = Filesystem{"fuse.sshfs", FUSEFilesystem}
		odd   = Filesystem{"0x1234", UnknownFilesystem}
	)
	full := profileFor("linux", "amd64", "ofd", true, true, false)
	noShm := profileFor("linux", "s390x", "ofd", true, false, false)
	noLocks := profileFor("wasip1", "wasm", "none", false, false, false)
	type want struct{ single, exclusive, noLock bool }
	for _, tt := range []struct {
		name string
		p    Profile
		f    Filesystem
		mode FilesystemMode
		want want
		note bool // a note of its own
	}{
		{"local", full, ext4, FilesystemAuto, want{false, false, false}, false},
		{"unknown counts as local", full, odd, FilesystemAuto, want{false, false, false}, false},
		{"nfs", full, nfs, FilesystemAuto, want{true, true, false}, true},
		{"sshfs", full, sshfs, FilesystemAuto, want{true, true, false}, true},
		{"forced network on ext4", full, ext4, FilesystemNetwork, want{true, true, false}, true},
		{"forced local on nfs", full, nfs, FilesystemLocal, want{false, false, false}, true},
		{"forced local on ext4", full, ext4, FilesystemLocal, want{false, false, false}, false},
		{"no shared memory on nfs", noShm, nfs, FilesystemAuto, want{true, true, false}, false},
		{"no locks on nfs", noLocks, nfs, FilesystemAuto, want{true, false, true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.p.Notes)
			got := tt.p.OnFilesystem(tt.f, tt.mode)
			if w := (want{got.SingleConnection, got.LockingExclusive, got.NoLock}); w != tt.want {
				t.Errorf("{single, exclusive, nolock}: got %+v, want %+v", w, tt.want)
			}
			if got.Filesystem != tt.f || got.FilesystemMode != tt.mode {
				t.Errorf("Filesystem, FilesystemMode: got %v, %v, want %v, %v", got.Filesystem, got.FilesystemMode, tt.f, tt.mode)
			}
			if added := len(got.Notes) - len(tt.p.Notes); (added > 0) != tt.note {
				t.Errorf("notes: got %q, want a note of its own: %v", got.Notes, tt.note)
			}
			if !slices.Equal(tt.p.Notes, before) {
				t.Errorf("the receiver's notes changed: %q", tt.p.Notes)
			}
			if got.JournalMode != tt.p.JournalMode {
				t.Errorf("JournalMode: got %q, want %q", got.JournalMode, tt.p.JournalMode)
			}
		})
	}

	nl := full.NoLocking("no locks here")
	if !nl.NoLock || !nl.SingleConnection || nl.LockingExclusive || nl.JournalMode != "delete" || !slices.Contains(nl.Notes, "no locks here") {
		t.Errorf("NoLocking: got %+v", nl)
	}
	if ex := nl.Exclusive("x"); ex.LockingExclusive || slices.Contains(ex.Notes, "x") {
		t.Errorf("Exclusive of a profile without locks: got %+v, want it unchanged", ex)
	}
}

// TestOpenNoLockingProfile opens a new database with the profile of NoLocking on a platform
// that has locks: nolock=1 and a rollback journal, as on a filesystem that refuses SQLite's
// locks; and checks that a database in WAL format cannot be opened so, as documented.
func TestOpenNoLockingProfile(t *testing.T) {
	dir := testdir.New(t)
	p := Platform().NoLocking("test")
	db := mustOpen(t, Config{Path: filepath.Join(dir, "n.db"), Profile: &p})
	mustExec(t, db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)")
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("journal_mode: got %q, %v, want delete", mode, err)
	}
	if !Platform().FileLocking || !Platform().SharedMemory {
		return // no WAL database to make here
	}
	walPath := filepath.Join(dir, "w.db")
	wal := mustOpen(t, Config{Path: walPath})
	mustExec(t, wal, "CREATE TABLE t (x)")
	if err := wal.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), Config{Path: walPath, Profile: &p}); !errors.Is(err, ErrCantOpen) {
		t.Errorf("a WAL database without locks: got %v, want ErrCantOpen", err)
	}
}

func TestFilesystemErrorClasses(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("open: %w", err) }
	for _, tt := range []struct {
		err        error
		shm, locks bool
	}{
		{wrap(sqlite3.PROTOCOL), true, false},
		{wrap(sqlite3.IOERR_SHMOPEN), true, false},
		{wrap(sqlite3.IOERR_SHMSIZE), true, false},
		{wrap(sqlite3.IOERR_SHMMAP), true, false},
		{wrap(sqlite3.IOERR_SHMLOCK), true, false},
		{wrap(sqlite3.IOERR_LOCK), false, true},
		{wrap(sqlite3.IOERR_RDLOCK), false, true},
		{wrap(sqlite3.IOERR_UNLOCK), false, true},
		{wrap(sqlite3.IOERR_CHECKRESERVEDLOCK), false, true},
		{wrap(sqlite3.IOERR_WRITE), false, false},
		{wrap(sqlite3.BUSY), false, false},
		{nil, false, false},
	} {
		if got := IsSharedMemoryError(tt.err); got != tt.shm {
			t.Errorf("IsSharedMemoryError(%v): got %v, want %v", tt.err, got, tt.shm)
		}
		if got := IsLockingError(tt.err); got != tt.locks {
			t.Errorf("IsLockingError(%v): got %v, want %v", tt.err, got, tt.locks)
		}
	}
}

// TestDeniedError checks the diagnosis of a file SQLite could not create although the
// permissions allow it, with the errors SQLite reports then (as a Landlock sandbox produces
// them: e2e's TestSandbox runs the real thing).
func TestDeniedError(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "wasip1" || runtime.GOOS == "js" || runtime.GOOS == "plan9" {
		t.Skipf("no access(2) on %s: nothing is called denied", runtime.GOOS)
	}
	if os.Geteuid() != 0 && !writable(testdir.New(t)) {
		t.Skip("test directories are not writable")
	}
	dir := testdir.New(t)
	db := filepath.Join(dir, "x.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readonly := fmt.Errorf("PRAGMA journal_mode=WAL: %w", sqlite3.READONLY)
	shmErr := fmt.Errorf("wrapped: %w", &fs.PathError{Op: "open", Path: db + "-shm", Err: syscall.EACCES})
	for _, tt := range []struct {
		name      string
		journal   string
		exclusive bool
		err       error
		wantPath  string // "" for not denied
	}{
		{"WAL, no -wal", "wal", false, readonly, db + "-wal"},
		{"WAL exclusive, no -wal", "wal", true, readonly, db + "-wal"},
		{"rollback journal", "delete", false, readonly, db + "-journal"},
		{"the system named the file", "wal", false, shmErr, db + "-shm"},
		{"another error", "wal", false, fmt.Errorf("x: %w", sqlite3.IOERR_WRITE), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := deniedError(db, tt.journal, tt.exclusive, tt.err)
			var d *DeniedError
			if !errors.As(err, &d) {
				if tt.wantPath != "" {
					t.Fatalf("got %v, want a *DeniedError", err)
				}
				if err != tt.err {
					t.Errorf("got %v, want the error unchanged", err)
				}
				return
			}
			if tt.wantPath == "" {
				t.Fatalf("got %v, want the error unchanged", err)
			}
			if d.Path != tt.wantPath || d.Op != "create" || !errors.Is(err, ErrDenied) || !errors.Is(err, tt.err) {
				t.Errorf("got %+v, want create %s, matching ErrDenied and the cause", d, tt.wantPath)
			}
			for _, want := range []string{"create", tt.wantPath, "sandbox"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q: want it to contain %q", err, want)
				}
			}
		})
	}
	// Once the file exists, the cause is not its creation.
	if err := os.WriteFile(db+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := deniedError(db, "wal", true, readonly); err != readonly {
		t.Errorf("with the -wal there: got %v, want the error unchanged", err)
	}
}
