#!/usr/bin/env bash
# Calibrates src/pipeline/jpeg_boost.rs (how much a JPEG's blind noise level is raised, by the quality its
# file's tables say) for the bundled denoiser, on training photos only (never eval/):
#
#   nohup scripts/calibrate-jpeg-boost.sh > runs/calibrate-jpeg-boost.log 2>&1 &
#   WEIGHTS=runs/mine.safetensors scripts/calibrate-jpeg-boost.sh      # other denoise weights
#
# A fixed sample of ../shared/data/train (every 50th ImageNet photo and the ten largest T91 PNGs; the
# Sun–Hays photos are left out: recompressing those q75 originals at q75 is nearly lossless, which says
# nothing about artefact removal) goes through `aetool eval --task denoise --jpeg …` at each --strength.
# Prints the mean PSNR gain over the JPEG per quality and strength, on top of the table in force: the
# table's factor times the best strength is the new factor (the table was made from a build without
# the boost, where the best strength is the factor itself). About 10 minutes on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/train}
if [ ! -d "$DATA" ]; then
  echo "skip: $DATA not found (the training photos live beside the project, see README)"; exit 0
fi
cargo build --release
OUT=runs/calibrate-jpeg-boost
rm -rf "$OUT" && mkdir -p "$OUT/sample"
i=0
while IFS= read -r f; do
  ln -s "$(realpath "$f")" "$OUT/sample/im_$i.${f##*.}"; i=$((i + 1))
done < <( (ls "$DATA"/imagenet-sample/*.JPEG | grep -v "'" | awk 'NR % 50 == 7'; ls -S "$DATA"/t91/* | head -10) )
for s in ${STRENGTHS:-1 1.25 1.5 1.75 2 2.5 3}; do
  target/release/aetool eval --task denoise --jpeg ${QUALITIES:-10,20,30,40,50,60,70,80} \
    --strength "$s" --per-image --json ${WEIGHTS:+--weights "$WEIGHTS"} "$OUT/sample" > "$OUT/s$s.json"
done
python3 scripts/calibrate_jpeg_boost.py "$OUT"/s*.json
