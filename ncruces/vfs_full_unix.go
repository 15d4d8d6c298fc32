//go:build unix

package ncruces

import (
	"errors"
	"syscall"
)

// isDiskFull reports whether err is ENOSPC, or EDQUOT: a quota is a full
// disk to the user it applies to.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
