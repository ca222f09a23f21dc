#!/usr/bin/env python3
"""Rewrites the `data` and `base` fields of a weights file's provenance (what `aetool info` prints),
leaving every tensor byte as it is.

    python3 scripts/relabel_provenance.py FILE.safetensors DATA BASE

aetool 0.1 wrote the training folder's path (`../shared/data/train`) and the base's path
(`runs/denoise-c3.safetensors`) into its weights; since then `aetool finetune` writes the data set by
name and the base by file name. scripts/train-bundled.sh runs this on the 0.1 models it bundles as
variants, so their provenance names data sets, not paths on the training machine. The file is
replaced atomically (written beside it, then renamed). Standard library only.
"""
import json
import os
import struct
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, data, base = sys.argv[1:]
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header.get("__metadata__") or {}
    if "provenance" not in meta:
        sys.exit(f"{path}: no provenance metadata; is this a file aetool wrote?")
    provenance = json.loads(meta["provenance"])
    provenance["data"] = data
    provenance["base"] = base
    meta["provenance"] = json.dumps(provenance, sort_keys=True, separators=(",", ":"))
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the tensor data 8-byte aligned
    tmp = path + ".relabel.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob[8 + n :])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(f"{path}: data = {data!r}, base = {base!r}")


if __name__ == "__main__":
    main()
