package workspace

// SetTestHookContended makes every Open that finds the directory lock held,
// and starts to wait for it, call f first, until the test ends.
func SetTestHookContended(t interface{ Cleanup(func()) }, f func()) {
	testHookContended = f
	t.Cleanup(func() { testHookContended = nil })
}

// SetTestHookCopied makes every Backup and VacuumInto call f once its
// temporary file is written, and fail with f's error, until the test ends.
func SetTestHookCopied(t interface{ Cleanup(func()) }, f func(tmp string) error) {
	testHookCopied = f
	t.Cleanup(func() { testHookCopied = nil })
}
