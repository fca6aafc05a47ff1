#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer, nightly toolchain) over the targets in fuzz/: the sync frame
# decoder, the reference server's whole sync handler, automerge uploads, record JSON and patches;
# and the server's own readers, grid-map imports (GeoJSON) and Open311 request forms.
#
# What CI runs (through scripts/test.sh): each sync-core target from its committed corpus for a
# few seconds. The server's targets build the whole server crate under the sanitizer (about
# seven minutes more on two cores), so they run when asked: FUZZ_SERVER=1, or by name; their
# stable property tests run in the suite either way. On demand, longer: FUZZ_SECONDS=3600
# ./scripts/fuzz.sh, or FUZZ_RUNS=10000000 FUZZ_SERVER=1 ./scripts/fuzz.sh, or one target:
# ./scripts/fuzz.sh grid_import. New inputs go to a scratch directory, not the committed corpus;
# a crash leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: no nightly toolchain, skipped (the stable property tests of the same decoders ran)"
  exit 0
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2

# Sanitizer builds are kept apart from the stable ones, beside them when CI keeps a target dir.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then target_dir="$CARGO_TARGET_DIR/fuzz"; else target_dir="$PWD/fuzz/target"; fi
server_targets=(grid_import open311_form)
is_server_target() { printf '%s\n' "${server_targets[@]}" | grep -qx "$1"; }

targets=("$@")
features=()
for target in "${targets[@]}"; do
  if is_server_target "$target"; then features=(--features server); fi
done
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
  if [ "${FUZZ_SERVER:-0}" = 1 ]; then features=(--features server); fi
fi
cargo +nightly fuzz build -O --target-dir "$target_dir" "${features[@]}"

for target in "${targets[@]}"; do
  if is_server_target "$target" && [ ${#features[@]} -eq 0 ]; then
    echo "fuzz: $target skipped (FUZZ_SERVER=1 runs it; its property tests ran in the suite)"
    continue
  fi
  scratch=$(mktemp -d)
  limits=(-max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=2048 -malloc_limit_mb=1024)
  if [ -n "${FUZZ_RUNS:-}" ]; then limits=(-runs="$FUZZ_RUNS" -rss_limit_mb=2048 -malloc_limit_mb=1024); fi
  echo "fuzz: $target"
  status=0
  mkdir -p "fuzz/corpus/$target"
  cargo +nightly fuzz run -O --target-dir "$target_dir" "${features[@]}" "$target" "$scratch" "fuzz/corpus/$target" \
    -- "${limits[@]}" -print_final_stats=1 >"$scratch.log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units)' "$scratch.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$scratch.log" >&2
    echo "fuzz: $target failed (its input is in fuzz/artifacts/$target/)" >&2
    rm -rf "$scratch" "$scratch.log"
    exit "$status"
  fi
  rm -rf "$scratch" "$scratch.log"
done
