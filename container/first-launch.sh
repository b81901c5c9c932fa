#!/usr/bin/env bash
# first-launch.sh: what Kasm's exec config `first_launch` runs once per
# session, before Obsidian starts. It turns the environment into the flags of
# `vaultd first-launch` and passes its exit code on (0 ok, 2 no mount set,
# 3 mounts differ under --strict; see `vaultd first-launch --help`).
# Environment (all optional):
#   VAULTD_BIN                vaultd                              (default /usr/local/bin/vaultd)
#   VAULTD_ORCHESTRATOR_URL   Pattern B: the orchestrator service; unset = Pattern A (discover the mounts)
#   VAULTD_TOKEN_FILE         the user's IdP access token          (default /run/vaultd/idp-token)
#   VAULTD_VAULT              the composite vault                  (default /vault)
#   VAULTD_STATE_DIR          state dir, vaultd.yaml goes there    (default $HOME/.local/state/vaultd)
#   VAULTD_OBSIDIAN_DEFAULTS  org defaults                         (default /etc/vaultd/obsidian-defaults)
#   VAULTD_RELAY_URL          relay, when the mount set names none (Pattern A)
#   VAULTD_RELAY_TOKEN_FILE   the relay token file for vaultd.yaml
#   VAULTD_USER               the user name for Pattern A          (default $USER)
#   VAULTD_STRICT=1           refuse to start when the mounts differ from the mount set
set -euo pipefail

home=${HOME:-/home/kasm-user}
args=(first-launch
  --vault "${VAULTD_VAULT:-/vault}"
  --state-dir "${VAULTD_STATE_DIR:-$home/.local/state/vaultd}"
  --obsidian-defaults "${VAULTD_OBSIDIAN_DEFAULTS:-/etc/vaultd/obsidian-defaults}")
if [ -n "${VAULTD_ORCHESTRATOR_URL:-}" ]; then
  args+=(--orchestrator "$VAULTD_ORCHESTRATOR_URL" --token-file "${VAULTD_TOKEN_FILE:-/run/vaultd/idp-token}")
fi
[ -n "${VAULTD_RELAY_URL:-}" ] && args+=(--relay "$VAULTD_RELAY_URL")
[ -n "${VAULTD_RELAY_TOKEN_FILE:-}" ] && args+=(--relay-token-file "$VAULTD_RELAY_TOKEN_FILE")
[ -n "${VAULTD_USER:-}" ] && args+=(--user "$VAULTD_USER")
[ "${VAULTD_STRICT:-0}" = 1 ] && args+=(--strict)
exec "${VAULTD_BIN:-/usr/local/bin/vaultd}" "${args[@]}"
