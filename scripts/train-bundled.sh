#!/usr/bin/env bash
# Reproduces the bundled weights: trains the four models from scratch on ../shared/data/train
# (never eval/), in the background-friendly way (checkpoints every 50 steps; re-running this
# script resumes any run whose checkpoint exists), then copies the results into weights/.
#
#   nohup scripts/train-bundled.sh > runs/train.log 2>&1 &
#
# Data: ../shared/data/train (cbsd432, imagenet-sample, t91; 818 photos). Seeds as written below.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/train}
if [ ! -d "$DATA" ]; then
  echo "skip: $DATA not found (the training photos live beside the project, see README)"; exit 0
fi
cargo build --release
mkdir -p runs
BIN=target/release/aetool

train() { # name, then finetune flags
  local name=$1; shift
  local resume=()
  [ -f "runs/$name.ckpt.safetensors" ] && resume=(--resume)
  "$BIN" finetune --dir "$DATA" --from scratch --seed 0 --val-every 100 --checkpoint-every 50 \
    -o "runs/$name.safetensors" "${resume[@]}" "$@" > "runs/$name.log" 2>&1
}

# The four runs share the 2 cores: denoise gets 2 threads, the others 1 each.
RAYON_NUM_THREADS=2 train denoise --task denoise --steps 2000 &
RAYON_NUM_THREADS=1 train upscale-x2 --task upscale -x2 --steps 2000 &
RAYON_NUM_THREADS=1 train upscale-x4 --task upscale -x4 --steps 2000 &
RAYON_NUM_THREADS=1 train colorize --task colorize --steps 1000 --batch 8 --chroma-weight 0 &
wait

# Later stages start from the previous stage's weights (each with a new warm-up + cosine schedule).
cont() { # name, base, then finetune flags
  local name=$1 base=$2; shift 2
  local resume=()
  [ -f "runs/$name.ckpt.safetensors" ] && resume=(--resume)
  "$BIN" finetune --dir "$DATA" --from "runs/$base.safetensors" --val-every 100 --checkpoint-every 50 \
    -o "runs/$name.safetensors" "${resume[@]}" "$@" > "runs/$name.log" 2>&1
}
# Stage 2: denoise 1,500 more steps; colorize 500 steps adding the colourfulness term (weight 1).
RAYON_NUM_THREADS=2 cont denoise-cont denoise --task denoise --steps 1500 --lr 5e-4 --seed 0 &
RAYON_NUM_THREADS=1 cont colorize-chroma colorize --task colorize --steps 500 --batch 8 --lr 5e-4 \
  --chroma-weight 1 --seed 0 &
wait
# Upscalers: 3,000 more steps each at lr 5e-4 (seed 1).
RAYON_NUM_THREADS=1 cont upscale-x2-cont upscale-x2 --task upscale -x2 --steps 3000 --lr 5e-4 --seed 1 &
RAYON_NUM_THREADS=1 cont upscale-x4-cont upscale-x4 --task upscale -x4 --steps 3000 --lr 5e-4 --seed 1 &
wait
# Stage 3 (new seeds: fresh crops and validation split): denoise 3,000 steps at lr 3e-4; colorize
# 1,000 steps at weight 0.25, then 1,000 at 0.2 (the measured trade-off, see README's model card).
RAYON_NUM_THREADS=2 cont denoise-c3 denoise-cont --task denoise --steps 3000 --lr 3e-4 --seed 1 &
(
  export RAYON_NUM_THREADS=1
  cont colorize-c3-w0.25 colorize-chroma --task colorize --steps 1000 --batch 8 --lr 3e-4 \
    --chroma-weight 0.25 --seed 1
  cont colorize-c4-w0.2 colorize-c3-w0.25 --task colorize --steps 1000 --batch 8 --lr 3e-4 \
    --chroma-weight 0.2 --seed 2
) &
wait
# Stage 4: denoise 3,000 more steps at lr 2e-4 (seed 2).
RAYON_NUM_THREADS=2 cont denoise-c4 denoise-c3 --task denoise --steps 3000 --lr 2e-4 --seed 2
cp runs/denoise-c4.safetensors weights/denoise.safetensors
cp runs/colorize-c4-w0.2.safetensors weights/colorize.safetensors
for m in upscale-x2 upscale-x4; do cp "runs/$m-cont.safetensors" "weights/$m.safetensors"; done
echo "weights/ updated; rebuild to bundle them: cargo build --release"
