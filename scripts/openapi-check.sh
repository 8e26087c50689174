#!/usr/bin/env bash
# The OpenAPI document is valid and true (`make openapi-check`, run by `make test`):
#
# 1. `idms openapi` prints it; openapi-spec-validator checks it against
#    OpenAPI 3.1.
# 2. A real `idms serve` on a fresh data directory (`idms init`, `idms demo`
#    for a few people and cards, admin and controller tokens from the CLI)
#    serves the same document, and schemathesis fuzzes every operation with
#    it: no 5xx, no status and no content type the document does not
#    declare, bodies that match their schemas.
#
# Four bounded runs, each with a token of its own, so that no run ends
# another's:
#   doors    the door-controller routes, with a controller's token (first:
#            the staff run disables controllers and rotates their tokens);
#   staff    everything an admin may call, less the SSE stream (it never
#            ends) and the routes that end tokens;
#   revoking token revocation by ID and by operator, operator disable (they
#            may end their own token too: then they answer 401, as declared);
#   logout   logout, which ends its token at once.
# OPENAPI_FUZZ_SECONDS (default 150) is shared out 5:20:4:1; a finding, or a run
# that overruns its budget, fails.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV="$PWD/$VENV" ;; esac
OPENAPI_FUZZ_SECONDS=${OPENAPI_FUZZ_SECONDS:-150}
OPENAPI_FUZZ_EXAMPLES=${OPENAPI_FUZZ_EXAMPLES:-50}
CARGO=${CARGO:-cargo}

"$CARGO" build --locked --quiet --bin idms
idms=target/debug/idms

work=$(mktemp -d "${TMPDIR:-/tmp}/idms-openapi.XXXXXX")
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== openapi-spec-validator"
"$idms" openapi > "$work/openapi.json"
"$VENV/bin/openapi-spec-validator" "$work/openapi.json"

data="$work/data"
"$idms" --data-dir "$data" init > /dev/null
"$idms" --data-dir "$data" demo > /dev/null
token() { "$idms" --data-dir "$data" --json token create --name "$1" --role admin --days 1 | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
staff_token=$(token fuzz-staff)
revoking_token=$(token fuzz-revoking)
logout_token=$(token fuzz-logout)
door_token=$("$idms" --data-dir "$data" --json controller add --name fuzz-door --door front --door side \
    | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$idms" --data-dir "$data" serve --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server=$!
"$VENV/bin/python" - "$base" "$work/openapi.json" <<'PY'
import json, sys, time, urllib.request
base, printed = sys.argv[1], sys.argv[2]
for _ in range(300):
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
            if r.status == 200:
                break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("idms serve did not become ready")
with urllib.request.urlopen(base + "/api/v1/openapi.json") as r:
    served = json.load(r)
if served != json.load(open(printed)):
    sys.exit("GET /api/v1/openapi.json differs from `idms openapi`")
PY

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
status=0
run() {
    local name=$1 seconds=$2 token=$3
    shift 3
    echo "== schemathesis: $name (${seconds}s)"
    # `timeout` only catches a run that overruns its own --max-time.
    # From the scratch directory: schemathesis and hypothesis keep state in the working directory.
    (cd "$work" && timeout --signal=INT $((seconds + 30)) "$VENV/bin/schemathesis" run "$base/api/v1/openapi.json" \
        --url "$base" --checks "$checks" --header "Authorization: Bearer $token" \
        --max-examples "$OPENAPI_FUZZ_EXAMPLES" --max-time "$seconds" --request-timeout 15 \
        --workers 2 --generation-database none --no-color --output-truncate false \
        --suppress-health-check too_slow,filter_too_much \
        "$@") || status=1
}
fuzz_started=$SECONDS
share=$((OPENAPI_FUZZ_SECONDS / 30))
[ "$share" -ge 1 ] || share=1
# First: the staff run disables controllers and rotates their tokens.
# The doors run skips schemathesis' coverage phase: on this machine's
# CPython 3.11.7 it crashes there (hypothesis describing a filter lambda:
# "SystemError: AST constructor recursion depth mismatch") once the feed is
# reachable as `me` too — a crash of the tool, not a finding; the examples
# and fuzzing phases still send every door route generated requests.
run doors $((share * 5)) "$door_token" --include-tag doors --phases examples,fuzzing
run staff $((share * 20)) "$staff_token" --exclude-path /api/v1/readers/events --exclude-path /api/v1/logout \
    --exclude-path /api/v1/tokens/{id}/revoke --exclude-path /api/v1/operators/{name}/tokens/revoke \
    --exclude-path /api/v1/operators/{name}/disable --exclude-tag doors
# Last: these revoke tokens by ID or owner, the door's and their own included.
run revoking $((share * 4)) "$revoking_token" --include-path /api/v1/tokens/{id}/revoke \
    --include-path /api/v1/operators/{name}/tokens/revoke --include-path /api/v1/operators/{name}/disable
run logout "$share" "$logout_token" --include-path /api/v1/logout

echo "== fuzzing took $((SECONDS - fuzz_started)) s"
if ! kill -0 "$server" 2>/dev/null; then
    echo "idms serve died during the run:"; tail -n 50 "$work/serve.log"; exit 1
fi
if grep -q "panicked" "$work/serve.log"; then
    echo "a handler panicked:"; grep -B2 -A5 "panicked" "$work/serve.log" | head -n 40; status=1
fi
exit "$status"
