//go:build netbsd

package ncruces

import "golang.org/x/sys/unix"

// statFilesystem reads f_fstypename and the MNT_LOCAL flag of path's filesystem with
// statvfs(2), which NetBSD has instead of statfs.
func statFilesystem(path string) (Filesystem, error) {
	var st unix.Statvfs_t
	if err := ignoringEINTR(func() error { return unix.Statvfs(path, &st) }); err != nil {
		return Filesystem{}, fsPathError("statvfs", path, err)
	}
	return bsdFilesystem(cString(st.Fstypename[:]), st.Flag), nil
}
