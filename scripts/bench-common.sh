# Shared by scripts/bench-memory.sh and scripts/bench-speed.sh (sourced, from the project root):
# the checks that make a benchmark skip cleanly, the binary to time, and each task's arguments.

# Exits 0 with a note when `$1` (an input the benchmark needs) or /usr/bin/time is missing.
bench_need() {
  if [ ! -e "$1" ]; then
    echo "skip: $1 not found (the photos live beside the project in ../shared/data, see README)"; exit 0
  fi
  if [ ! -x /usr/bin/time ]; then
    echo "skip: /usr/bin/time not found (Debian/Ubuntu: apt-get install time)"; exit 0
  fi
}

# Sets BIN: $AETOOL when given (e.g. an older build, to compare), else a fresh release build.
bench_binary() {
  if [ -n "${AETOOL:-}" ]; then
    BIN=$AETOOL
  else
    cargo build --release >&2
    BIN=${CARGO_TARGET_DIR:-target}/release/aetool
  fi
}

# Sets ARGS to the aetool arguments of a benchmark task (denoise, upscale-x2, upscale-x4, colorize).
# The benchmark photos are in colour: --recolor makes colorize work on them instead of skipping them.
bench_task_args() {
  case $1 in
    denoise) ARGS=(denoise) ;;
    upscale-x2) ARGS=(upscale -x2) ;;
    upscale-x4) ARGS=(upscale -x4) ;;
    colorize) ARGS=(colorize --recolor) ;;
    *) echo "unknown task $1 (denoise, upscale-x2, upscale-x4, colorize)" >&2; exit 2 ;;
  esac
}

# Peak resident set size (kB) and wall time (seconds) from a `/usr/bin/time -v` log.
bench_peak_kb() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
bench_wall_s() {
  awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$1"
}
