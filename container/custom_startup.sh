#!/usr/bin/env bash
# custom_startup.sh: Kasm runs this after the desktop is up (after first_launch
# ran `vaultd first-launch`). It keeps two things alive until the session ends,
# restarting either one when it dies:
#   vaultd run --config $VAULTD_CONFIG        the sync daemon
#   vaultd-launch $OBSIDIAN_BIN --no-sandbox  Obsidian with the EXDEV shim (it opens the
#                                             vault obsidian.json marks open)
# and copies the user's own Obsidian settings into the persistent profile every
# $VAULTD_SAVE_INTERVAL seconds and at the end (vaultd first-launch --save-settings).
#
# Every path can be overridden from the environment (the tests run this file as is):
#   VAULTD_BIN          vaultd                               (default /usr/local/bin/vaultd)
#   VAULTD_LAUNCH       the shim launcher                    (default /usr/local/bin/vaultd-launch)
#   OBSIDIAN_BIN        Obsidian                             (default /opt/Obsidian/obsidian)
#   VAULTD_VAULT        the composite vault                  (default /vault)
#   VAULTD_STATE_DIR    vaultd state and vaultd.yaml         (default $HOME/.local/state/vaultd)
#   VAULTD_CONFIG       the daemon's config                  (default $VAULTD_STATE_DIR/vaultd.yaml)
#   VAULTD_OBSIDIAN_DEFAULTS  org defaults                   (default /etc/vaultd/obsidian-defaults)
#   VAULTD_LOG_DIR      logs of both processes               (default $VAULTD_STATE_DIR/log)
#   VAULTD_RESTART_DELAY  whole seconds between checks       (default 2)
#   VAULTD_SAVE_INTERVAL  whole seconds between settings saves (default 60)
#   VAULTD_NO_OBSIDIAN=1  run the daemon only (headless tests)
set -uo pipefail

home=${HOME:-/home/kasm-user}
vaultd=${VAULTD_BIN:-/usr/local/bin/vaultd}
launch=${VAULTD_LAUNCH:-/usr/local/bin/vaultd-launch}
obsidian=${OBSIDIAN_BIN:-/opt/Obsidian/obsidian}
vault=${VAULTD_VAULT:-/vault}
state=${VAULTD_STATE_DIR:-$home/.local/state/vaultd}
config=${VAULTD_CONFIG:-$state/vaultd.yaml}
defaults=${VAULTD_OBSIDIAN_DEFAULTS:-/etc/vaultd/obsidian-defaults}
logs=${VAULTD_LOG_DIR:-$state/log}
delay=${VAULTD_RESTART_DELAY:-2}
save_every=${VAULTD_SAVE_INTERVAL:-60}

mkdir -p "$logs"
say() { printf '%s custom_startup: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logs/custom_startup.log"; }

daemon_pid=""
obsidian_pid=""
stopping=0

start_daemon() {
  "$vaultd" run --config "$config" >>"$logs/vaultd.log" 2>&1 &
  daemon_pid=$!
  say "vaultd run started (pid $daemon_pid)"
}

start_obsidian() {
  [ "${VAULTD_NO_OBSIDIAN:-0}" = 1 ] && return 0
  # Obsidian opens the vault obsidian.json marks open (written by vaultd first-launch).
  VAULTD_SHIM_ROOTS=$vault "$launch" "$obsidian" --no-sandbox >>"$logs/obsidian.log" 2>&1 &
  obsidian_pid=$!
  say "Obsidian started (pid $obsidian_pid)"
}

save_settings() {
  "$vaultd" first-launch --save-settings --vault "$vault" --obsidian-defaults "$defaults" \
    >>"$logs/custom_startup.log" 2>&1 || say "saving the Obsidian settings failed (see above)"
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

stop() {
  stopping=1
  say "stopping"
  save_settings
  for pid in "$obsidian_pid" "$daemon_pid"; do
    alive "$pid" && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "$obsidian_pid" "$daemon_pid"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null
  done
  exit 0
}
trap stop TERM INT HUP

if [ ! -f "$config" ]; then
  say "no $config: first_launch did not run or failed; running it now"
  "$vaultd" first-launch --vault "$vault" --state-dir "$state" --obsidian-defaults "$defaults" \
    >>"$logs/custom_startup.log" 2>&1 || say "vaultd first-launch failed (exit $?)"
fi

start_daemon
start_obsidian
since_save=0
while [ "$stopping" = 0 ]; do
  # `sleep & wait` so a signal is handled at once, not after the sleep.
  sleep "$delay" &
  wait $! 2>/dev/null
  if ! alive "$daemon_pid"; then
    wait "$daemon_pid" 2>/dev/null
    say "vaultd run exited ($?); restarting"
    start_daemon
  fi
  if [ "${VAULTD_NO_OBSIDIAN:-0}" != 1 ] && ! alive "$obsidian_pid"; then
    wait "$obsidian_pid" 2>/dev/null
    say "Obsidian exited ($?); restarting"
    start_obsidian
  fi
  since_save=$((since_save + delay))
  if [ "$since_save" -ge "$save_every" ]; then
    save_settings
    since_save=0
  fi
done
