//go:build !plan9

package workspace_test

import "syscall"

// errNoSpace is the error of a full disk that the fault tests inject.
var errNoSpace error = syscall.ENOSPC
