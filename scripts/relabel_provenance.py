#!/usr/bin/env python3
"""Rewrites the `data` and `base` fields of a weights file's provenance (what `aetool info` prints),
leaving every tensor's values as they are.

    python3 scripts/relabel_provenance.py FILE.safetensors DATA BASE

aetool 0.1 wrote the training folder's path (`../shared/data/train`) and the base's path
(`runs/denoise-c3.safetensors`) into its weights; since then `aetool finetune` writes the data set by
name and the base by file name. scripts/train-bundled.sh runs this on the 0.1 models it bundles as
variants, so their provenance names data sets, not paths on the training machine. Reads and writes
the file with grow_weights.py's `read` / `write` (the file is replaced atomically). Standard library only.
"""
import json
import sys

from grow_weights import read, write


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, data, base = sys.argv[1:]
    meta, tensors = read(path)
    if "provenance" not in meta:
        sys.exit(f"{path}: no provenance metadata; is this a file aetool wrote?")
    provenance = json.loads(meta["provenance"])
    provenance["data"] = data
    provenance["base"] = base
    meta["provenance"] = json.dumps(provenance, sort_keys=True, separators=(",", ":"))
    write(path, meta, tensors)
    print(f"{path}: data = {data!r}, base = {base!r}")


if __name__ == "__main__":
    main()
