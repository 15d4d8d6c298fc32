# .ci/lib.sh: skip accounting, must-pass checks and cleanup shared by the .ci
# scripts. Source it from a script that has cd'ed to the repository root:
#
#   . .ci/lib.sh
#   ci_skip "linux/arm64" "no qemu-aarch64-static"   # a section that cannot run
#   ci_gotest "linux/386" @linux/386 -short ./lock/...  # go test, judged by .ci/testjson
#   ci_finish                                         # the script's last command
#
# Who judges. The script a person (or a CI service) runs is the top level: it
# makes the list of skips and the testjson tool in a directory of its own,
# and its ci_finish prints the skips, fails on those LITEDIR_CI_ALLOW_SKIP does
# not allow, and removes that directory. A script that .ci/run starts is a
# section: it adds its skips to .ci/run's list and leaves the judging and the
# cleanup to .ci/run. A script is a section only when LITEDIR_CI_RUN holds the
# pid of its parent process, which .ci/run exports for its children; anything
# else the environment holds (LITEDIR_CI_SKIPS, LITEDIR_CI_TESTJSON, a stale
# LITEDIR_CI_RUN) is ignored by a top-level script and replaced, so that no
# variable left in a shell can turn the judging off or point CI at a file it
# did not make.
#
# What it removes: only what it made itself (ci_tempdir records each
# directory, and ci_finish and ci_cleanup remove those and nothing else).
#
# Skips are lines "<section>: <reason>" in $LITEDIR_CI_SKIPS. A section may
# carry a kind in brackets, "linux/386[host]", for a skip that a probe of the
# host found (see ci_skip_host): LITEDIR_CI_ALLOW_SKIP can allow that kind
# alone. SKIPPED is never counted as a pass.
#
# ci_gotest runs `go test -json` and pipes it through .ci/testjson, which
# prints what go test prints without -v, every test that skipped itself with
# its reason, and fails the section when a test named in its must-pass list
# (.ci/mustpass) failed or did not run; a skipped must-pass test is a skip.

ci_failed=()
ci_made=()        # directories this script made, which ci_finish removes
ci_root=$(pwd -P) # the repository: lib.sh is sourced from its root

# ci_tempdir VAR: makes a new temporary directory, records it for removal
# at the end of the script, and sets VAR to its path.
ci_tempdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/litedir-ci.XXXXXX") || return 1
	ci_made+=("$d")
	printf -v "$1" '%s' "$d"
}

# ci_cleanup: removes the directories this script made (ci_tempdir), and
# nothing else.
ci_cleanup() {
	local d
	for d in "${ci_made[@]}"; do
		if [ -n "$d" ] && ! rm -rf -- "$d"; then
			echo "ci: could not remove $d, which this script made" >&2
		fi
	done
	ci_made=()
}

if [ -n "${LITEDIR_CI_RUN:-}" ] && [ "$LITEDIR_CI_RUN" = "$PPID" ] &&
	[ -f "${LITEDIR_CI_SKIPS:-}" ] && [ -x "${LITEDIR_CI_TESTJSON:-}" ]; then
	ci_top=0
else
	ci_top=1
	ci_tempdir ci_dir || exit 2
	LITEDIR_CI_SKIPS=$ci_dir/skips
	: >"$LITEDIR_CI_SKIPS"
	# The testjson tool, built for the host (whatever GOOS and GOARCH a
	# caller exports later for its tests), shared with the sections.
	LITEDIR_CI_TESTJSON=$ci_dir/testjson
	env -u GOOS -u GOARCH CGO_ENABLED=0 go build -o "$LITEDIR_CI_TESTJSON" "$ci_root/.ci/testjson" || exit 2
	LITEDIR_CI_RUN=$$
	export LITEDIR_CI_SKIPS LITEDIR_CI_TESTJSON LITEDIR_CI_RUN
fi
# A script that sets its own EXIT trap calls ci_finish or ci_cleanup in it.
trap ci_cleanup EXIT

# ci_skip SECTION REASON...: records that SECTION did not run, and why.
ci_skip() {
	local section=$1 reason
	shift
	# One line per skip: a reason captured from a command may hold several.
	reason=$(printf '%s' "$*" | tr '\n' ' ')
	echo "SKIPPED: $section: $reason"
	echo "$section: $reason" >>"$LITEDIR_CI_SKIPS"
}

# ci_skip_host SECTION REASON...: records that SECTION did not run because a
# probe found that this host cannot run it (no install step can change
# that): a skip of kind "host", which LITEDIR_CI_ALLOW_SKIP=SECTION[host]
# allows without allowing the section's other skips.
ci_skip_host() {
	local section=$1
	shift
	ci_skip "$section[host]" "$@"
}

# ci_must LIST: prints the comma-separated must-pass list named LIST in
# .ci/mustpass; fails if there is no such list.
ci_must() {
	local list
	list=$(awk -v want="$1" '
		/^[ \t]*#/ || /^[ \t]*$/ { next }
		/^[^ \t]/ { on = (substr($0, 1, index($0, ":") - 1) == want); if (on) { found = 1; $0 = substr($0, index($0, ":") + 1) } }
		on { for (i = 1; i <= NF; i++) out = out (out == "" ? "" : ",") $i }
		END { if (!found) exit 1; print out }' "$ci_root/.ci/mustpass") || {
		echo "ci_must: no list $1 in .ci/mustpass" >&2
		return 1
	}
	printf '%s\n' "$list"
}

# ci_testjson_check SECTION MUST [LOG]: reads go test -json (or test2json) on
# stdin and checks it against MUST, a comma-separated list or @LIST of
# .ci/mustpass (see .ci/testjson). Returns its status.
ci_testjson_check() {
	local must=$2
	if [[ $must == @* ]]; then
		must=$(ci_must "${must#@}") || return 2
	fi
	"$LITEDIR_CI_TESTJSON" -section "$1" -must "$must" -skips "$LITEDIR_CI_SKIPS" ${3:+-log "$3"}
}

# ci_gotest SECTION MUST ARGS...: go test -json -count=1 ARGS, checked against
# the must-pass list MUST (@LIST names one of .ci/mustpass). A failure is
# recorded under SECTION (see ci_finish) and returned. LITEDIR_CI_LOG, when
# set, is a file to write the whole output to.
ci_gotest() {
	local section=$1 must=$2
	shift 2
	local t0=$SECONDS rc opts=$-
	echo "+ go test $*"
	set +e
	go test -json -count=1 "$@" | ci_testjson_check "$section" "$must" "${LITEDIR_CI_LOG:-}"
	local st=("${PIPESTATUS[@]}")
	[[ $opts == *e* ]] && set -e
	rc=0
	[ "${st[0]}" -eq 0 ] || rc=${st[0]}
	[ "${st[1]}" -eq 0 ] || rc=${st[1]}
	if [ "$rc" -eq 0 ]; then
		echo "   ($section: $((SECONDS - t0))s)"
	else
		echo "FAILED: $section ($((SECONDS - t0))s)"
		ci_failed+=("$section")
	fi
	return "$rc"
}

# ci_allowed SECTION: whether LITEDIR_CI_ALLOW_SKIP allows the skips of
# SECTION ("linux/386" or "linux/386[host]"): "1" allows every skip; a
# comma-separated list allows the sections named, all kinds ("linux/386") or
# one ("linux/386[host]").
ci_allowed() {
	local allow=${LITEDIR_CI_ALLOW_SKIP:-} section=$1
	[ "$allow" = 1 ] && return 0
	case ",$allow," in
	*",$section,"* | *",${section%%\[*},"*) return 0 ;;
	esac
	return 1
}

# ci_report: prints every skip recorded so far, and returns 1 if there is one
# that LITEDIR_CI_ALLOW_SKIP does not allow.
ci_report() {
	if [ ! -s "$LITEDIR_CI_SKIPS" ]; then
		echo "skipped: nothing"
		return 0
	fi
	echo "skipped ($(wc -l <"$LITEDIR_CI_SKIPS")):"
	local line section refused=0
	while IFS= read -r line; do
		section=${line%%: *}
		if ci_allowed "$section"; then
			echo "  SKIPPED: $line   (allowed by LITEDIR_CI_ALLOW_SKIP=$LITEDIR_CI_ALLOW_SKIP)"
		else
			echo "  SKIPPED: $line"
			refused=1
		fi
	done <"$LITEDIR_CI_SKIPS"
	if [ "$refused" = 0 ]; then
		return 0
	fi
	echo "FAIL: something was skipped (LITEDIR_CI_ALLOW_SKIP=1, or a list of sections, accepts a run with skips)"
	return 1
}

# ci_finish: the end of a script. It fails if a ci_gotest section failed; a
# top-level script also prints its skips and fails on them (ci_report). It
# removes what the script made.
ci_finish() {
	local rc=0
	if [ ${#ci_failed[@]} -gt 0 ]; then
		echo "FAILED: ${ci_failed[*]}"
		rc=1
	fi
	if [ "$ci_top" = 1 ]; then
		ci_report || rc=1
	fi
	ci_cleanup
	return "$rc"
}
