#!/usr/bin/env bash
# End-to-end speed of the bundled defaults on a folder of real photos, as a user runs them: the whole
# process (start-up, weights, decode, model, encode, write), all cores unless JOBS says otherwise.
#
#   scripts/bench-speed.sh                        # builds target/release/aetool first
#   AETOOL=runs/aetool-old scripts/bench-speed.sh # another binary, to compare
#   RUNS=3 TASKS="denoise colorize" scripts/bench-speed.sh
#   DIR=my-photos scripts/bench-speed.sh          # another folder of PNGs
#
# The folder (default ../shared/data/eval/live1: 29 PNG photos, 0.36 MP each, 10.36 MP in all) is
# read as it is; each task runs RUNS times (default 2) as
#   /usr/bin/time -v $AETOOL <task> --quiet [-j JOBS] DIR -o OUT
# and one line is printed per run: wall time, input megapixels per second, peak resident set size
# and the load average before the run. PNG inputs go to the default denoiser's camera-noise model;
# JPEGs below quality 70 go to its JPEG model, the same network (same speed). Colorize runs with
# --recolor (the photos are in colour). Skips cleanly without the folder. Benchmarks need a quiet
# machine: stop training first, and read the load average column.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
DIR=${DIR:-../shared/data/eval/live1}
bench_need "$DIR"
bench_binary
TASKS=${TASKS:-denoise upscale-x2 upscale-x4 colorize}
RUNS=${RUNS:-2}
jobs=()
[ -n "${JOBS:-}" ] && jobs=(-j "$JOBS")

# Megapixels of the folder's PNGs, from their IHDR chunks (standard library only).
MP=$(python3 - "$DIR" <<'EOF'
import pathlib, struct, sys
px = 0
for p in pathlib.Path(sys.argv[1]).glob("*.png"):
    with open(p, "rb") as f:
        head = f.read(24)
    w, h = struct.unpack(">II", head[16:24])
    px += w * h
print(f"{px / 1e6:.2f}")
EOF
)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "binary: $BIN ($(stat -c %y "$BIN" | cut -d. -f1)); folder: $DIR ($MP MP of PNG); $(nproc) cores"
printf '%-12s %8s %8s %10s  %s\n' task wall "MP/s" "peak RSS" "load average before"
for task in $TASKS; do
  bench_task_args "$task"
  for _ in $(seq "$RUNS"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    log=$WORK/time.txt
    /usr/bin/time -v "$BIN" "${ARGS[@]}" --quiet "${jobs[@]}" "$DIR" -o "$WORK/out" 2> "$log"
    rss_kb=$(bench_peak_kb "$log")
    secs=$(bench_wall_s "$log")
    rm -rf "$WORK/out"
    printf '%-12s %7.1fs %8.2f %7d MB  %s\n' "$task" "$secs" "$(awk -v m="$MP" -v s="$secs" 'BEGIN {print m / s}')" \
      $((rss_kb * 1024 / 1000000)) "$load"
  done
done
