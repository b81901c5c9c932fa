#!/usr/bin/env bash
# The anchor for bench_daemon_sync's latency figure: the same measurement with Syncthing.
# Two Syncthing instances on 127.0.0.1 share one sendreceive folder, the filesystem watcher on at
# its shortest delay. A note on one side is rewritten N times, one more line each time, and each
# edit is timed from the save until the other side's file holds exactly that content (woken by
# inotify, re-checked at least every 50 ms, 30 s deadline per edit) — as sync_bench.cc does.
#
# Usage: bench/daemon/syncthing_anchor.sh [--edits N]     (default 200, or $EDITS)
#   SYNCTHING_DELAY_S  fsWatcherDelayS (default 1, the smallest value Syncthing 1.19 accepts:
#                      the field is an integer and 0 turns the watcher off)
#   KEEP=1             keep the temp dir (configs, logs) for inspection
# Installs syncthing and inotify-tools with apt-get if they are missing (benchmark-only
# packages, so they are not in scripts/setup). No traffic leaves 127.0.0.1: discovery, relays,
# NAT traversal, usage and crash reporting and upgrades are off.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.'

edits=${EDITS:-200}
delay_s=${SYNCTHING_DELAY_S:-1}
while (($#)); do
  case $1 in
    --edits) edits=${2:?--edits needs a number}; shift 2 ;;
    --edits=*) edits=${1#*=}; shift ;;
    -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "syncthing_anchor: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ! [[ $edits =~ ^[1-9][0-9]*$ ]]; then
  echo "syncthing_anchor: --edits must be a positive number" >&2
  exit 2
fi

die() {
  echo "syncthing_anchor: $*" >&2
  exit 1
}

if ! command -v syncthing >/dev/null || ! command -v inotifywait >/dev/null; then
  echo "syncthing_anchor: installing syncthing inotify-tools" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    syncthing inotify-tools >/dev/null
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup installs it)"
done
version=$(syncthing --version | sed -n 's/^syncthing v\([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$version" ] || die "cannot read the version from 'syncthing --version'"

tmp=$(mktemp -d /tmp/syncthing-anchor.XXXXXX)
pids=()
cleanup() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "syncthing_anchor: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the log tail of both instances and fails.
fail() {
  local side
  for side in a b; do
    [ -f "$tmp/$side/syncthing.log" ] || continue
    echo "--- $side/syncthing.log (tail)" >&2
    tail -n 20 "$tmp/$side/syncthing.log" >&2
  done
  die "$@"
}

# Four free loopback ports (two for the protocol, two for the REST API), all held until the last
# is found so they differ.
read -r port_a port_b gui_a gui_b < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

folder=bench
for side in a b; do
  mkdir -p "$tmp/$side/folder"
  syncthing generate --home="$tmp/$side/home" --no-default-folder --skip-port-probing \
    >"$tmp/$side/generate.log" 2>&1 ||
    fail "syncthing generate failed: $(cat "$tmp/$side/generate.log")"
done
id_of() { sed -n 's/.*Device ID: *\([A-Z0-9-]*\).*/\1/p' "$tmp/$1/generate.log"; }
id_a=$(id_of a)
id_b=$(id_of b)
if [ -z "$id_a" ] || [ -z "$id_b" ]; then
  fail "no device ID in the output of syncthing generate"
fi
key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')

# Replaces the generated config.xml; elements left out take Syncthing's defaults.
# Args: side, own id, own port, own REST port, peer id, peer port.
write_config() {
  cat >"$tmp/$1/home/config.xml" <<EOF
<configuration version="36">
    <folder id="$folder" label="$folder" path="$tmp/$1/folder" type="sendreceive"
            rescanIntervalS="86400" fsWatcherEnabled="true" fsWatcherDelayS="$delay_s"
            ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="$2"></device>
        <device id="$5"></device>
    </folder>
    <device id="$2" name="$1" compression="metadata" introducer="false">
        <address>dynamic</address>
    </device>
    <device id="$5" name="peer" compression="metadata" introducer="false">
        <address>tcp://127.0.0.1:$6</address>
    </device>
    <gui enabled="true" tls="false">
        <address>127.0.0.1:$4</address>
        <apikey>$key</apikey>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:$3</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <announceLANAddresses>false</announceLANAddresses>
        <urAccepted>-1</urAccepted>
        <crashReportingEnabled>false</crashReportingEnabled>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <startBrowser>false</startBrowser>
        <setLowPriority>false</setLowPriority>
        <reconnectionIntervalS>1</reconnectionIntervalS>
    </options>
</configuration>
EOF
}
write_config a "$id_a" "$port_a" "$gui_a" "$id_b" "$port_b"
write_config b "$id_b" "$port_b" "$gui_b" "$id_a" "$port_a"

for side in a b; do
  STNODEFAULTFOLDER=1 STNOUPGRADE=1 syncthing serve --home="$tmp/$side/home" --no-browser \
    --no-restart --no-upgrade --logfile="$tmp/$side/syncthing.log" >/dev/null 2>&1 &
  pids+=($!)
done

# GET on a side's REST API; prints the JSON body.
rest() {
  local gui
  if [ "$1" = a ]; then gui=$gui_a; else gui=$gui_b; fi
  curl -sf --max-time 5 -H "X-API-Key: $key" "http://127.0.0.1:$gui/rest/$2"
}
# Evaluates a Python expression on the JSON body of `rest SIDE PATH`; true if it holds.
rest_check() {
  local body
  body=$(rest "$1" "$2") || return 1
  python3 -c 'import json, sys; j = json.load(sys.stdin); sys.exit(0 if ('"$3"') else 1)' \
    <<<"$body" 2>/dev/null
}
# Polls a condition (a command) every 0.2 s until it holds or `secs` pass.
wait_until() {
  local secs=$1 what=$2 deadline pid
  shift 2
  deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${secs} s waiting until $what"
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || fail "a syncthing instance exited"
    done
    sleep 0.2
  done
}

wait_until 60 "both REST APIs answer" \
  eval 'rest a system/ping >/dev/null && rest b system/ping >/dev/null'
# `syncthing serve` runs the server as the child of a monitor process; the monitor passes TERM on,
# and the server is on the list too in case it outlives the monitor.
for pid in "${pids[@]}"; do
  mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$pid")
done
wait_until 60 "the instances are connected" \
  rest_check a system/connections "j['connections']['$id_b']['connected']"
for side in a b; do
  if [ $side = a ]; then peer=$id_b; else peer=$id_a; fi
  wait_until 60 "side $side's folder is idle" rest_check $side "db/status?folder=$folder" \
    "j['state'] == 'idle'"
  wait_until 60 "side $side has everything of its peer" rest_check $side \
    "db/completion?folder=$folder&device=$peer" "j['completion'] == 100"
done
actual_delay=$(rest a "config/folders/$folder" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["fsWatcherDelayS"])')
echo "syncthing_anchor: syncthing $version on 127.0.0.1, watcher delay ${actual_delay} s," \
  "$edits edits" >&2

# inotify on the receiving folder, events into a fifo; Syncthing writes a temp file and renames
# it into place, so moved_to is the event that matters.
mkfifo "$tmp/events"
exec 3<>"$tmp/events"
inotifywait -m -e moved_to,close_write --format '%f' "$tmp/b/folder" >&3 2>"$tmp/inotify.log" &
pids+=($!)
wait_until 10 "inotifywait watches" grep -qs "Watches established" "$tmp/inotify.log"

# Times the edits; prints one latency in microseconds a line. It runs as a child that the EXIT
# trap can kill: the trap is then never run from inside `read -t` (bash 5.2 can crash there).
measure() {
  local src="$tmp/a/folder/note.md" dst="$tmp/b/folder/note.md" text=$'# latency\n' i t0 got
  for ((i = 0; i < edits; i++)); do
    text+="edit $i"$'\n'
    while read -r -t 0 -u 3; do read -r -u 3 _; done # events of the previous edit
    t0=${EPOCHREALTIME/./}
    printf '%s' "$text" >"$src"
    while :; do
      got=""
      { IFS= read -r -d '' got <"$dst" || true; } 2>/dev/null
      [ "$got" = "$text" ] && break
      ((${EPOCHREALTIME/./} - t0 < 30000000)) || fail "edit $i never arrived within 30 s"
      read -r -t 0.05 -u 3 _ || true
    done
    echo $((${EPOCHREALTIME/./} - t0))
  done
}
measure >"$tmp/latency_us" &
pids+=($!)
wait "$!" || exit 1

mapfile -t sorted < <(sort -n "$tmp/latency_us")
ms() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
n=${#sorted[@]}
printf 'anchor   syncthing %s save->other disk, %d edits: p50 %s ms, p99 %s ms\n' \
  "$version" "$edits" "$(ms "${sorted[n / 2]}")" "$(ms "${sorted[n * 99 / 100]}")"
