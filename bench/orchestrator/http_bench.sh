#!/usr/bin/env bash
# GET /v1/mountset throughput and tail latency of `vault-orchestrator serve` on loopback.
#
#   bench/orchestrator/http_bench.sh [BUILD_DIR] [SECONDS]      (defaults: build, 10)
#
# Starts the real server with a generated policy (500 folders, 200 groups; the user is in 8 of
# them and gets about 20 mounts), an RSA key made now, an AUTH.yaml and an audit log file, mints an RS256 token with
# openssl, and drives it with wrk (2 threads, 50 connections). Three runs, same server build:
#   anchor     GET /healthz                 the HTTP stack's own ceiling (no auth, no policy)
#   mountset   GET /v1/mountset             verified-token and rendered-decision caches on (defaults)
#   no-tcache  GET /v1/mountset             token_cache_entries: 0 (RSA verify on every request)
#   no-caches  GET /v1/mountset             both caches off: verify + evaluate + render every request
#                                           (what a stream of distinct users costs)
# Targets: mountset >= 5,000 req/s and p99 <= 10 ms. Exit 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
secs=${2:-10}
bin=$build/bin/vault-orchestrator
[ -x "$bin" ] || { echo "http_bench: $bin not built (ninja -C $build vault-orchestrator)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "http_bench: wrk missing (scripts/setup installs it)" >&2; exit 2; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

openssl genrsa -out "$work/rsa.key" 2048 2>/dev/null
openssl rsa -in "$work/rsa.key" -pubout -out "$work/rsa.pem" 2>/dev/null

python3 - "$work/policy.yaml" <<'PY'
import sys, random
rng = random.Random(7)
out = ["version: 1", "sync:", "  url: ws://relay.internal:1234", "personal:",
       "  path: /users/{username}/personal", "folders:"]
for i in range(500):
    out += [f"  - name: folder-{i}", f"    path: /shared/f{i}", "    access:"]
    for _ in range(rng.randint(1, 2)):
        gs = ", ".join(f"g{rng.randrange(200)}" for _ in range(rng.randint(1, 2)))
        out += [f"      - groups: [{gs}]", f"        compound: {rng.choice(['any', 'all'])}",
                f"        mode: {rng.choice(['ro', 'rw'])}"]
    if i % 10 == 0:
        out += ["    deny:", f"      - groups: [g{rng.randrange(200)}]"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

run_server() {  # $1 = token_cache_entries, $2 = --decision-cache
  cat > "$work/AUTH.yaml" <<YAML
issuer: https://idp.bench/realms/corp
audience: vaultd
algorithms: [RS256]
keys: {pem: rsa.pem, kid: bench}
leeway_seconds: 30
token_cache_entries: $1
YAML
  rm -f "$work/port"
  "$bin" serve --policy "$work/policy.yaml" --listen 127.0.0.1:0 --auth "$work/AUTH.yaml" \
    --audit "$work/audit.log" --port-file "$work/port" --decision-cache "$2" --log-level warn 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { cat "$work/serve.log" >&2; exit 1; }
  port=$(cat "$work/port")
}
stop_server() { kill "$pid"; wait "$pid" || true; pid=""; }

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
groups=$(python3 -c 'import json; print(json.dumps(["/g%d" % i for i in range(0, 200, 25)]))')
h=$(printf '{"alg":"RS256","kid":"bench","typ":"JWT"}' | b64url)
p=$(printf '{"iss":"https://idp.bench/realms/corp","aud":"vaultd","exp":%d,"iat":%d,"preferred_username":"alice","groups":%s}' \
  $((now + 3600)) "$now" "$groups" | b64url)
s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$work/rsa.key" -binary | b64url)
token="$h.$p.$s"

# wrk's latency percentiles -> milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
bench() {  # $1 label, $2 path, $3 auth header or ""
  local args=(-t2 -c50 -d"${secs}s" --latency)
  [ -n "$3" ] && args+=(-H "$3")
  local out; out=$(wrk "${args[@]}" "http://127.0.0.1:$port$2")
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out"); non2xx=${non2xx:-0}
  printf '%-10s %-14s %10s %9s %9s %8s\n' "$1" "$2" "$rps" "$p50" "$p99" "$non2xx"
  eval "rps_${1//-/_}=$rps; p99_${1//-/_}=$p99"
}

echo "policy: 500 folders, 200 groups; user in 8 groups; audit log on; wrk -t2 -c50 -d${secs}s on $(nproc) cores"
printf '%-10s %-14s %10s %9s %9s %8s\n' run path "req/s" "p50 ms" "p99 ms" "non-2xx"
run_server 10000 10000
mounts=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/mountset" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["mounts"]))')
bench anchor /healthz ""
bench mountset /v1/mountset "Authorization: Bearer $token"
stop_server
run_server 0 10000
bench no-tcache /v1/mountset "Authorization: Bearer $token"
stop_server
run_server 0 0
bench no-caches /v1/mountset "Authorization: Bearer $token"
stop_server
echo "mount set size: $mounts mounts; audit lines written: $(wc -l < "$work/audit.log")"
ok=1
[ "$rps_mountset" -ge 5000 ] || ok=0
awk -v p="$p99_mountset" 'BEGIN {exit !(p <= 10)}' || ok=0
if [ $ok = 1 ]; then
  echo "targets: >= 5000 req/s and p99 <= 10 ms: MET ($rps_mountset req/s, p99 $p99_mountset ms)"
else
  echo "targets: >= 5000 req/s and p99 <= 10 ms: MISSED ($rps_mountset req/s, p99 $p99_mountset ms)"
  exit 1
fi
