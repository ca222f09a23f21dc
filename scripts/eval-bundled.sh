#!/usr/bin/env bash
# Measures the bundled weights on ../shared/data/eval with `aetool eval` (published protocols,
# baselines in the same run) and prints the model-card figures. Skips cleanly without the data
# (the whole run without ../shared/data/eval, one set at a time when a set is missing).
#
#   scripts/eval-bundled.sh | tee docs/eval-results.txt
#
# AETOOL=<binary> uses that binary instead of building one.
# COMPARE_REV=<git revision> also runs that revision's bundled weights (weights/*.safetensors) on
# the same inputs, printed as `previous` on every line (e.g. COMPARE_REV=HEAD~1 after a retrain).
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/data/eval}
if [ ! -d "$EVAL" ]; then
  echo "skip: $EVAL not found (the evaluation photos live beside the project, see README)"; exit 0
fi
if [ -n "${AETOOL:-}" ]; then
  BIN=$AETOOL  # an aetool binary already built
else
  cargo build --release >&2
  BIN=${CARGO_TARGET_DIR:-target}/release/aetool
fi

PREV=""
if [ -n "${COMPARE_REV:-}" ]; then
  PREV=$(mktemp -d)
  trap 'rm -rf "$PREV"' EXIT
  for f in denoise denoise-gaussian denoise-jpeg upscale-x2 upscale-x2-clean upscale-x4 upscale-x4-clean colorize; do
    # Revisions before the variants bundled only the default of each task.
    git show "$COMPARE_REV:weights/$f.safetensors" > "$PREV/$f.safetensors" 2>/dev/null ||
      git show "$COMPARE_REV:weights/${f%-*}.safetensors" > "$PREV/$f.safetensors"
  done
fi

# ev WEIGHTS-NAME SET [eval flags…]: one eval run, skipped when the set is absent (pass
# `--variant V` among the flags for the bundled `NAME` = `<kind>-V`).
ev() {
  local name=$1 set=$2
  shift 2
  if [ ! -d "$EVAL/$set" ]; then
    echo "skip: $EVAL/$set not found"; return 0
  fi
  local compare=()
  if [ -n "$PREV" ]; then compare=(--compare "$PREV/$name.safetensors"); fi
  (set -x; "$BIN" eval "$@" ${compare[@]+"${compare[@]}"} "$EVAL/$set")
}

# Denoise: Gaussian noise at known σ (told the level, a PNG goes to the default's Gaussian-noise model, so that
# is the file COMPARE_REV compares with; revisions before it bundled none and compare with their default);
# clean photos through the blind default (σ 0); real camera noise (noisy/ + clean/ pairs); JPEG artefacts
# (below quality 70 the default runs its JPEG model; `--variant jpeg` runs it on every photo, here on
# camera-quality JPEGs too, where the default runs its camera-noise model).
ev denoise-gaussian cbsd68 --task denoise --sigma 15,25,50
ev denoise-jpeg live1 --task denoise --variant jpeg --jpeg 70,80,90
ev denoise live1 --task denoise --jpeg 70,80,90
ev denoise cbsd68 --task denoise --sigma 0 --blind
ev denoise polyu100 --task denoise
# These JPEGs (below quality 70) go to the default's JPEG model, so that is the file COMPARE_REV compares with
# (a weights file given to --compare is run alone, without the default's routing by JPEG quality).
ev denoise-jpeg live1 --task denoise --jpeg 10,20,30,40
# Upscale: the sets' LR images, and LR made from HR then JPEG-compressed.
# The default (real-photo) models and the `clean` variants on both.
for s in 2 4; do
  for v in "" clean; do
    name=upscale-x$s${v:+-$v}
    flags=(--task upscale -x$s ${v:+--variant $v})
    ev "$name" set5 "${flags[@]}"
    ev "$name" set14 "${flags[@]}"
    ev "$name" set14 "${flags[@]}" --jpeg 50,60,70
  done
done
# Colorize: PSNR, colourfulness and colour correctness, with the grey and sepia baselines.
ev colorize cbsd68 --task colorize
