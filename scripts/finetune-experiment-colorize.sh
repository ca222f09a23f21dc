#!/usr/bin/env bash
# The README's colorize fine-tuning experiment (issue 11 item 5): does `aetool finetune --task colorize
# --dir <photos of a kind>` beat the bundled colorizer on new photos of that kind?
#
# The kind: one ImageNet class family, the 118 dog breeds (classes 151-268, wnids n02085620..n02113978) of
# ../shared/data/train/imagenet-sample.
# 1. The base: the bundled colorizer's recipe (scripts/train-bundled.sh, colorize stages 1-2) re-run on
#    ../shared/data/train WITHOUT the dog photos (runs/nodogs-*: 8,000 steps from aetool 0.1's colorizer,
#    then the 1,000-step low-learning-rate branch keeping its best held-out step). About 70 min on 2 cores;
#    resumable (re-run the script), and skipped once runs/nodogs-base.safetensors exists.
# 2. Four folds: the dog photos sorted by name, photo i in fold i mod 4. For each fold, the base is
#    fine-tuned on the other three folds (89 photos) with `aetool finetune`'s default settings and scored on
#    the fold (29-30 photos it never saw) against the base, the grey copy and the sepia tint
#    (`aetool eval --task colorize --compare`); every dog photo is scored once, by a model that never saw it.
#    The shipped bundled colorizer is scored too, for reference (its training saw every dog photo).
# 3. scripts/finetune_experiment_colorize.py prints the means over the 118 photos and the paired
#    differences (fine-tuned - base) with their standard errors.
#
#   scripts/finetune-experiment-colorize.sh 2>&1 | tee runs/finetune-experiment-colorize.log
#
# A fold whose scores exist is not run again. STEPS (default 300) sets the fine-tuning steps, VAL_EVERY
# (default 50) how often its validation may pick a step (VAL_EVERY=STEPS: the last step, unless the base
# scores better), FT_FLAGS adds finetune flags (e.g. "--lr 3e-4"; colorize defaults to 1e-4), OUT (default runs/dogs-experiment/folds)
# where the folds' weights and scores go; NO_BUILD=1 reuses target/release/aetool. Skips cleanly without
# ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-300}
DATA=../shared/data/train
work=runs/dogs-experiment
out=${OUT:-$work/folds}
if [ ! -d "$DATA/imagenet-sample" ]; then
  echo "skip: $DATA/imagenet-sample is absent (see ../shared/data/README.md)"; exit 0
fi
[ -n "${NO_BUILD:-}" ] || cargo build --release >&2
BIN=target/release/aetool
is_dog() { local wnid=${1%%_*}; [[ ! "$wnid" < n02085620 && ! "$wnid" > n02113978 ]]; }

# The split, as symbolic links: train-nodogs/ mirrors the training folders without the dogs; fold<k>/.
rm -rf "$work/train-nodogs" "$work"/fold[0-3] "$work"/tune[0-3]
for sub in "$DATA"/*/; do mkdir -p "$work/train-nodogs/$(basename "$sub")"; done
for k in 0 1 2 3; do mkdir -p "$work/fold$k" "$work/tune$k"; done
i=0
while IFS= read -r f; do
  src=$(realpath "$DATA/imagenet-sample/$f")
  if ! is_dog "$f"; then ln -s "$src" "$work/train-nodogs/imagenet-sample/"; continue; fi
  for k in 0 1 2 3; do
    if [ $((i % 4)) -eq "$k" ]; then ln -s "$src" "$work/fold$k/"; else ln -s "$src" "$work/tune$k/"; fi
  done
  i=$((i + 1))
done < <(ls "$DATA/imagenet-sample" | LC_ALL=C sort)
for sub in "$DATA"/*/; do
  s=$(basename "$sub")
  [ "$s" = imagenet-sample ] || for f in "$sub"*; do ln -s "$(realpath "$f")" "$work/train-nodogs/$s/"; done
done
echo "dogs: $i photos in 4 folds; training photos without them: $(find "$work/train-nodogs" -type l | wc -l)"

# 1. The base without dogs (the flags of train-bundled.sh's colorize-cls and colorize-lowlr2).
[ -f runs/v01-colorize.safetensors ] || git show dfc97a8:weights/colorize.safetensors > runs/v01-colorize.safetensors
train() { # name, then finetune flags
  local name=$1; shift
  local resume=()
  [ -f "runs/$name.ckpt.safetensors" ] && resume=(--resume)
  "$BIN" finetune --task colorize --dir "$work/train-nodogs" --batch 8 --checkpoint-every 100 \
    -o "runs/$name.safetensors" "${resume[@]}" "$@" >> "runs/$name.log" 2>&1
}
# checkpoints/ holds the base made on 2026-12-02; delete the copy in runs/ to train it again.
[ -f runs/nodogs-base.safetensors ] || [ ! -f checkpoints/colorize-nodogs-base.safetensors ] ||
  cp checkpoints/colorize-nodogs-base.safetensors runs/nodogs-base.safetensors
if [ ! -f runs/nodogs-base.safetensors ]; then
  echo "training the base without dogs (log: runs/nodogs-cls.log, runs/nodogs-lowlr.log)"
  [ -f runs/nodogs-cls.safetensors ] ||
    train nodogs-cls --from runs/v01-colorize.safetensors --steps 8000 --lr 1e-3 --seed 0 --val-every 250
  # The branch starts from the last step (the run's output holds its best held-out step): write it
  # from the final checkpoint, as train-bundled.sh does for colorize-cls-8000.
  if [ ! -f runs/nodogs-cls-8000.safetensors ]; then
    cp runs/nodogs-cls.ckpt.safetensors runs/nodogs-cls-8000.ckpt.safetensors
    train nodogs-cls-8000 --from runs/v01-colorize.safetensors --steps 8000 --lr 1e-3 --seed 0 --val-every 250
  fi
  train nodogs-lowlr --from runs/nodogs-cls-8000.safetensors --steps 1000 --lr 2e-4 --seed 1 --val-every 100
  cp runs/nodogs-lowlr.safetensors runs/nodogs-base.safetensors
fi

# 2. The folds.
mkdir -p "$out"
for k in 0 1 2 3; do
  [ -f "$out/fold$k.json" ] || {
    # shellcheck disable=SC2086 # FT_FLAGS is a list of flags
    "$BIN" finetune --task colorize --dir "$work/tune$k" --from runs/nodogs-base.safetensors \
      --steps "$STEPS" --val-every "${VAL_EVERY:-50}" --checkpoint-every 1000 ${FT_FLAGS:-} \
      -o "$out/fold$k.safetensors" 2>&1 | grep -v '^aetool: skipping'
    rm -f "$out/fold$k.ckpt.safetensors"
    "$BIN" eval --task colorize "$work/fold$k" --weights "$out/fold$k.safetensors" \
      --compare runs/nodogs-base.safetensors --per-image --json > "$out/fold$k.json.part"
    mv "$out/fold$k.json.part" "$out/fold$k.json"
  }
  "$BIN" eval --task colorize "$work/fold$k" --per-image --json > "$out/bundled$k.json"
done

# 3. The figures.
python3 scripts/finetune_experiment_colorize.py "$out"
