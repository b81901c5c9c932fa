#!/usr/bin/env bash
# relay-start.sh: runs the Yjs relay (@y/websocket-server, the standard
# y-websocket protocol: one room per URL path) that every container's
# `vaultd run` connects to. Environment (all optional):
#   RELAY_HOST         address to listen on            (default 0.0.0.0)
#   RELAY_PORT         port                            (default 1234)
#   RELAY_NODE         node binary                     (default node)
#   RELAY_SERVER_JS    the server script               (default: @y/websocket-server's src/server.js
#                      found under $RELAY_NODE_MODULES)
#   RELAY_NODE_MODULES node_modules holding it         (default /opt/vaultd-relay/node_modules)
#   RELAY_PERSIST_DIR  keep documents on disk (LevelDB, needs y-leveldb); unset = memory only
# Install once: npm install @y/websocket-server@0.1.1 in the folder above node_modules.
set -euo pipefail

node=${RELAY_NODE:-node}
modules=${RELAY_NODE_MODULES:-/opt/vaultd-relay/node_modules}
server=${RELAY_SERVER_JS:-$modules/@y/websocket-server/src/server.js}
if [ ! -f "$server" ]; then
  echo "relay-start: $server not found (set RELAY_SERVER_JS or RELAY_NODE_MODULES)" >&2
  exit 2
fi
export HOST=${RELAY_HOST:-0.0.0.0}
export PORT=${RELAY_PORT:-1234}
if [ -n "${RELAY_PERSIST_DIR:-}" ]; then
  export YPERSISTENCE=$RELAY_PERSIST_DIR
fi
exec "$node" "$server"
