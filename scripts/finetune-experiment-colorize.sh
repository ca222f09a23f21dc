#!/usr/bin/env bash
# The README's colorize fine-tuning experiment (issue 11 item 5): one ImageNet class family, the
# 118 dog breeds (classes 151-268, wnids n02085620..n02113978) of ../shared/data/train/imagenet-sample.
# Sorted by name, every fourth photo is held out; the bundled colorizer is fine-tuned on the others
# with the default settings, then bundled vs fine-tuned is measured on the held-out photos (PSNR,
# colourfulness, hue-balanced correctness, with the grey copy and the sepia tint as baselines).
# The bundled colorizer's own training saw these photos too (the chain predates the experiment), which
# can only favour it on the held-out ones: the gain measured is a lower bound.
# Skips cleanly without ../shared/data.
#
#   scripts/finetune-experiment-colorize.sh 2>&1 | tee runs/finetune-experiment-colorize.log
#
# STEPS (default 500) sets the fine-tuning steps; NO_BUILD=1 reuses target/release/aetool.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-500}
photos=../shared/data/train/imagenet-sample
work=runs/dogs-experiment
if [ ! -d "$photos" ]; then
  echo "skip: $photos is absent (see ../shared/data/README.md)"; exit 0
fi
[ -n "${NO_BUILD:-}" ] || cargo build --release >&2
BIN=target/release/aetool
rm -rf "$work" && mkdir -p "$work/tune" "$work/held"
i=0
while IFS= read -r f; do
  wnid=${f%%_*}
  if [[ "$wnid" < n02085620 || "$wnid" > n02113978 ]]; then continue; fi
  if [ $((i % 4)) -eq 3 ]; then dest=held; else dest=tune; fi
  ln -s "$(realpath "$photos/$f")" "$work/$dest/$f"
  i=$((i + 1))
done < <(ls "$photos" | LC_ALL=C sort)
echo "tune: $(ls "$work/tune" | wc -l) photos, held out: $(ls "$work/held" | wc -l) photos"
$BIN finetune --task colorize --dir "$work/tune" --steps "$STEPS" --val-every 100 \
  --checkpoint-every 100 -o "$work/dogs-colorize.safetensors" 2>&1 | grep -v '^aetool: skipping'
echo "== fine-tuned for $STEPS steps on the other three quarters (previous = bundled)"
$BIN eval --task colorize "$work/held" --weights "$work/dogs-colorize.safetensors" --compare bundled
