#!/usr/bin/env python3
"""Grows a trained net's weights without changing what the net computes (a warm start for
`aetool finetune --from OUT`, as in Net2Net).

    python3 scripts/grow_weights.py level  IN.safetensors OUT.safetensors WIDTH [SEED]
    python3 scripts/grow_weights.py blocks IN.safetensors OUT.safetensors N [SEED]
    python3 scripts/grow_weights.py widen  IN.safetensors OUT.safetensors WIDTH [SEED]

`level` (a U-Net, e.g. weights/denoise.safetensors, widths [24, 48, 96]) adds a coarser level of
WIDTH channels ([24, 48, 96, WIDTH]): the old bottleneck blocks `mid.*` become the new level's encoder
blocks `down.{L}.blocks.*`; the new `down.{L}.resample` (unshuffle + 1x1 to WIDTH), bottleneck
`mid.*` and decoder `up.{L}.*` are added.
`blocks` appends residual blocks up to N: to an SR net's body (e.g. weights/upscale-x2.safetensors), or
to every level of a U-Net, encoder, bottleneck and decoder (`down.{l}.blocks.{i}`, `mid.{i}`,
`up.{l}.blocks.{i}`; e.g. weights/denoise.safetensors, whose noise-level estimator is left as it is),
or of a ColorNet (weights/colorize.safetensors: its decoder levels from `out_level` on; the global
branch is left as it is).
`widen` (a U-Net) gives its finest level WIDTH channels instead of widths[0]: `head` and every
`conv1` of that level's blocks get new output channels, which the old channels never read (every
weight from a new channel into an old one is zero: `conv2`, `down.0.resample`, `tail`), so the net
computes the same function and the new channels learn from the first step.

New tensors: `conv1` and `down.{L}.resample` get PyTorch's default uniform +-1/sqrt(fan_in) (aetool's own
initialisation); every new residual block's `conv2` and `up.{L}.resample` are zero, so the new blocks
are identities and the new parts add nothing until training moves them (their gradients are not zero).

Weights are `[k*k*c_in, c_out]` float32 (aetool's layout); the `config` metadata is updated and the
provenance says what was grown. Standard library only.
"""
import json
import os
import random
import struct
import sys
from array import array


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        values = array("f")
        values.frombytes(data[a:b])
        tensors[name] = (t["shape"], values)
    return meta, tensors


def write(path, meta, tensors):
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        blob = values.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("level", "blocks", "widen"):
        sys.exit(__doc__)
    mode, src, dst, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) == 6 else 0)
    meta, tensors = read(src)
    config = json.loads(meta["config"])
    arch = config["arch"]

    def uniform(shape):
        bound = 1.0 / shape[0] ** 0.5
        return (shape, array("f", (rng.uniform(-bound, bound) for _ in range(shape[0] * shape[1]))))

    def zeros(*shape):
        n = shape[0] * (shape[1] if len(shape) > 1 else 1)
        return (list(shape), array("f", bytes(4 * n)))

    def widen(t, rows, cols, random_new):
        """Widens a [r·c_in, q·c_out] weight (rows (tap, c_in), columns (sub-pixel, c_out); a bias is
        one row) to [r·c_in2, q·c_out2], rows = (r, c_in, c_in2), cols = (q, c_out, c_out2): the old
        weights kept, rows of new input channels zero, new output channels uniform or zero."""
        shape, v = t
        (r, c_in, c_in2), (q, c_out, c_out2) = rows, cols
        width, width2 = q * c_out, q * c_out2
        out = array("f", bytes(4 * r * c_in2 * width2))
        bound = 1.0 / (r * c_in2) ** 0.5
        for tap in range(r):
            for ci in range(c_in2):
                for s in range(q):
                    for co in range(c_out2):
                        at = (tap * c_in2 + ci) * width2 + s * c_out2 + co
                        if ci < c_in and co < c_out:
                            out[at] = v[(tap * c_in + ci) * width + s * c_out + co]
                        elif co >= c_out and random_new:
                            out[at] = rng.uniform(-bound, bound)
        return ([r * c_in2, width2] if len(shape) > 1 else [width2]), out

    def block(prefix, ch):
        tensors[f"{prefix}.conv1.weight"] = uniform([9 * ch, ch])
        tensors[f"{prefix}.conv1.bias"] = zeros(ch)
        tensors[f"{prefix}.conv2.weight"] = zeros(9 * ch, ch)
        tensors[f"{prefix}.conv2.bias"] = zeros(ch)

    if mode == "level":
        if arch.get("arch") != "unet":
            sys.exit(f"{src}: `level` grows a U-Net, this is {arch.get('arch')}")
        widths, blocks = arch["widths"], arch["blocks"]
        level, c = len(widths) - 1, widths[-1]
        for name in [n for n in tensors if n.startswith("mid.")]:
            tensors[f"down.{level}.blocks." + name[len("mid.") :]] = tensors.pop(name)
        tensors[f"down.{level}.resample.weight"] = uniform([4 * c, size])
        tensors[f"down.{level}.resample.bias"] = zeros(size)
        tensors[f"up.{level}.resample.weight"] = zeros(size, 4 * c)
        tensors[f"up.{level}.resample.bias"] = zeros(4 * c)
        for i in range(blocks):
            block(f"mid.{i}", size)
            block(f"up.{level}.blocks.{i}", c)
        arch["widths"] = widths + [size]
        grown = f"widths {widths} -> {arch['widths']}"
    elif mode == "widen":
        if arch.get("arch") != "unet":
            sys.exit(f"{src}: `widen` grows a U-Net, this is {arch.get('arch')}")
        old = arch["widths"][0]
        if size <= old:
            sys.exit(f"{src}: its finest level already has {old} channels")
        new, same = (old, size), lambda c: (c, c)
        fine = [n for n in tensors if n.startswith(("down.0.blocks.", "up.0.blocks."))]
        for name in fine + ["head.bias", "up.0.resample.bias"]:
            conv1 = ".conv1." in name
            if name.endswith(".bias"):
                q = 4 if name.startswith("up.0.resample") else 1
                tensors[name] = widen(tensors[name], (1, 1, 1), (q, *new), False)
            else:
                tensors[name] = widen(tensors[name], (9, *new), (1, *new), conv1)
        c_in, c_out = arch["in_channels"], arch["out_channels"]
        tensors["head.weight"] = widen(tensors["head.weight"], (9, *same(c_in)), (1, *new), True)
        tensors["tail.weight"] = widen(tensors["tail.weight"], (9, *new), (1, *same(c_out)), False)
        if len(arch["widths"]) > 1:
            w1 = arch["widths"][1]
            tensors["down.0.resample.weight"] = widen(tensors["down.0.resample.weight"], (4, *new),
                                                      (1, *same(w1)), False)
            tensors["up.0.resample.weight"] = widen(tensors["up.0.resample.weight"], (1, *same(w1)),
                                                    (4, *new), False)
        grown = f"finest level {old} -> {size} channels"
        arch["widths"] = [size] + arch["widths"][1:]
    else:
        if arch.get("arch") not in ("srnet", "unet", "colornet"):
            sys.exit(f"{src}: `blocks` grows an SR net, a U-Net or a ColorNet, this is {arch.get('arch')}")
        if size <= arch["blocks"]:
            sys.exit(f"{src}: already has {arch['blocks']} blocks")
        for i in range(arch["blocks"], size):
            if arch["arch"] == "srnet":
                block(f"body.{i}", arch["width"])
                continue
            widths = arch["widths"]
            for level, c in enumerate(widths[:-1]):
                block(f"down.{level}.blocks.{i}", c)
                # A ColorNet's decoder stops at its output level.
                if level >= arch.get("out_level", 0):
                    block(f"up.{level}.blocks.{i}", c)
            block(f"mid.{i}", widths[-1])
        grown = f"blocks {arch['blocks']} -> {size}"
        arch["blocks"] = size

    meta["config"] = json.dumps(config, separators=(",", ":"))
    provenance = json.loads(meta.get("provenance", "{}"))
    provenance["grown"] = f"{grown} by scripts/grow_weights.py, same function"
    meta["provenance"] = json.dumps(provenance, separators=(",", ":"))
    write(dst, meta, tensors)
    print(f"{dst}: {grown}, {sum(len(v) for _, v in tensors.values())} parameters")


if __name__ == "__main__":
    main()
