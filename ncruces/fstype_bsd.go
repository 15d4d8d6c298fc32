//go:build darwin || freebsd || dragonfly

package ncruces

import "golang.org/x/sys/unix"

// statFilesystem reads f_fstypename and the MNT_LOCAL flag of path's filesystem with
// statfs(2), whose fields have these names on macOS, FreeBSD and DragonFly.
func statFilesystem(path string) (Filesystem, error) {
	var st unix.Statfs_t
	if err := ignoringEINTR(func() error { return unix.Statfs(path, &st) }); err != nil {
		return Filesystem{}, fsPathError("statfs", path, err)
	}
	return bsdFilesystem(cString(st.Fstypename[:]), uint64(st.Flags)), nil
}
