#!/usr/bin/env bash
# scripts/demo-session end to end: it must reach its summary, and leave no
# process and no mount behind, also when interrupted (SIGINT to its process
# group, as Ctrl-C sends) in the middle of the sessions.
set -euo pipefail
repo=${1:?usage: demo_session_test.sh REPO BUILD_DIR}
build=${2:?usage: demo_session_test.sh REPO BUILD_DIR}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 0; }

leftovers() {  # leftovers WORK: processes or mounts that mention WORK
  local found=0
  if pgrep -f -- "$1" >/dev/null; then echo "left behind: processes"; pgrep -af -- "$1"; found=1; fi
  if grep -q -- "$1" /proc/self/mountinfo; then echo "left behind: mounts"; grep -- "$1" /proc/self/mountinfo; found=1; fi
  [ -e "$1" ] && { echo "left behind: $1"; found=1; }
  return "$found"
}

work=$(mktemp -u /tmp/demo-session-test.XXXXXX)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
DEMO_WORK=$work VAULTD_BUILD_DIR=$build "$repo/scripts/demo-session" >"$out" 2>&1 || { cat "$out"; echo "FAIL: exit $?"; exit 1; }
grep -q '^== summary' "$out" || { cat "$out"; echo "FAIL: no summary"; exit 1; }
grep -q "alice's write refused by the read-only mount" "$out" || { cat "$out"; echo "FAIL: ro wiki"; exit 1; }
grep -q "moved across two of alice's bind mounts" "$out" || { cat "$out"; echo "FAIL: shim move"; exit 1; }
for want in "sync: 'from alice' reached bob" "sync: 'from bob' reached alice" \
  "sync: the moved note left bob's engineering folder"; do
  grep -qF "$want" "$out" || { cat "$out"; echo "FAIL: no '$want'"; exit 1; }
done
grep -q "alice: engineering .* synced" "$out" || { cat "$out"; echo "FAIL: vaultd status"; exit 1; }
leftovers "$work" || { echo "FAIL: after a full run"; exit 1; }

# Interrupted once the sessions' mount namespaces exist (and, when the
# signal lands later, while the daemons run).
work=$(mktemp -u /tmp/demo-session-test.XXXXXX)
# In its own session and process group (the pid file names the group), so the
# SIGINT reaches every process of the demo, as a terminal's Ctrl-C does. A job
# started with & from a script begins with SIGINT ignored, and bash cannot trap
# a signal ignored at entry: env --default-signal gives it back, as a terminal has it.
pidfile=$(mktemp)
# shellcheck disable=SC2016  # $$ and $1 belong to the inner shell
DEMO_WORK=$work VAULTD_BUILD_DIR=$build setsid env --default-signal=INT bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
  "$repo/scripts/demo-session" >"$out" 2>&1 &
for _ in $(seq 1800); do [ -s "$pidfile" ] && grep -q '^== 3\.' "$out" && break; sleep 0.1; done
pid=$(cat "$pidfile")
rm -f "$pidfile"
grep -q '^== 3\.' "$out" || { cat "$out"; echo "FAIL: the demo did not reach its sessions in 180 s"; kill -KILL -- -"$pid"; exit 1; }
kill -INT -- -"$pid" 2>/dev/null || true  # it may have finished already
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: still running 30 s after SIGINT"; kill -KILL -- -"$pid"; exit 1; fi
leftovers "$work" || { cat "$out"; echo "FAIL: after SIGINT"; exit 1; }
echo "PASS: summary reached; nothing left behind after a full run and after SIGINT"
