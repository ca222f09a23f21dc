#!/usr/bin/env python3
"""Gives a denoiser another file's noise-level estimator (the `estimator.*` tensors), every other
tensor and the metadata kept from the first file.

    python3 scripts/splice_estimator.py NET.safetensors EST.safetensors OUT.safetensors

`aetool finetune --task denoise` trains the estimator beside the denoiser, towards each crop's RMS
difference; the JPEG model's estimator was instead trained through the frozen denoiser
(`--estimator-only`) and `src/pipeline/jpeg_boost.rs` is calibrated for it. After fine-tuning that
model's denoiser, scripts/train-bundled.sh puts the calibrated estimator back with this script. The
provenance gains `estimator_from` (EST's file name). Both files must carry the same estimator shape.
Standard library only (grow_weights.py's `read` / `write`; OUT is written atomically).
"""
import json
import os
import sys

from grow_weights import read, write


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    net_path, est_path, out = sys.argv[1:]
    meta, tensors = read(net_path)
    est_meta, est_tensors = read(est_path)
    spec = lambda m: json.loads(m["config"]).get("estimator")
    if spec(meta) is None or spec(meta) != spec(est_meta):
        sys.exit(f"{net_path} and {est_path} need the same estimator: {spec(meta)} against {spec(est_meta)}")
    names = sorted(n for n in est_tensors if n.startswith("estimator."))
    if names != sorted(n for n in tensors if n.startswith("estimator.")):
        sys.exit(f"{net_path} and {est_path} hold different estimator tensors")
    for name in names:
        if tensors[name][0] != est_tensors[name][0]:
            sys.exit(f"{name}: shape {tensors[name][0]} in {net_path}, {est_tensors[name][0]} in {est_path}")
        tensors[name] = est_tensors[name]
    provenance = json.loads(meta.get("provenance", "{}"))
    provenance["estimator_from"] = os.path.basename(est_path)
    meta["provenance"] = json.dumps(provenance, sort_keys=True, separators=(",", ":"))
    write(out, meta, tensors)
    print(f"{out}: {len(names)} estimator tensors from {est_path}")


if __name__ == "__main__":
    main()
