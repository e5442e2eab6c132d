# lib.sh - sourced by the system tests: result lines, the closing "N passed, N failed",
# root and Debian packages. A check that cannot run counts as failed, never as passed.
. "$(dirname "${BASH_SOURCE[0]}")/../../ci/apt.sh"

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

# setup_or_finish PACKAGE...: root, and the Debian packages installed; else a failed setup.
setup_or_finish() {
  [ "$(id -u)" = 0 ] || { fail "setup" "must run as root"; finish; }
  apt_install "$@" || { fail "setup" "cannot install: $*"; finish; }
}
