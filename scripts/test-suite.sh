#!/usr/bin/env bash
# The whole test suite (`make test-only`; extra arguments go to nextest),
# leaving the machine as it was:
# - installs cargo-nextest when it is missing;
# - notes the machine's own pcscd (a systemd unit, or a process) before the
#   hardware tests replace it with the simulator's (hw-sim/src/pcscd.rs:
#   there is one pcscd per machine), then stops the simulator's pcscd and
#   brings the machine's own back;
# - fails if a daemon the tests started is still running afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

if ! $CARGO nextest --version >/dev/null 2>&1; then
  echo "test-suite: cargo-nextest is not installed; installing it (cargo install cargo-nextest --locked)" >&2
  $CARGO install cargo-nextest --locked || exit 1
fi

HWSIM_DIR=${IDMS_HWSIM_DIR:-${TMPDIR:-/tmp}/idms-hwsim}
systemd=false
[ -d /run/systemd/system ] && systemd=true

# pid and command line of every pcscd, one per line.
pcscds() {
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ] || continue
    # A zombie has no command line: it is gone already.
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
    [ -n "$cmd" ] && echo "${p#/proc/} $cmd"
  done
}

units_before=()
if $systemd; then
  for u in pcscd.socket pcscd.service; do
    systemctl is-active --quiet "$u" 2>/dev/null && units_before+=("$u")
  done
fi
# The machine's own pcscd processes (not the simulator's), to start again.
own_before=$(pcscds | grep -v -- "$HWSIM_DIR" | cut -d' ' -f2- || true)

$CARGO nextest run --workspace --locked --no-fail-fast "$@"
rc=$?

# Stop the simulator's pcscd.
for pid in $(pcscds | grep -- "$HWSIM_DIR" | cut -d' ' -f1); do
  kill -TERM "$pid" 2>/dev/null
done
for _ in $(seq 50); do
  [ -z "$(pcscds | grep -- "$HWSIM_DIR")" ] && break
  sleep 0.1
done

# Bring the machine's own back.
if [ ${#units_before[@]} -gt 0 ]; then
  systemctl start "${units_before[@]}" || echo "test-suite: could not restart ${units_before[*]}" >&2
elif [ -n "$own_before" ] && [ -z "$(pcscds)" ]; then
  while IFS= read -r cmd; do
    # shellcheck disable=SC2086 # the recorded command line, word-split as it ran
    setsid $cmd </dev/null >/dev/null 2>&1 &
  done <<<"$own_before"
fi

left=$(pcscds | grep -- "$HWSIM_DIR")
if [ -n "$left" ]; then
  echo "test-suite: the simulator's pcscd is still running: $left" >&2
  rc=1
fi
left=$(pgrep -a -f "$PWD/target/(debug|release)/(idms|hw-sim)( |$)|slapd -f .*/idms-slapd-" || true)
if [ -n "$left" ]; then
  echo "test-suite: processes the tests started are still running:" >&2
  echo "$left" >&2
  rc=1
fi
exit $rc
