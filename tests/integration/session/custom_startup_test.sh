#!/usr/bin/env bash
# container/custom_startup.sh as it is, with stand-ins for vaultd, the shim
# launcher and Obsidian that die at once: both must be restarted, Obsidian
# must go through the launcher with --no-sandbox, and SIGTERM must save the
# user's settings and end everything.
set -euo pipefail
script=${1:?usage: custom_startup_test.sh PATH/TO/custom_startup.sh}
work=$(mktemp -d /tmp/custom-startup-test.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/vaultd" <<EOF2
#!/bin/sh
echo "vaultd \$*" >>"$work/calls"
EOF2
cat >"$work/launch" <<EOF2
#!/bin/sh
echo "launch \$*" >>"$work/calls"
EOF2
chmod +x "$work/vaultd" "$work/launch"
mkdir -p "$work/state"
: >"$work/state/vaultd.yaml"

HOME=$work VAULTD_BIN=$work/vaultd VAULTD_LAUNCH=$work/launch OBSIDIAN_BIN=/opt/Obsidian/obsidian \
  VAULTD_VAULT=$work/vault VAULTD_STATE_DIR=$work/state VAULTD_RESTART_DELAY=1 VAULTD_SAVE_INTERVAL=3600 \
  "$script" &
pid=$!

count() {
  local n
  n=$(grep -c -- "$1" "$work/calls" 2>/dev/null) || true
  echo "${n:-0}"
}
for _ in $(seq 600); do
  [ "$(count "vaultd run")" -ge 3 ] && [ "$(count "launch")" -ge 3 ] && break
  sleep 0.1
done
[ "$(count "vaultd run --config $work/state/vaultd.yaml")" -ge 3 ] || { echo "FAIL: vaultd run not restarted"; cat "$work/calls"; exit 1; }
[ "$(count "launch /opt/Obsidian/obsidian --no-sandbox")" -ge 3 ] || { echo "FAIL: Obsidian not restarted through the launcher"; cat "$work/calls"; exit 1; }

kill -TERM "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: still running 30 s after SIGTERM"; exit 1; fi
wait "$pid" && rc=0 || rc=$?
pid=""
[ "$rc" -eq 0 ] || { echo "FAIL: exit $rc after SIGTERM"; exit 1; }
[ "$(count "vaultd first-launch --save-settings --vault $work/vault")" -ge 1 ] || { echo "FAIL: settings not saved at the end"; cat "$work/calls"; exit 1; }
echo "PASS: restarted vaultd $(count "vaultd run")x and Obsidian $(count "launch")x; settings saved on SIGTERM"
