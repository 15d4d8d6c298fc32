//go:build windows

package lock

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// sysOpen opens path with CreateFile and FILE_FLAG_OPEN_REPARSE_POINT, which opens a symbolic
// link or junction itself instead of its target; openRegular then refuses it as not a regular
// file. The handle is not inheritable, and shares reading and writing (not deletion) so that
// contenders can open the file to read the owner record while nobody can delete it.
func sysOpen(path string, flag int) (*os.File, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	access := uint32(windows.GENERIC_READ)
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		access |= windows.GENERIC_WRITE
	}
	disposition := uint32(windows.OPEN_EXISTING)
	if flag&os.O_CREATE != 0 {
		disposition = windows.OPEN_ALWAYS
	}
	h, err := windows.CreateFile(name, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil,
		disposition, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
