#!/usr/bin/env python3
"""Reads `aetool eval --per-image --json` runs of one JPEG protocol at several --strength values
(files named s<strength>.json, from scripts/calibrate-jpeg-boost.sh) and prints, per quality, the
mean PSNR gain over the JPEG at each strength, the best strength, and the gain if every image
had its own best strength (an oracle, for scale). Standard library only."""
import json
import sys
from pathlib import Path


def main(paths):
    gains = {}  # setting -> strength -> file -> gain (dB)
    for path in paths:
        strength = float(Path(path).stem[1:])
        for row in json.load(open(path))["images"]:
            s = row["scores"]
            gains.setdefault(row["setting"], {}).setdefault(strength, {})[Path(row["file"]).name] = (
                s["psnr"] - s["baseline_psnr"]
            )
    for setting in sorted(gains, key=lambda k: int(k.split("q")[-1])):
        by_s = gains[setting]
        strengths = sorted(by_s)
        files = set.intersection(*(set(v) for v in by_s.values()))
        mean = {s: sum(by_s[s][f] for f in files) / len(files) for s in strengths}
        best = max(strengths, key=lambda s: mean[s])
        oracle = sum(max(by_s[s][f] for s in strengths) for f in files) / len(files)
        cells = "  ".join(f"×{s:g} {mean[s]:+.3f}" for s in strengths)
        print(f"{setting} ({len(files)} images): {cells}  | best ×{best:g}, per-image oracle {oracle:+.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: calibrate_jpeg_boost.py s1.json s1.5.json …")
    main(sys.argv[1:])
