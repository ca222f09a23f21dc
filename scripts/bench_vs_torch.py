#!/usr/bin/env python3
"""aetool against PyTorch on the four shipped models, side by side: forward and training-step ratios.

    python3 scripts/bench_vs_torch.py [--rounds 5] [--reps 7] [--threads 2]

One command (issue 12, item 4): builds `aetool-bench` (`cargo build --release --example aetool-bench`, or takes
`$AETOOL_BENCH`), sets up `runs/torch-venv/` (ignored by git; `pip install torch numpy` from PyPI, once) and
re-runs itself in it, then runs ROUNDS rounds of `aetool-bench --only models --impls winograd --reps REPS` and
`scripts/bench_torch.py --only models --reps REPS`, one after the other in each round, so that a drifting VM
moves both sides alike. Each side prints per model the median of its REPS warm runs; this script prints the
median over the rounds of each figure, and the ratio PyTorch time / aetool time (above 1: aetool is faster),
with the worst and best pairing of rounds in brackets. Figures are only comparable when nothing else runs on the
machine: the load average is printed before and after.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from own_venv import run_in_venv

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "runs" / "torch-venv"
REQUIREMENTS = ["torch", "numpy"]
MODELS = ["denoise", "upscale-x2", "upscale-x4", "colorize"]


def parse(text):
    """{(model, "forward" | "training"): ms} from either benchmark's `--only models` output."""
    out, model, kind = {}, None, None
    for line in text.splitlines():
        m = re.match(r"model (\S+):", line)
        if m:
            model = m.group(1)
        elif line.strip().startswith("forward"):
            kind = "forward"
        elif line.strip().startswith("training step"):
            kind = "training"
        else:
            t = re.search(r"\s([\d.]+) ms", line)
            if t and model and kind:
                out[(model, kind)] = float(t.group(1))
                kind = None
    return out


def load():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(cmd, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}{proc.stderr}")
    return parse(proc.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=7, help="warm runs per figure and side in each round")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    run_in_venv(VENV, REQUIREMENTS, __file__)
    bench = os.environ.get("AETOOL_BENCH")
    if not bench:
        subprocess.run(["cargo", "build", "--release", "--example", "aetool-bench"], cwd=ROOT, check=True)
        bench = ROOT / "target" / "release" / "examples" / "aetool-bench"
    aetool_cmd = [bench, "--only", "models", "--impls", "winograd", "--reps", str(a.reps)]
    torch_cmd = [sys.executable, ROOT / "scripts" / "bench_torch.py", "--only", "models",
                 "--reps", str(a.reps), "--threads", str(a.threads)]
    print(f"bench_vs_torch: {a.rounds} rounds x {a.reps} reps, {a.threads} threads, load average {load()}",
          flush=True)
    rounds = []
    for r in range(a.rounds):
        rounds.append((run(aetool_cmd, a.threads), run(torch_cmd, a.threads)))
        print(f"  round {r + 1} done, load average {load()}", flush=True)
    print("\n| model | what | aetool ms | PyTorch ms | PyTorch / aetool (worst-best) |")
    print("| --- | --- | ---: | ---: | --- |")
    for model in MODELS:
        for kind in ["forward", "training"]:
            ours = [o[(model, kind)] for o, _ in rounds]
            theirs = [t[(model, kind)] for _, t in rounds]
            med_o, med_t = statistics.median(ours), statistics.median(theirs)
            print(f"| {model} | {kind} | {med_o:.1f} | {med_t:.1f} | **{med_t / med_o:.2f}×** "
                  f"({min(theirs) / max(ours):.2f}–{max(theirs) / min(ours):.2f}) |")
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
