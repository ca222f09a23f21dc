#!/usr/bin/env python3
"""Summarises scripts/finetune-experiment-colorize.sh: reads DIR/fold<k>.json (fine-tuned, with the base as
`previous`) and DIR/bundled<k>.json (`aetool eval --per-image --json`), and prints the means over every
scored photo of each fold (PSNR, colourfulness relative to the originals', hue-balanced correctness) for the
grey copy, the sepia tint, the base, the fine-tuned models and the bundled colorizer, then the paired
differences fine-tuned - base with their standard errors and how many photos gained. Standard library only.

    python3 scripts/finetune_experiment_colorize.py runs/dogs-experiment/folds
"""
import json
import math
import sys
from pathlib import Path


def rows(path):
    """Per image: {name: figures} for the model, the grey copy, the sepia tint and `previous`."""
    out = {}
    for im in json.loads(Path(path).read_text())["images"]:
        s = im["scores"]
        model = {k: s.get(k) for k in ("psnr", "colourfulness_ratio", "colour_correctness")}
        out[Path(im["file"]).name] = {
            "model": model,
            "grey": s["grey"],
            "sepia": s["sepia"],
            "previous": s.get("previous"),
        }
    return out


def mean_se(values):
    """Mean and standard error of the mean of the values that are not None."""
    v = [x for x in values if x is not None]
    if not v:
        return float("nan"), float("nan"), 0
    m = sum(v) / len(v)
    var = sum((x - m) ** 2 for x in v) / max(len(v) - 1, 1)
    return m, math.sqrt(var / len(v)), len(v)


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/dogs-experiment/folds")
    tuned, bundled = {}, {}
    for k in range(4):
        tuned.update(rows(d / f"fold{k}.json"))
        bundled.update(rows(d / f"bundled{k}.json"))
    names = sorted(tuned)
    columns = [
        ("grey copy", lambda n: tuned[n]["grey"]),
        ("sepia tint", lambda n: tuned[n]["sepia"]),
        ("base (trained without dogs)", lambda n: tuned[n]["previous"]),
        ("fine-tuned on the other folds", lambda n: tuned[n]["model"]),
        ("bundled (saw every dog photo)", lambda n: bundled[n]["model"]),
    ]
    print(f"{len(names)} held-out photos, each scored by the fold model that never saw it")
    print(f"{'':32} {'PSNR dB':>8} {'colourf.':>9} {'correct.':>9}")
    for label, get in columns:
        p = mean_se(get(n)["psnr"] for n in names)[0]
        c = mean_se(get(n).get("colourfulness_ratio") for n in names)[0]
        q = mean_se(get(n).get("colour_correctness") for n in names)[0]
        print(f"{label:32} {p:8.2f} {100 * c:8.0f}% {q:9.3f}")
    print("fine-tuned - base, paired (mean ± standard error; photos that gained):")
    for key, label in (("psnr", "PSNR dB"), ("colour_correctness", "correctness")):
        diffs = []
        for n in names:
            a, b = tuned[n]["model"].get(key), tuned[n]["previous"].get(key)
            diffs.append(None if a is None or b is None else a - b)
        m, se, count = mean_se(diffs)
        gained = sum(1 for x in diffs if x is not None and x > 0)
        print(f"  {label:12} {m:+.3f} ± {se:.3f}  ({gained} of {count} gained)")


if __name__ == "__main__":
    main()
