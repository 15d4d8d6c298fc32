package ncruces

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// SQLite's WAL mode keeps its index in a -shm file that every connection maps into memory, and
// coordinates through byte-range locks on it: both must be coherent across every process that
// opens the database. On a network filesystem (NFS, SMB/CIFS, AFS, Ceph, 9p) or a FUSE
// filesystem (sshfs, GlusterFS, virtiofs...) neither is promised: SQLite's documentation says
// plainly that WAL does not work over a network filesystem, and two ordinary processes can
// corrupt a database there. So the platform profile depends on the filesystem too:
// [DetectFilesystem] tells what holds a path, and [Profile.OnFilesystem] turns a non-local one
// into the single-connection profile that shares no WAL index through the filesystem.
//
// This file holds the tables, as plain functions of what the operating system reports, so that
// the tables of every OS are tested on any OS (fstype_test.go); fstype_linux.go,
// fstype_bsd.go, fstype_openbsd.go, fstype_netbsd.go, fstype_solaris.go, fstype_windows.go and
// fstype_other.go ask the operating system.

// FilesystemKind is the class of a filesystem: what litedir needs to know about it.
type FilesystemKind string

const (
	// LocalFilesystem is a filesystem of this host's disks or memory (ext4, XFS, Btrfs, ZFS,
	// tmpfs, overlay, APFS, NTFS...): SQLite's shared memory and locks work.
	LocalFilesystem FilesystemKind = "local"
	// NetworkFilesystem is a filesystem served by another machine or a hypervisor (NFS,
	// SMB/CIFS, AFS, CephFS, 9p, cluster filesystems, mapped drives and UNC paths).
	NetworkFilesystem FilesystemKind = "network"
	// FUSEFilesystem is a filesystem in user space (sshfs, GlusterFS, virtiofs, macFUSE,
	// NetBSD's puffs): its locks and shared mappings are whatever its server makes of them.
	FUSEFilesystem FilesystemKind = "fuse"
	// UnknownFilesystem is a filesystem whose type could not be learned, or is in no table:
	// treated as local (see [Filesystem.Local]).
	UnknownFilesystem FilesystemKind = "unknown"
)

// Filesystem describes the filesystem that holds a path, as [DetectFilesystem] finds it.
type Filesystem struct {
	// Type names the filesystem as the operating system does: "ext4", "nfs", "fuse.sshfs"
	// (Linux: the statfs magic number, and for FUSE the subtype in /proc/self/mountinfo),
	// "apfs", "smbfs" (macOS and the BSDs: f_fstypename), "NTFS" (Windows: the volume's
	// file system). A type in no table is its number ("0x1234abcd"); "" when nothing could
	// be learned.
	Type string

	// Kind is the class that decides what litedir does.
	Kind FilesystemKind
}

// Local reports whether SQLite's shared memory and locks can be trusted on f: its Kind is
// LocalFilesystem, or UnknownFilesystem (a filesystem in no table is far more often a local one
// litedir does not list than a remote one; the fallback on SQLite's errors covers the rest).
// The zero Filesystem is local too.
func (f Filesystem) Local() bool {
	return f.Kind != NetworkFilesystem && f.Kind != FUSEFilesystem
}

// String returns the type and the kind, such as "fuse.sshfs (fuse)".
func (f Filesystem) String() string {
	switch {
	case f.Type == "" && f.Kind == "":
		return "unknown"
	case f.Type == "":
		return string(f.Kind)
	case f.Kind == "":
		return f.Type
	}
	return fmt.Sprintf("%s (%s)", f.Type, f.Kind)
}

// DetectFilesystem reports the filesystem that holds path, which must exist: statfs(2) on
// Linux, f_fstypename and MNT_LOCAL on macOS and the BSDs, statvfs(2)'s f_basetype on Solaris
// and illumos, the drive type of the volume on Windows (remote drives, mapped drives and UNC
// paths are NetworkFilesystem). Where the platform has no way to tell (plan9, js, wasip1, AIX)
// it returns a Filesystem of UnknownFilesystem and no error. Errors are *fs.PathErrors.
func DetectFilesystem(path string) (Filesystem, error) {
	f, err := statFilesystem(path)
	if err != nil {
		return Filesystem{Kind: UnknownFilesystem}, err
	}
	return f, nil
}

// FilesystemMode says how [Profile.OnFilesystem] treats the filesystem of a database.
type FilesystemMode int

const (
	// FilesystemAuto, the zero value, goes by the filesystem's kind: the single-connection
	// profile on network and FUSE filesystems, the platform's own profile elsewhere.
	FilesystemAuto FilesystemMode = iota
	// FilesystemLocal treats any filesystem as local: WAL with shared memory and a read pool
	// where the platform has them, also on a network or FUSE filesystem. Only safe when every
	// process that opens the database runs on one host and the filesystem keeps one host's
	// mappings and locks coherent (a FUSE filesystem that is really local, such as
	// fuse-overlayfs).
	FilesystemLocal
	// FilesystemNetwork treats any filesystem as a network one: the single-connection
	// profile everywhere.
	FilesystemNetwork
)

// String returns "auto", "local" or "network" (or "FilesystemMode(n)").
func (m FilesystemMode) String() string {
	switch m {
	case FilesystemAuto:
		return "auto"
	case FilesystemLocal:
		return "local"
	case FilesystemNetwork:
		return "network"
	}
	return fmt.Sprintf("FilesystemMode(%d)", int(m))
}

// ErrInvalidFilesystemMode reports a FilesystemMode that [ParseFilesystemMode] or Open does not
// know.
var ErrInvalidFilesystemMode = errors.New("ncruces: invalid filesystem mode")

// ParseFilesystemMode returns the mode named s: "auto" or "" (FilesystemAuto), "local"
// (FilesystemLocal), "network" (FilesystemNetwork), in any case. Anything else is an
// error matching ErrInvalidFilesystemMode.
func ParseFilesystemMode(s string) (FilesystemMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FilesystemAuto, nil
	case "local":
		return FilesystemLocal, nil
	case "network":
		return FilesystemNetwork, nil
	}
	return 0, fmt.Errorf("%w: %q (want auto, local or network)", ErrInvalidFilesystemMode, s)
}

// fsMagic is a row of the Linux table: the name of a statfs(2) f_type and its kind.
type fsMagic struct {
	name string
	kind FilesystemKind
}

// linuxMagic are the f_type values of statfs(2) (include/uapi/linux/magic.h, and the
// out-of-tree filesystems' own headers) that litedir tells apart. Every remote or user-space
// filesystem the kernel lists is here; of the local ones, those a database lives on.
var linuxMagic = map[int64]fsMagic{
	// Network and cluster filesystems: another machine serves the data, and the kernel's
	// shared mappings and locks are not coherent with other clients'.
	0x6969:     {"nfs", NetworkFilesystem},
	0x517b:     {"smbfs", NetworkFilesystem},
	0xff534d42: {"cifs", NetworkFilesystem},
	0xfe534d42: {"smb2", NetworkFilesystem},
	0x01021997: {"9p", NetworkFilesystem}, // QEMU shares, WSL2's drives
	0x00c36400: {"ceph", NetworkFilesystem},
	0x5346414f: {"afs", NetworkFilesystem},
	0x6b414653: {"kafs", NetworkFilesystem},
	0x73757245: {"coda", NetworkFilesystem},
	0x564c:     {"ncpfs", NetworkFilesystem},
	0x7461636f: {"ocfs2", NetworkFilesystem},
	0x01161970: {"gfs2", NetworkFilesystem},
	0x0bd00bd0: {"lustre", NetworkFilesystem},
	0x47504653: {"gpfs", NetworkFilesystem},
	0x19830326: {"beegfs", NetworkFilesystem},
	0x20030528: {"orangefs", NetworkFilesystem},
	0xaad7aaea: {"panfs", NetworkFilesystem},
	0x786f4256: {"vboxsf", NetworkFilesystem}, // VirtualBox shared folders
	0xbacbacbc: {"vmhgfs", NetworkFilesystem}, // VMware shared folders
	0x7c7c6673: {"prl_fs", NetworkFilesystem}, // Parallels shared folders
	0x013111a8: {"ibrix", NetworkFilesystem},
	0x53464846: {"wslfs", NetworkFilesystem}, // WSL1's drvfs

	// FUSE: sshfs, GlusterFS, s3fs, rclone, virtiofs... (the subtype, when
	// /proc/self/mountinfo has it, names which).
	0x65735546: {"fuse", FUSEFilesystem},

	// Local filesystems.
	0xef53:     {"ext4", LocalFilesystem}, // ext2, ext3 and ext4 share the number
	0x58465342: {"xfs", LocalFilesystem},
	0x9123683e: {"btrfs", LocalFilesystem},
	0x01021994: {"tmpfs", LocalFilesystem},
	0x858458f6: {"ramfs", LocalFilesystem},
	0x794c7630: {"overlay", LocalFilesystem},
	0x2fc12fc1: {"zfs", LocalFilesystem},
	0xf2f52010: {"f2fs", LocalFilesystem},
	0xca451a4e: {"bcachefs", LocalFilesystem},
	0x3153464a: {"jfs", LocalFilesystem},
	0x52654973: {"reiserfs", LocalFilesystem},
	0x4d44:     {"vfat", LocalFilesystem},
	0x2011bab0: {"exfat", LocalFilesystem},
	0x5346544e: {"ntfs", LocalFilesystem},
	0x7366746e: {"ntfs3", LocalFilesystem},
	0x4244:     {"hfs", LocalFilesystem},
	0x482b:     {"hfsplus", LocalFilesystem},
	0x3434:     {"nilfs2", LocalFilesystem},
	0xf15f:     {"ecryptfs", LocalFilesystem},
	0x73717368: {"squashfs", LocalFilesystem},
	0xe0f5e1e2: {"erofs", LocalFilesystem},
	0x9660:     {"iso9660", LocalFilesystem},
	0x15013346: {"udf", LocalFilesystem},
	0x958458f6: {"hugetlbfs", LocalFilesystem},
	0x28cd3d45: {"cramfs", LocalFilesystem},
	0x5a3c69f0: {"zonefs", LocalFilesystem},
}

// linuxFilesystem is the Linux table: magic is statfs(2)'s f_type, subtype the filesystem type
// of the mount in /proc/self/mountinfo ("fuse.sshfs"; "" when unknown). Only FUSE's subtype
// says more than the magic number: which server runs the filesystem.
func linuxFilesystem(magic int64, subtype string) Filesystem {
	m, ok := linuxMagic[magic]
	if !ok {
		return Filesystem{Type: fmt.Sprintf("%#x", magic), Kind: UnknownFilesystem}
	}
	f := Filesystem{Type: m.name, Kind: m.kind}
	if m.kind == FUSEFilesystem && subtype != "" {
		f.Type = subtype
	}
	return f
}

// mountinfoType returns the filesystem type of the first mount of device major:minor in data,
// the text of /proc/self/mountinfo (proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 -
// ext3 /dev/root rw,errors=continue": the third field is the device, the first after the "-"
// separator the type), or "".
func mountinfoType(data []byte, major, minor uint32) string {
	dev := fmt.Sprintf("%d:%d", major, minor)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[2] != dev {
			continue
		}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				return fields[i+1]
			}
		}
	}
	return ""
}

// mntLocal is MNT_LOCAL, the statfs(2) flag of a local filesystem on macOS and the BSDs: the
// same bit on every one of them.
const mntLocal = 0x1000

// bsdFilesystem is the table of macOS and the BSDs: name is f_fstypename, flags f_flags
// (f_flag of NetBSD's statvfs). The kernel's MNT_LOCAL says local or remote; FUSE and puffs
// mounts are told by name, whatever their flags (macFUSE mounts can claim to be local).
func bsdFilesystem(name string, flags uint64) Filesystem {
	f := Filesystem{Type: name, Kind: LocalFilesystem}
	lower := strings.ToLower(name)
	switch {
	case name == "":
		f.Kind = UnknownFilesystem
	case strings.HasPrefix(lower, "fuse"), strings.HasPrefix(lower, "macfuse"), strings.HasPrefix(lower, "osxfuse"),
		lower == "fuse-t", lower == "puffs", lower == "perfuse", lower == "refuse":
		f.Kind = FUSEFilesystem
	case lower == "nfs", lower == "nfs4", lower == "smbfs", lower == "afpfs", lower == "webdav", lower == "ftp",
		lower == "cifs", lower == "9p", lower == "p9fs", lower == "afs", lower == "coda":
		f.Kind = NetworkFilesystem
	case flags&mntLocal == 0:
		// Anything else the kernel does not call local: a remote filesystem this table does
		// not name.
		f.Kind = NetworkFilesystem
	}
	return f
}

// solarisFilesystem is the table of Solaris and illumos: basetype is statvfs(2)'s f_basetype,
// which has no local flag beside it.
func solarisFilesystem(basetype string) Filesystem {
	f := Filesystem{Type: basetype, Kind: UnknownFilesystem}
	switch basetype {
	case "nfs", "nfs3", "nfs4", "smbfs", "cachefs", "autofs":
		f.Kind = NetworkFilesystem
	case "fuse", "fusefs":
		f.Kind = FUSEFilesystem
	case "zfs", "ufs", "tmpfs", "lofs", "pcfs", "hsfs", "udfs", "swapfs":
		f.Kind = LocalFilesystem
	}
	return f
}

// Windows drive types (GetDriveTypeW), for windowsFilesystem.
const (
	driveUnknown   = 0
	driveNoRootDir = 1
	driveRemovable = 2
	driveFixed     = 3
	driveRemote    = 4
	driveCDROM     = 5
	driveRAMDisk   = 6
)

// windowsFilesystem is the Windows table: unc reports a path on a UNC share (\\server\share,
// \\?\UNC\..., \\wsl$\...), driveType is GetDriveTypeW of the path's volume, fsName the file
// system name GetVolumeInformationW reports for it ("NTFS", "ReFS"; "" when unknown). A mapped
// network drive is DRIVE_REMOTE.
func windowsFilesystem(unc bool, driveType uint32, fsName string) Filesystem {
	f := Filesystem{Type: fsName, Kind: UnknownFilesystem}
	switch {
	case unc || driveType == driveRemote:
		f.Kind = NetworkFilesystem
	case driveType == driveFixed, driveType == driveRemovable, driveType == driveRAMDisk, driveType == driveCDROM:
		f.Kind = LocalFilesystem
	}
	return f
}

// windowsUNC reports whether the absolute Windows path is on a UNC share: \\server\share\...,
// or \\?\UNC\server\share\... in the long form. Device paths (\\?\C:\, \\.\) are not.
func windowsUNC(path string) bool {
	if rest, ok := strings.CutPrefix(path, `\\?\`); ok {
		return len(rest) >= 4 && strings.EqualFold(rest[:4], `UNC\`)
	}
	return strings.HasPrefix(path, `\\`) && !strings.HasPrefix(path, `\\.\`)
}

// fsPathError wraps err, from the system call op on path, in an *fs.PathError unless it is
// one already.
func fsPathError(op, path string, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return err
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
