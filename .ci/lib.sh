# .ci/lib.sh: skip accounting and must-pass checks shared by the .ci scripts.
# Source it from a script that has cd'ed to the repository root:
#
#   . .ci/lib.sh
#   ci_skip "linux/arm64" "no qemu-aarch64-static"     # a section that cannot run
#   ci_gotest "linux/386" "lock:TestKilledHolder,TestWriteConcurrent" -short ./lock/... ./workspace/...
#   ci_finish                                           # last line of the script
#
# Skips are collected in the file $LITEDIR_CI_SKIPS, one line each:
# "<section>: <reason>". .ci/run creates it and exports it, so that every script
# it calls adds to one list, which it prints at its end and fails on. A script
# run alone gets a file of its own, and ci_finish prints its list and fails the
# same way. A skip fails the run unless LITEDIR_CI_ALLOW_SKIP=1 (documented in
# README): SKIPPED is never counted as a pass.
#
# ci_gotest runs `go test -json` and pipes it through .ci/testjson, which prints
# what go test prints without -v, every test that skipped itself with its reason,
# and fails the section when a test named in the must-pass list failed or did not
# run; a skipped must-pass test is a skip as above.

if [ -z "${LITEDIR_CI_SKIPS:-}" ]; then
	LITEDIR_CI_SKIPS=$(mktemp "${TMPDIR:-/tmp}/litedir-ci-skips.XXXXXX")
	export LITEDIR_CI_SKIPS
	ci_owns_skips=1
else
	ci_owns_skips=${ci_owns_skips:-0}
fi
ci_failed=()

# ci_skip SECTION REASON...: records that SECTION did not run, and why.
ci_skip() {
	local section=$1 reason
	shift
	# One line per skip: a reason captured from a command may hold several.
	reason=$(printf '%s' "$*" | tr '\n' ' ')
	echo "SKIPPED: $section: $reason"
	echo "$section: $reason" >>"$LITEDIR_CI_SKIPS"
}

# The testjson tool, built once per run for the host (whatever GOOS and GOARCH
# a caller exports later for its tests), shared with the scripts .ci/run calls.
if [ -z "${LITEDIR_CI_TESTJSON:-}" ] || [ ! -x "$LITEDIR_CI_TESTJSON" ]; then
	LITEDIR_CI_TESTJSON=$(mktemp -d "${TMPDIR:-/tmp}/litedir-ci-bin.XXXXXX")/testjson
	export LITEDIR_CI_TESTJSON
	env -u GOOS -u GOARCH CGO_ENABLED=0 go build -o "$LITEDIR_CI_TESTJSON" ./.ci/testjson
fi

# ci_testjson_check SECTION MUST [LOG]: reads go test -json (or test2json) on
# stdin and checks it (see .ci/testjson). Returns its status.
ci_testjson_check() {
	"$LITEDIR_CI_TESTJSON" -section "$1" -must "$2" -skips "$LITEDIR_CI_SKIPS" ${3:+-log "$3"}
}

# ci_gotest SECTION MUST ARGS...: go test -json -count=1 ARGS, checked against
# the comma-separated must-pass list MUST (may be empty). A failure is recorded
# under SECTION (see ci_finish) and returned.
ci_gotest() {
	local section=$1 must=$2
	shift 2
	local t0=$SECONDS rc opts=$-
	echo "+ go test $*"
	set +e
	go test -json -count=1 "$@" | ci_testjson_check "$section" "$must"
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

# ci_report: prints every skip recorded so far, and returns 1 if there is one
# that LITEDIR_CI_ALLOW_SKIP does not allow: "1" allows every skip, a
# comma-separated list of section names (linux/386,windows/amd64) allows the
# skips of those sections only.
ci_report() {
	if [ ! -s "$LITEDIR_CI_SKIPS" ]; then
		echo "skipped: nothing"
		return 0
	fi
	echo "skipped ($(wc -l <"$LITEDIR_CI_SKIPS")):"
	sed 's/^/  SKIPPED: /' "$LITEDIR_CI_SKIPS"
	local allow=${LITEDIR_CI_ALLOW_SKIP:-} section refused=0
	if [ "$allow" = 1 ]; then
		echo "(allowed by LITEDIR_CI_ALLOW_SKIP=1)"
		return 0
	fi
	while IFS= read -r line; do
		section=${line%%: *}
		case ",$allow," in
		*",$section,"*) echo "  (allowed by LITEDIR_CI_ALLOW_SKIP: $section)" ;;
		*) refused=1 ;;
		esac
	done <"$LITEDIR_CI_SKIPS"
	if [ "$refused" = 0 ]; then
		return 0
	fi
	echo "FAIL: something was skipped (LITEDIR_CI_ALLOW_SKIP=1, or a list of sections, accepts a run with skips)"
	return 1
}

# ci_finish: the end of a script. It fails if a ci_gotest section failed; a
# script run alone (not from .ci/run) also prints its skips and fails on them.
ci_finish() {
	local rc=0
	if [ ${#ci_failed[@]} -gt 0 ]; then
		echo "FAILED: ${ci_failed[*]}"
		rc=1
	fi
	if [ "$ci_owns_skips" = 1 ]; then
		ci_report || rc=1
		rm -f "$LITEDIR_CI_SKIPS"
		rm -rf "$(dirname "$LITEDIR_CI_TESTJSON")"
	fi
	return "$rc"
}
