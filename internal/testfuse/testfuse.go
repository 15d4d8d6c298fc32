// go-fuse builds for 64-bit Linux only (its splice package).

//go:build linux && (amd64 || arm64 || riscv64 || ppc64 || ppc64le || s390x || loong64 || mips64 || mips64le)

package testfuse

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Mount mounts a new loopback filesystem with policy p and returns its mount point and the
// directory it mirrors, which the test can use to look at the files without FUSE. It is
// unmounted when the test ends. It skips the test, saying why, where it cannot mount: not
// Linux, not root, no /dev/fuse.
func Mount(tb testing.TB, p Policy) (mnt, src string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("testfuse: mounting a FUSE filesystem needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		tb.Skipf("testfuse: no FUSE in this kernel: %v", err)
	}
	base := tb.TempDir()
	src, mnt = filepath.Join(base, "src"), filepath.Join(base, "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(src, &st); err != nil {
		tb.Fatal(err)
	}
	data := &fs.LoopbackRoot{Path: src, Dev: uint64(st.Dev)}
	root := &node{LoopbackNode: &fs.LoopbackNode{RootData: data}, policy: p}
	data.RootNode = root
	server, err := fs.Mount(mnt, root, &fs.Options{MountOptions: fuse.MountOptions{
		EnableLocks: true, // forward every lock to us, refused or taken
		Name:        Name,
		FsName:      Name,
		DirectMount: true, // as root, no fusermount needed
	}})
	if err != nil {
		// With DirectMount the kernel's mount is made before the server's
		// INIT exchange; when that exchange fails (a big-endian program under
		// qemu-user reads the host kernel's little-endian messages
		// byte-swapped, and answers EINVAL), go-fuse leaves the mount behind
		// with no server, and every later access to it fails with ENOTCONN.
		// Detach it, so that the skip leaves nothing mounted.
		if uerr := syscall.Unmount(mnt, syscall.MNT_DETACH); uerr != nil && uerr != syscall.EINVAL {
			tb.Errorf("testfuse: detach %s after a failed mount: %v", mnt, uerr)
		}
		tb.Skipf("testfuse: cannot mount a FUSE filesystem here: %v", err)
	}
	tb.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			tb.Errorf("testfuse: unmount %s: %v", mnt, err)
		}
	})
	return mnt, src
}

// node is a loopback node whose files refuse locks by policy.
type node struct {
	*fs.LoopbackNode
	policy Policy
}

var (
	_ fs.NodeWrapChilder = (*node)(nil)
	_ fs.NodeOpener      = (*node)(nil)
	_ fs.NodeCreater     = (*node)(nil)
)

// WrapChild makes every node of the tree a node of this filesystem.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), policy: n.policy}
}

// Open opens the file as the loopback does, with the policy's locks.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return n.wrap(fh, n.Path(nil)), fuseFlags, 0
}

// Create creates the file as the loopback does, with the policy's locks.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	inode, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, n.wrap(fh, name), fuseFlags, 0
}

// wrap returns fh, a loopback file handle of the file name, with the policy's locks.
func (n *node) wrap(fh fs.FileHandle, name string) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		panic(errors.New("testfuse: the loopback's file handle is not a *fs.LoopbackFile"))
	}
	return &file{LoopbackFile: lf, name: name, policy: n.policy}
}

// file is a loopback file whose locks follow a policy.
type file struct {
	*fs.LoopbackFile
	name   string
	policy Policy
}

// Getlk tests a lock (F_GETLK, F_OFD_GETLK): record locks only.
func (f *file) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	if f.policy.refuses(f.name, false) {
		return syscall.ENOSYS
	}
	return f.LoopbackFile.Getlk(ctx, owner, lk, flags, out)
}

// Setlk takes or releases a lock without waiting.
func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	if f.policy.refuses(f.name, flags&fuse.FUSE_LK_FLOCK != 0) {
		return syscall.ENOSYS
	}
	return f.LoopbackFile.Setlk(ctx, owner, lk, flags)
}

// Setlkw takes a lock, waiting for it.
func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	if f.policy.refuses(f.name, flags&fuse.FUSE_LK_FLOCK != 0) {
		return syscall.ENOSYS
	}
	return f.LoopbackFile.Setlkw(ctx, owner, lk, flags)
}
