#!/usr/bin/env bash
# Measures the bundled weights on ../shared/data/eval with `aetool eval` (published protocols,
# baselines in the same run) and prints the model-card figures. Skips cleanly without the data.
#
#   scripts/eval-bundled.sh | tee docs/eval-results.txt
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/data/eval}
if [ ! -d "$EVAL" ]; then
  echo "skip: $EVAL not found (the evaluation photos live beside the project, see README)"; exit 0
fi
cargo build --release >&2
BIN=target/release/aetool
set -x
$BIN eval --task denoise --sigma 15,25,50 "$EVAL/cbsd68"
for s in 2 4; do
  $BIN eval --task upscale -x$s "$EVAL/set5"
  $BIN eval --task upscale -x$s "$EVAL/set14"
done
$BIN eval --task colorize "$EVAL/cbsd68"
