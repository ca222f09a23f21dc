#!/usr/bin/env bash
# The README's fine-tuning experiment: fine-tune the bundled denoiser on two thirds of T91
# (a narrow domain: mostly flowers), then compare bundled vs fine-tuned PSNR at sigma 25 on the
# other third. Skips cleanly without ../shared/data.
#
#   scripts/finetune-experiment.sh 2>&1 | tee runs/finetune-experiment.log
set -euo pipefail
cd "$(dirname "$0")/.."
T91=${T91:-../shared/data/train/t91}
if [ ! -d "$T91" ]; then
  echo "skip: $T91 not found (see README)"; exit 0
fi
STEPS=${STEPS:-300}
[ -n "${NO_BUILD:-}" ] || cargo build --release >&2
BIN=target/release/aetool
work=runs/t91-experiment
rm -rf "$work" && mkdir -p "$work/tune" "$work/held"
# Every third file (sorted by name) is held out.
i=0
for f in $(ls "$T91" | sort); do
  if [ $((i % 3)) -eq 2 ]; then dest=held; else dest=tune; fi
  ln -s "$(realpath "$T91/$f")" "$work/$dest/$f"
  i=$((i + 1))
done
echo "tune: $(ls "$work/tune" | wc -l) images, held out: $(ls "$work/held" | wc -l) images"
$BIN finetune --task denoise --dir "$work/tune" --steps "$STEPS" --patch 32 --val-every 100 \
  --checkpoint-every 100 -o "$work/t91-denoise.safetensors"
echo "== bundled"
$BIN eval --task denoise --sigma 15,25,50 "$work/held"
echo "== fine-tuned on the other two thirds of T91"
$BIN eval --task denoise --sigma 15,25,50 "$work/held" --weights "$work/t91-denoise.safetensors"
