# lib.sh - sourced by the system tests: result lines, the closing "N passed, N failed", and
# (from tests/lib/netns.sh) namespaces, processes, scratch directories and binaries that are
# cleaned up at exit. A check that cannot run counts as failed, never as passed.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/netns.sh"

PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); echo "PASS $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $1${2:+: $2}"; }
# check NAME COMMAND...: passes when COMMAND succeeds; on failure its first lines are shown.
# COMMAND runs in this shell (it may start daemons or set variables).
check() {
  local name="$1" out
  shift
  out=$(mktemp)
  if "$@" >"$out" 2>&1; then pass "$name"; else fail "$name"; head -20 "$out" | sed 's/^/    /'; fi
  rm -f "$out"
}
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

# A setup that cannot be done (need_root, need_pkgs, need_bin, netns_add ...) is a failed check.
die() { fail "setup" "$*"; finish; }

# setup_or_finish PACKAGE...: root, and the Debian packages installed; else a failed setup.
setup_or_finish() {
  need_root
  need_pkgs "$@"
}
