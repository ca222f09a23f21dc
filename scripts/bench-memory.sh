#!/usr/bin/env bash
# Peak memory of each restore task on a 24-megapixel photo (issue 13 item 8: at most 1 GB).
#
#   scripts/bench-memory.sh                       # builds target/release/aetool first
#   AETOOL=target/debug/aetool scripts/bench-memory.sh
#   TASKS="upscale-x4" FORMATS="jpg png tif" scripts/bench-memory.sh
#   PHOTO=big.jpg TASKS="denoise upscale-x4" scripts/bench-memory.sh   # another photo
#   FORMATS=bmp TASKS=upscale-x4 scripts/bench-memory.sh                # BMP output (1.1 GB)
#   # A 150 MP 16-bit RGB PNG (aetool keeps 16-bit but cannot make it from 8-bit):
#   python3 scripts/make-photo16.py runs/bench-memory/photo16-150mp.png 15000 10000
#   PHOTO=runs/bench-memory/photo16-150mp.png TASKS=colorize FORMATS=png scripts/bench-memory.sh
#
# The photo, made once by aetool itself under runs/bench-memory/: the 500×750 train photo
# ../shared/data/train/imagenet-sample/n03877472_pajama.JPEG upscaled ×2, then ×4, to a
# 4000×6000 (24.0 MP) JPEG at quality 95, as a camera writes one. Skips cleanly without
# ../shared/data. Each task then runs alone as
#   /usr/bin/time -v $AETOOL <task> -j 1 --quiet PHOTO -o OUT.<format>
# (one compute thread; FORMATS, default `jpg`, are the output formats) and one line is printed
# per run: the peak resident set size (`Maximum resident set size`, which counts every page the
# process held, heap, binary and weights), wall time, the output's size and the load average
# before the run (on a shared machine the wall times say little; the peaks do not depend on it).
# AETOOL=<binary> uses that binary instead of building one (e.g. an older one, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
DATA=${DATA:-../shared/data}
SOURCE=$DATA/train/imagenet-sample/n03877472_pajama.JPEG
bench_need "$SOURCE"
bench_binary
TASKS=${TASKS:-denoise upscale-x2 upscale-x4 colorize}
FORMATS=${FORMATS:-jpg}

WORK=runs/bench-memory
mkdir -p "$WORK"
if [ -n "${PHOTO:-}" ]; then
  [ -f "$PHOTO" ] || { echo "PHOTO=$PHOTO: no such file" >&2; exit 2; }
else
  PHOTO=$WORK/photo-24mp.jpg
  if [ ! -f "$PHOTO" ]; then
    echo "making $PHOTO (4000×6000) from $SOURCE …" >&2
    "$BIN" upscale -x2 --quiet "$SOURCE" -o "$WORK/step.png" --overwrite
    "$BIN" upscale -x4 --quiet "$WORK/step.png" -o "$PHOTO" --overwrite
    rm -f "$WORK/step.png"
  fi
fi

echo "binary: $BIN ($(stat -c %y "$BIN" | cut -d. -f1)); photo: $PHOTO; $(nproc) cores"
printf '%-12s %-6s %10s %9s %10s  %s\n' task output "peak RSS" wall "out size" "load average before"
for task in $TASKS; do
  bench_task_args "$task"
  for fmt in $FORMATS; do
    out=$WORK/out-$task.$fmt
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    log=$WORK/time-$task-$fmt.txt
    /usr/bin/time -v "$BIN" "${ARGS[@]}" -j 1 --quiet --overwrite "$PHOTO" -o "$out" 2> "$log"
    rss_kb=$(bench_peak_kb "$log")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    size=$(du -h "$out" | cut -f1)
    rm -f "$out"
    printf '%-12s %-6s %7d MB %9s %10s  %s\n' "$task" "$fmt" $((rss_kb * 1024 / 1000000)) "$wall" "$size" "$load"
  done
done
