package workspace_test

// errNoSpace is nil: plan9 has no ENOSPC, and the fault tests skip the
// full disk there.
var errNoSpace error
