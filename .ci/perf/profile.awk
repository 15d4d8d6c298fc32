# .ci/perf/profile.awk: sums the flat CPU samples of `go tool pprof -top
# -nodecount=100000 -nodefraction=0 BINARY PROFILE` by where they were spent,
# and prints each share, largest first: SQLite's own code (wazero's compiled
# Wasm shows as runtime._ExternalCode, wasm2go's as go-sqlite3-wasm), system
# calls, the Go runtime, database/sql and the driver, the committer, bench.
function secs(s) {
	if (s ~ /ms$/) { sub(/ms$/, "", s); return s / 1000 }
	if (s ~ /us$/) { sub(/us$/, "", s); return s / 1e6 }
	sub(/s$/, "", s); return s + 0
}
/^ *[0-9.]+(m|u)?s / {
	f = secs($1); name = $6
	for (i = 7; i <= NF; i++) name = name " " $i
	c = "other Go code"
	if (name ~ /_ExternalCode|go-sqlite3-wasm/) c = "SQLite (its Wasm, compiled)"
	else if (name ~ /Syscall6|^syscall\.|internal\/poll\./) c = "system calls (WAL and database writes, fsync, locks)"
	else if (name ~ /^runtime\.(futex|usleep|osyield|procyield|schedule|findRunnable|park_m|gopark|goready|mcall|selectgo|chansend|chanrecv|lock2|unlock2|semasleep|notesleep|notewakeup|stealWork|runqgrab|netpoll|asyncPreempt)/) c = "Go scheduler, channels, preemption"
	else if (name ~ /^runtime\.|^internal\/runtime/) c = "Go runtime: memory, GC"
	else if (name ~ /litedir\/internal\/committer/) c = "litedir's committer"
	else if (name ~ /^database\/sql|ncruces\/go-sqlite3[.\/]|tetratelabs\/wazero/) c = "database/sql, the driver, calls into Wasm"
	else if (name ~ /cmd\/litedir\/internal\/bench/) c = "bench's own code"
	sum[c] += f; tot += f
}
END {
	if (tot == 0) { print "   no samples"; exit }
	for (c in sum) printf "   %5.1f%%  %s\n", 100 * sum[c] / tot, c | "sort -rn"
	close("sort -rn")
	printf "   (%.2f s of CPU samples)\n", tot
}
