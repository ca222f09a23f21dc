#!/usr/bin/env python3
"""Is a colorizer better than another, or only less colourful? Scales the chroma of both colorizers'
outputs (CIELAB a, b times each factor, L kept, clipped to sRGB) and prints RGB PSNR and the hue-balanced
colour correctness of issue 11 (CIELAB chroma > 15 split into six 60-degree hue sectors; a pixel is right
with at least half the original's chroma and a hue within 30 degrees; sectors holding >= 0.5 % of the pixels
averaged) at every factor, so that one model's figures can be read against the other's trade-off curve.
A model that only mutes colour sits on the other's curve; one that knows colours better lies above it.

    aetool eval --task colorize HELD/ --weights TUNED --compare BASE --save SAVED/
    python3 scripts/colour_frontier.py SAVED/ HELD/ 0.6,0.8,1.0,1.2,1.4

SAVED/ holds `eval --save`'s `<setting>/<name>.output.png` (the weights) and `.previous.png` (the
`--compare` weights); HELD/ the originals (any extension, same names). Images without coloured pixels are
left out of the correctness mean, as `aetool eval` does. The figures match `aetool eval`'s to about 0.003
in correctness (8-bit round trip of the saved outputs). Needs numpy and Pillow.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
WHITE = np.array([0.95047, 1.0, 1.08883])
EPS = 6 / 29


def to_lab(rgb8):
    c = rgb8 / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = c @ RGB_TO_XYZ.T / WHITE
    f = np.where(xyz > EPS**3, np.cbrt(xyz), xyz / (3 * EPS**2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def to_rgb8(lab):
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = np.where(f > EPS, f**3, 3 * EPS**2 * (f - 4 / 29)) * WHITE
    c = np.clip(xyz @ np.linalg.inv(RGB_TO_XYZ).T, 0, 1)
    c = np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
    return np.round(np.clip(c, 0, 1) * 255)


def correctness(orig_lab, pred_lab):
    chroma = np.hypot(orig_lab[..., 1], orig_lab[..., 2])
    hue = np.degrees(np.arctan2(orig_lab[..., 2], orig_lab[..., 1])) % 360
    p_chroma = np.hypot(pred_lab[..., 1], pred_lab[..., 2])
    p_hue = np.degrees(np.arctan2(pred_lab[..., 2], pred_lab[..., 1])) % 360
    right = (p_chroma >= 0.5 * chroma) & (np.abs((p_hue - hue + 180) % 360 - 180) <= 30)
    sectors = []
    for k in range(6):
        sel = (chroma > 15) & (hue >= 60 * k) & (hue < 60 * (k + 1))
        if sel.sum() >= 0.005 * chroma.size:
            sectors.append(right[sel].mean())
    return np.mean(sectors) if sectors else None


def load(path):
    return np.array(Image.open(path).convert("RGB")).astype(np.float64)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    saved, held = Path(sys.argv[1]), Path(sys.argv[2])
    factors = [float(f) for f in sys.argv[3].split(",")]
    outputs = sorted(saved.glob("*/*.output.png"))
    if not outputs:
        sys.exit(f"{saved}: no */*.output.png (run `aetool eval --task colorize ... --save {saved}`)")
    scores = {(m, f): ([], []) for m in ("output", "previous") for f in factors}
    for out in outputs:
        stem = out.name[: -len(".output.png")]
        original = next(held.glob(stem + ".*"), None)
        if original is None:
            sys.exit(f"{held}: no original for {stem}")
        orig = load(original)
        orig_lab = to_lab(orig)
        for model in ("output", "previous"):
            pred = out.with_name(f"{stem}.{model}.png")
            if not pred.exists():
                sys.exit(f"{pred} is missing: run eval with --compare")
            lab = to_lab(load(pred))
            for f in factors:
                scaled = lab.copy()
                scaled[..., 1:] *= f
                rgb = to_rgb8(scaled)
                psnr, corr = scores[(model, f)]
                psnr.append(10 * np.log10(255**2 / max(np.mean((rgb - orig) ** 2), 1e-10)))
                c = correctness(orig_lab, to_lab(rgb))
                if c is not None:
                    corr.append(c)
    print(f"{len(outputs)} images; chroma x factor: RGB PSNR dB / hue-balanced correctness")
    for model, label in (("output", "weights"), ("previous", "--compare")):
        row = "  ".join(f"x{f:.2f} {np.mean(scores[(model, f)][0]):.2f} / {np.mean(scores[(model, f)][1]):.3f}" for f in factors)
        print(f"{label:10s} {row}")


if __name__ == "__main__":
    main()
