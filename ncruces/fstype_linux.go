//go:build linux

package ncruces

import (
	"os"

	"golang.org/x/sys/unix"
)

// statFilesystem reads the f_type of path's filesystem with statfs(2). For FUSE, whose f_type
// is the same for every server, it also looks up the mount's type ("fuse.sshfs") in
// /proc/self/mountinfo by the device number of path.
func statFilesystem(path string) (Filesystem, error) {
	var st unix.Statfs_t
	if err := ignoringEINTR(func() error { return unix.Statfs(path, &st) }); err != nil {
		return Filesystem{}, fsPathError("statfs", path, err)
	}
	magic := int64(st.Type) & 0xffffffff // f_type is a signed word on 32-bit CPUs
	subtype := ""
	if m, ok := linuxMagic[magic]; ok && m.kind == FUSEFilesystem {
		subtype = mountType(path)
	}
	return linuxFilesystem(magic, subtype), nil
}

// mountType returns the filesystem type that /proc/self/mountinfo gives the mount holding
// path, found by its device number, or "" if it cannot tell.
func mountType(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return ""
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	return mountinfoType(data, unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
}
