package bench

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// processMemoryCounters is PROCESS_MEMORY_COUNTERS from psapi.h, which
// golang.org/x/sys/windows does not define.
type processMemoryCounters struct {
	cb                         uint32
	pageFaultCount             uint32
	peakWorkingSetSize         uintptr
	workingSetSize             uintptr
	quotaPeakPagedPoolUsage    uintptr
	quotaPagedPoolUsage        uintptr
	quotaPeakNonPagedPoolUsage uintptr
	quotaNonPagedPoolUsage     uintptr
	pagefileUsage              uintptr
	peakPagefileUsage          uintptr
}

// procGetProcessMemoryInfo is psapi's GetProcessMemoryInfo, which
// golang.org/x/sys/windows does not wrap either. (Since Windows 7 psapi.dll
// forwards it to kernel32's K32GetProcessMemoryInfo.)
var procGetProcessMemoryInfo = windows.NewLazySystemDLL("psapi.dll").NewProc("GetProcessMemoryInfo")

// peakRSS returns the peak working set of the process so far, in bytes:
// Windows' counterpart of the peak resident set size.
func peakRSS() (int64, bool) {
	if procGetProcessMemoryInfo.Find() != nil {
		return 0, false
	}
	var c processMemoryCounters
	c.cb = uint32(unsafe.Sizeof(c))
	r, _, _ := procGetProcessMemoryInfo.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&c)), uintptr(c.cb))
	if r == 0 || c.peakWorkingSetSize == 0 {
		return 0, false
	}
	return int64(c.peakWorkingSetSize), true
}
