#!/usr/bin/env python3
"""PyTorch (CPU) twin of `aetool-bench`: the same op shapes and the same four shipped
architectures (denoise U-Net, upscale x2 / x4 SR nets, colorize classifier ColorNet), the same figures.

    pip install torch            # CPU is enough; the PyPI wheel also works without a GPU
    python3 scripts/bench_torch.py [--reps 5] [--threads 2] [--only ops|models] [--channels-last]

Figures: forward MP/s on one image with a 512x512 *output* (upscale: 256x256 / 128x128 input),
training step (forward + MSE + backward + AdamW) at batch 16 of 64x64 (upscale: 48x48
low-resolution input), GFLOP/s (training counted as 3x the forward FLOPs, as aetool-bench does),
peak memory: growth of the resident set above its size just before a cold run (freed heap trimmed
first; Linux: /proc/self/clear_refs + VmHWM) and that run's time, as in aetool-bench. Times are medians of
--reps warm runs (no trim between them).

The architectures mirror src/models/{trunk,unet,srnet,colornet}.rs: channels-last pixel (un)shuffle order differs
from PyTorch's, which changes no cost. FLOPs are counted from the convolutions, like aetool's
`macs_per_pixel`.
"""

import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def status_mib(field):
    """A /proc/self/status field in MiB (VmHWM: peak RSS since the last reset; VmRSS: now)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def trim_heap():
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def conv(c_in, c_out, k, zero=False):
    m = nn.Conv2d(c_in, c_out, k, padding=k // 2)
    if zero:
        nn.init.zeros_(m.weight)
        nn.init.zeros_(m.bias)
    return m


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = conv(c, c, 3)
        self.conv2 = conv(c, c, 3)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class Trunk(nn.Module):
    """src/models/trunk.rs: encoder, bottleneck, decoder down to level `out_level`."""

    def __init__(self, widths, blocks, out_level=0):
        super().__init__()
        w, levels = widths, len(widths) - 1
        self.out_level = out_level
        self.down_blocks = nn.ModuleList(
            nn.Sequential(*[ResBlock(w[l]) for _ in range(blocks)]) for l in range(levels)
        )
        self.down_resample = nn.ModuleList(conv(4 * w[l], w[l + 1], 1) for l in range(levels))
        self.mid = nn.Sequential(*[ResBlock(w[levels]) for _ in range(blocks)])
        ups = range(out_level, levels)
        self.up_resample = nn.ModuleList(conv(w[l + 1], 4 * w[l], 1) for l in ups)
        self.up_blocks = nn.ModuleList(
            nn.Sequential(*[ResBlock(w[l]) for _ in range(blocks)]) for l in ups
        )

    def encode(self, h):
        skips = []
        for blocks, resample in zip(self.down_blocks, self.down_resample):
            h = blocks(h)
            skips.append(h)
            h = resample(F.pixel_unshuffle(h, 2))
        return self.mid(h), skips

    def decode(self, h, skips):
        for i in reversed(range(len(self.up_blocks))):
            h = F.pixel_shuffle(self.up_resample[i](h), 2) + skips[self.out_level + i]
            h = self.up_blocks[i](h)
        return h


class UNet(nn.Module):
    """src/models/unet.rs (denoise)."""

    def __init__(self, in_channels, out_channels, widths, blocks, residual):
        super().__init__()
        self.residual, self.out_channels = residual, out_channels
        self.head = conv(in_channels, widths[0], 3)
        self.trunk = Trunk(widths, blocks)
        self.tail = conv(widths[0], out_channels, 3, zero=residual)

    def forward(self, x):
        out = self.tail(self.trunk.decode(*self.trunk.encode(self.head(x))))
        if self.residual:
            out = out + x[:, : self.out_channels]
        return out


class ColorNet(nn.Module):
    """src/models/colornet.rs (colorize): L in, ab-class logits out at 1/2^out_level, with the
    global scene vector added to the bottleneck."""

    def __init__(self, widths, blocks, bins, out_level):
        super().__init__()
        deep = widths[-1]
        self.head = conv(1, widths[0], 3)
        self.trunk = Trunk(widths, blocks, out_level)
        self.global0, self.global1 = conv(deep, deep, 1), conv(deep, deep, 1, zero=True)
        self.tail = conv(widths[out_level], bins, 1)

    def forward(self, x):
        h, skips = self.trunk.encode(self.head(x))
        g = self.global1(F.relu(self.global0(h.mean(dim=(2, 3), keepdim=True))))
        return self.tail(self.trunk.decode(h + g, skips))


class SrNet(nn.Module):
    def __init__(self, scale, width, blocks):
        super().__init__()
        c, s2 = width, scale * scale
        self.scale = scale
        self.head = conv(3, c, 3)
        self.body = nn.Sequential(*[ResBlock(c) for _ in range(blocks)])
        self.body_tail = conv(c, c, 3)
        self.tail = conv(c, 3 * s2, 3, zero=True)
        # Fixed bicubic path: a 5x5 conv to 3*s^2 phases (values irrelevant for speed).
        self.register_buffer("bicubic_w", torch.randn(3 * s2, 3, 5, 5) * 0.05)

    def forward(self, x):
        head = self.head(x)
        h = self.body_tail(self.body(head)) + head
        residual = F.pixel_shuffle(self.tail(h), self.scale)
        bicubic = F.pixel_shuffle(F.conv2d(x, self.bicubic_w, padding=2), self.scale)
        return residual + bicubic


# ModelKind::default_spec in src/models/kind.rs (262 = the ab classes of src/maths/colour_bins.rs)
MODELS = {
    "denoise": (lambda: UNet(4, 3, [24, 48, 96, 192], 1, True), 4, 1),
    "upscale-x2": (lambda: SrNet(2, 32, 4), 3, 2),
    "upscale-x4": (lambda: SrNet(4, 48, 4), 3, 4),
    "colorize": (lambda: ColorNet([16, 32, 64, 128, 192], 1, 262, 2), 1, 1),
}


def macs_per_output_pixel(model, c_in, side, scale):
    """Multiply-adds of all convolutions (bicubic included) per output pixel, by hooks."""
    total = [0]

    def hook(mod, inp, out):
        k = mod.weight.shape
        total[0] += out.numel() // out.shape[0] * k[1] * k[2] * k[3]

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.rand(1, c_in, side, side))
    for h in hs:
        h.remove()
    if isinstance(model, SrNet):  # the functional bicubic conv
        total[0] += side * side * 3 * scale * scale * 3 * 25
    return total[0] / float((side * scale) ** 2)


def measure(fn, reps):
    """A warm-up, one cold run after a heap trim (its peak memory growth and time), then `reps`
    warm timed runs without trimming (the steady state of a folder's photos), as aetool-bench."""
    fn()  # warm-up
    trim_heap()
    reset_peak_rss()
    before = status_mib("VmRSS:")
    t = time.perf_counter()
    fn()
    cold = time.perf_counter() - t
    rss = status_mib("VmHWM:") - before
    times, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpus), rss, cold


def fmt(t, cpu, rss, cold, work):
    return (
        f"  {'pytorch':<24} {t * 1e3:>9.2f} ms  {work}  cpu {cpu * 1e3:>8.1f} ms  "
        f"peak mem +{rss:>4.0f} MiB  cold {cold * 1e3:>8.2f} ms"
    )


def bench_ops(reps, mf):
    shapes = [
        ("3x3 conv 64->64 on 16x32x32, forward", 16, 32, 64, 64, False),
        ("3x3 conv 32->32 on 16x64x64, forward+backward", 16, 64, 32, 32, True),
        ("3x3 conv 32->32 on 16x64x64, forward", 16, 64, 32, 32, False),
    ]
    for label, n, hw, c, co, bwd in shapes:
        m = conv(c, co, 3).to(memory_format=mf)
        x = torch.randn(n, c, hw, hw).to(memory_format=mf).requires_grad_(bwd)
        probe = torch.randn(n, co, hw, hw).to(memory_format=mf)

        def run():
            if bwd:
                m.zero_grad(set_to_none=True)
                x.grad = None
                (m(x) * probe).sum().backward()
            else:
                with torch.no_grad():
                    m(x)

        t, cpu, rss, cold = measure(run, reps)
        flop = 2.0 * n * hw * hw * 9 * c * co * (3 if bwd else 1)
        print(label)
        print(fmt(t, cpu, rss, cold, f"{flop / t / 1e9:>6.1f} GFLOP/s"))


def bench_model(name, reps, mf):
    make, c_in, s = MODELS[name]
    model = make().to(memory_format=mf)
    params = sum(p.numel() for p in model.parameters())
    side = 512 // s
    macs = macs_per_output_pixel(model, c_in, side, s)
    print(f"model {name}: {params} params, {macs / 1e3:.1f} kMAC per output pixel")

    x = torch.rand(1, c_in, side, side).to(memory_format=mf)
    out_px = 512.0 * 512.0

    def fwd():
        with torch.inference_mode():
            model(x)

    t, cpu, rss, cold = measure(fwd, reps)
    print(f"  forward, one {side}x{side} input -> 512x512 output")
    print(fmt(t, cpu, rss, cold, f"{out_px / t / 1e6:>6.3f} MP/s {2 * macs * out_px / t / 1e9:>6.1f} GFLOP/s"))

    bn, lr = 16, (64 if s == 1 else 48)
    xb = torch.rand(bn, c_in, lr, lr).to(memory_format=mf)
    with torch.no_grad():  # shaped like the net's output (the colour logits are coarser and wider)
        target = torch.rand_like(model(xb))
    opt = torch.optim.AdamW(model.parameters())

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(xb), target)
        loss.backward()
        opt.step()

    t, cpu, rss, cold = measure(step, reps)
    train_px = bn * (lr * s) ** 2
    print(f"  training step, {bn}x{lr}x{lr} input (fwd+bwd+AdamW)")
    print(fmt(t, cpu, rss, cold, f"{3 * 2 * macs * train_px / t / 1e9:>6.1f} GFLOP/s (3x fwd FLOPs)"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["ops", "models"])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    mf = torch.channels_last if a.channels_last else torch.contiguous_format
    print(
        f"bench_torch: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'channels_last' if a.channels_last else 'NCHW'}, {a.reps} reps (median), "
        f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    if a.only in (None, "ops"):
        bench_ops(a.reps, mf)
    if a.only in (None, "models"):
        for name in a.models.split(","):
            bench_model(name, a.reps, mf)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
