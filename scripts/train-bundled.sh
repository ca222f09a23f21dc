#!/usr/bin/env bash
# Reproduces the bundled weights: trains the four models from scratch on ../shared/data/train
# (never eval/), in the background-friendly way (checkpoints every 50 steps; re-running this
# script resumes any run whose checkpoint exists), then copies the results into weights/.
#
#   nohup scripts/train-bundled.sh > runs/train.log 2>&1 &
#
# Data: ../shared/data/train (cbsd432, imagenet-sample, t91; 818 photos). Seed 0 everywhere.
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
RAYON_NUM_THREADS=1 train colorize --task colorize --steps 1000 --batch 8 &
wait

# Second stage, from the first stage's weights (a new warm-up + cosine schedule):
# denoise 1500 more steps; colorize 500 steps with the colourfulness-aware loss (see README).
# Note: the bundled colorize first stage ran before that loss existed (plain L1); this script now
# uses the colourfulness-aware loss in both stages, so its colorize result is close, not identical.
cont() { # name, base, then finetune flags
  local name=$1 base=$2; shift 2
  local resume=()
  [ -f "runs/$name.ckpt.safetensors" ] && resume=(--resume)
  "$BIN" finetune --dir "$DATA" --from "runs/$base.safetensors" --seed 0 --val-every 100 --checkpoint-every 50 \
    -o "runs/$name.safetensors" "${resume[@]}" "$@" > "runs/$name.log" 2>&1
}
RAYON_NUM_THREADS=2 cont denoise-cont denoise --task denoise --steps 1500 --lr 5e-4 &
RAYON_NUM_THREADS=1 cont colorize-chroma colorize --task colorize --steps 500 --batch 8 --lr 5e-4 &
wait
cp runs/denoise-cont.safetensors weights/denoise.safetensors
cp runs/colorize-chroma.safetensors weights/colorize.safetensors
for m in upscale-x2 upscale-x4; do cp "runs/$m.safetensors" "weights/$m.safetensors"; done
echo "weights/ updated; rebuild to bundle them: cargo build --release"
