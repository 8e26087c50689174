#!/usr/bin/env bash
# Fuzz smoke test of firmware-protocol's decoders: builds every cargo-fuzz
# target in firmware-protocol/fuzz once, then runs each for FUZZ_SECONDS
# (default 8) from a temporary copy of its committed seeds
# (firmware-protocol/fuzz/seeds/<target>/, so they stay as they are), with
# -rss_limit_mb=1024. Prints one line per target (executions run, new
# coverage units, peak RSS) and exits non-zero, naming the target and its
# crash artifact, when any target crashes, hangs or runs out of memory.
#
# Runs on stable Rust through RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags),
# and installs cargo-fuzz when `cargo fuzz` is missing. Targets are built
# without a sanitizer: the crate forbids unsafe code, so panics (index out
# of range, overflow: debug assertions are on) and failed round-trip
# assertions are what the fuzzer finds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_DIR=firmware-protocol/fuzz
SECS=${FUZZ_SECONDS:-8}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: cargo-fuzz is not installed; installing it (cargo install cargo-fuzz --locked)" >&2
  cargo install cargo-fuzz --locked
fi

HOST=$(rustc -vV | sed -n 's/^host: //p')
BUILD_FLAGS=(--fuzz-dir "$FUZZ_DIR" --target "$HOST" -O --debug-assertions --sanitizer none)
LOCK=$FUZZ_DIR/Cargo.lock

# cargo-fuzz has no --locked: check the committed lockfile is complete
# first, and that the build left it as it was.
cargo fetch --locked --manifest-path "$FUZZ_DIR/Cargo.toml" >/dev/null
lock_before=$(sha256sum "$LOCK")
start=$(date +%s)
cargo fuzz build "${BUILD_FLAGS[@]}"
if [ "$(sha256sum "$LOCK")" != "$lock_before" ]; then
  echo "fuzz-smoke: building changed $LOCK; commit the new lockfile or fix Cargo.toml" >&2
  exit 1
fi
build_secs=$(($(date +%s) - start))

BIN_DIR=$FUZZ_DIR/target/$HOST/release
mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
[ "${#TARGETS[@]}" -gt 0 ] || { echo "fuzz-smoke: no fuzz targets in $FUZZ_DIR" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

failed=()
total_execs=0
echo "fuzz-smoke: built ${#TARGETS[@]} targets in ${build_secs}s; running each for ${SECS}s"
for t in "${TARGETS[@]}"; do
  corpus=$WORK/corpus-$t
  mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$t"
  if [ -d "$FUZZ_DIR/seeds/$t" ]; then cp -R "$FUZZ_DIR/seeds/$t/." "$corpus/"; fi
  log=$WORK/$t.log
  rc=0
  # A hang inside one input is caught by -timeout; the outer timeout is a
  # last resort should libFuzzer itself not stop.
  timeout --kill-after=10 $((SECS + 60)) "$BIN_DIR/$t" \
    -max_total_time="$SECS" -rss_limit_mb=1024 -timeout=10 -max_len=2048 \
    -print_final_stats=1 -artifact_prefix="$ROOT/$FUZZ_DIR/artifacts/$t/" \
    "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(stat_of number_of_executed_units "$log")
  added=$(stat_of new_units_added "$log")
  rss=$(stat_of peak_rss_mb "$log")
  total_execs=$((total_execs + ${execs:-0}))
  if [ "$rc" -eq 0 ]; then
    printf '%-16s ok    %10s execs  %5s new units  peak RSS %s MB\n' "$t" "${execs:-?}" "${added:-?}" "${rss:-?}"
  else
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    artifact=${artifact#"$ROOT/"}
    printf '%-16s FAIL  %10s execs  (exit %s)\n' "$t" "${execs:-?}" "$rc"
    {
      echo "fuzz-smoke: target '$t' failed (exit $rc); crash artifact: ${artifact:-none written}"
      grep -m 1 -A 1 -E 'panicked at|ERROR: libFuzzer' "$log" | sed 's/^/  /' || true
      grep -m 1 '^Base64:' "$log" | sed 's/^/  input /' || true
      if [ -n "$artifact" ]; then
        cp "$log" "$FUZZ_DIR/artifacts/$t/fuzz-smoke.log"
        echo "  full log: $FUZZ_DIR/artifacts/$t/fuzz-smoke.log"
        echo "  reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run ${BUILD_FLAGS[*]} $t $artifact"
      else
        tail -n 20 "$log" | sed 's/^/  /'
      fi
    } >&2
    failed+=("$t")
  fi
done

wall=$(($(date +%s) - start))
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]} (${#failed[@]} of ${#TARGETS[@]} targets; ${wall}s)" >&2
  exit 1
fi
echo "fuzz-smoke: all ${#TARGETS[@]} targets passed: $total_execs executions in ${wall}s (build ${build_secs}s)"
