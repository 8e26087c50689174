#!/usr/bin/env bash
# make bench-http: POST /api/v1/access/decide with a controller token against a
# 1,000,000-credential database, and two constant-answer axum baselines: one on
# the same runtime and HTTP stack (same worker threads: IDMS_WORKERS, default
# cores - 1), one on tokio's default runtime (a worker per core) with
# axum::serve; wrk, 64 connections, all in one run; prints req/s, p50/p99 and
# the ratios to each, and checks that every answered decision was logged.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench-data}
USERS=${BENCH_USERS:-1000000}
DURATION=${DURATION:-15s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
IDMS=./target/release/idms
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

command -v wrk >/dev/null || { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
cargo build --locked --release --bin idms
[ -f "$BENCH_DIR/idms.db" ] || { $IDMS --data-dir "$BENCH_DIR" init && $IDMS --data-dir "$BENCH_DIR" dev seed --users "$USERS"; }
TOKEN=$($IDMS --data-dir "$BENCH_DIR" controller add --name "bench-$$-$RANDOM" --door bench --json | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
# Known UIDs of the seeded cards: the first few credentials.
UIDS=$(python3 - "$BENCH_DIR/idms.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(" ".join(r[0] for r in c.execute("SELECT hex(uid) FROM credentials ORDER BY id LIMIT 64")))
PY
)
LUA=$(mktemp --suffix=.lua)
cat > "$LUA" <<LUA
local uids = {}
for u in string.gmatch("$UIDS", "%S+") do table.insert(uids, u) end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, '{"uid":"' .. uids[(i % #uids) + 1] .. '","door":"bench"}')
end
LUA

events() { python3 -c 'import sqlite3,sys
try:
  print(sqlite3.connect(sys.argv[1]).execute("SELECT COALESCE(SUM(count),0) FROM access_event_groups").fetchone()[0])
except Exception: print(0)' "$BENCH_DIR/events.db"; }

IDMS_LOG=warn $IDMS --data-dir "$BENCH_DIR" serve --listen 127.0.0.1:18180 & SVC=$!
$IDMS dev baseline --listen 127.0.0.1:18181 & BASE=$!
$IDMS dev baseline --tokio-default --listen 127.0.0.1:18182 & PLAIN=$!
trap 'kill $SVC $BASE $PLAIN 2>/dev/null || true; rm -f "$LUA"' EXIT
for port in 18180 18181 18182; do
  for _ in $(seq 200); do curl -sf -o /dev/null -X POST "127.0.0.1:$port/api/v1/access/decide" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"uid":"04000000","door":"bench"}' && break; sleep 0.1; done
done

run() { # name port -> prints "rps p50_ms p99_ms requests non2xx"
  wrk -t"$THREADS" -c"$CONNS" -d2s -s "$LUA" "http://127.0.0.1:$2/api/v1/access/decide" >/dev/null
  local out; out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$LUA" "http://127.0.0.1:$2/api/v1/access/decide")
  echo "$out" > "target/bench-http-$1.txt"
  python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
def ms(v):
    n, u = re.match(r"([\d.]+)(\w+)", v).groups(); n = float(n)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1)); p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
reqs = int(re.search(r"(\d+) requests in", t).group(1))
non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", t)) else 0
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {reqs} {non2xx}")
PY
}
before=$(events)
read -r B_RPS B_P50 B_P99 _ _ < <(run baseline 18181)
read -r T_RPS T_P50 T_P99 _ _ < <(run tokio-default 18182)
read -r D_RPS D_P50 D_P99 D_REQ D_BAD < <(run decide 18180)
kill -TERM $SVC; wait $SVC || true
after=$(events)
logged=$((after - before))
python3 - "$B_RPS" "$B_P50" "$B_P99" "$D_RPS" "$D_P50" "$D_P99" "$D_REQ" "$D_BAD" "$logged" "$T_RPS" "$T_P50" "$T_P99" <<'PY'
import sys
b_rps, b50, b99, d_rps, d50, d99 = map(float, sys.argv[1:7]); reqs, bad, logged = map(int, sys.argv[7:10])
t_rps, t50, t99 = map(float, sys.argv[10:13])
print(f"{'':14} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
print(f"{'baseline':14} {b_rps:>10.0f} {b50:>8.3f} {b99:>8.3f}")
print(f"{'tokio-default':14} {t_rps:>10.0f} {t50:>8.3f} {t99:>8.3f}")
print(f"{'decide':14} {d_rps:>10.0f} {d50:>8.3f} {d99:>8.3f}")
print(f"against the same-runtime baseline: throughput ratio {d_rps / b_rps:.2f} (goal >= 0.80); p99 ratio {d99 / b99:.2f} (goal <= 1.25)")
print(f"against tokio's default runtime (all cores): throughput ratio {d_rps / t_rps:.2f}; p99 ratio {d99 / t99:.2f}")
print(f"decide requests (warm-up included) answered non-2xx: {bad}; access events logged during the run: {logged}")
PY
