//! The F(4×4, 3×3) Winograd transforms (Lavin & Gray 2016; interpolation points 0, ±1, ±2, ∞):
//! a 4×4 output tile of a 3×3 convolution is `Y = Aᵀ [U ⊙ V] A`, with `U = G g Gᵀ` the
//! transformed kernel and `V = Bᵀ d B` the transformed 6×6 input tile:
//!
//! ```text
//!       ⎡4  0 -5  0  1  0⎤         ⎡ 1/4    0     0 ⎤        ⎡1  1  1  1  1  0⎤
//!       ⎢0 -4 -4  1  1  0⎥         ⎢-1/6 -1/6  -1/6⎥        ⎢0  1 -1  2 -2  0⎥
//! Bᵀ =  ⎢0  4 -4 -1  1  0⎥    G =  ⎢-1/6  1/6  -1/6⎥   Aᵀ = ⎢0  1  1  4  4  0⎥
//!       ⎢0 -2 -1  2  1  0⎥         ⎢1/24 1/12   1/6⎥        ⎣0  1 -1  8 -8  1⎦
//!       ⎢0  2 -1 -2  1  0⎥         ⎢1/24 -1/12  1/6⎥
//!       ⎣0  4  0 -5  0  1⎦         ⎣  0    0     1 ⎦
//! ```
//!
//! Data are channels-last, so every tile element is a vector over channels and each 1-D
//! transform is a few vector additions and scalings. The crate is built for baseline x86-64
//! (SSE2); the block transforms are compiled a second and third time for AVX2 and AVX-512 and
//! picked at run time (see [`dispatch!`]), like `gemm` picks its kernels.

/// Output tile side.
pub const M: usize = 4;
/// Input tile side, `M + 2`.
pub const A: usize = 6;
/// Points of a transformed tile (`A²`): one GEMM each.
pub const POINTS: usize = A * A;

use std::ops::{Add, Mul, Sub};

/// `G` of the kernel transform, exact (the kernel is transformed once, in f64).
const G: [[f64; 3]; A] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// Transformed kernels `u` `[36, c_in, c_out]` (point `ξ = a·6 + b` holds `(G g Gᵀ)[a][b]`, a
/// `[c_in, c_out]` matrix: the right operand of that point's GEMM) from the weights `w`
/// `[9·c_in, c_out]` of a 3×3 conv, rows ordered `(ky, kx, c_in)` (the layout of
/// [`crate::models::Conv`]). Computed in f64, rounded once.
pub fn kernel(w: &[f32], c_in: usize, c_out: usize) -> Vec<f32> {
    assert_eq!(w.len(), 9 * c_in * c_out, "3×3 kernel of {c_in}→{c_out}");
    let mut u = vec![0f32; POINTS * c_in * c_out];
    for ci in 0..c_in {
        for co in 0..c_out {
            let g = |ky: usize, kx: usize| f64::from(w[((ky * 3 + kx) * c_in + ci) * c_out + co]);
            // gg = G g (6×3), then (G g) Gᵀ.
            let gg: [[f64; 3]; A] = std::array::from_fn(|a| {
                std::array::from_fn(|kx| (0..3).map(|ky| G[a][ky] * g(ky, kx)).sum())
            });
            for a in 0..A {
                for b in 0..A {
                    let v: f64 = (0..3).map(|kx| gg[a][kx] * G[b][kx]).sum();
                    u[((a * A + b) * c_in + ci) * c_out + co] = v as f32;
                }
            }
        }
    }
    u
}

/// `L` channels of one tile element: element-wise arithmetic on `[f32; L]`, which the compiler
/// maps onto vector registers (16 lanes: one AVX-512 or two AVX2 registers).
#[derive(Clone, Copy)]
struct Lanes<const L: usize>([f32; L]);

impl<const L: usize> Add for Lanes<L> {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, o: Self) -> Self {
        for c in 0..L {
            self.0[c] += o.0[c];
        }
        self
    }
}

impl<const L: usize> Sub for Lanes<L> {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, o: Self) -> Self {
        for c in 0..L {
            self.0[c] -= o.0[c];
        }
        self
    }
}

impl<const L: usize> Mul<f32> for Lanes<L> {
    type Output = Self;
    #[inline(always)]
    fn mul(mut self, k: f32) -> Self {
        for c in 0..L {
            self.0[c] *= k;
        }
        self
    }
}

impl<const L: usize> Lanes<L> {
    #[inline(always)]
    fn relu(mut self) -> Self {
        for c in 0..L {
            self.0[c] = self.0[c].max(0.0);
        }
        self
    }
}

/// A 1-D transform of `I` vectors into `O`, written once for any lane count.
trait Rule<const I: usize, const O: usize> {
    fn apply<const L: usize>(&self, x: [Lanes<L>; I]) -> [Lanes<L>; O];
}

/// `Bᵀ d`.
struct InputRule;

impl Rule<A, A> for InputRule {
    #[inline(always)]
    fn apply<const L: usize>(&self, [d0, d1, d2, d3, d4, d5]: [Lanes<L>; A]) -> [Lanes<L>; A] {
        let (d42, d31) = (d4 - d2, d3 - d1);
        [
            d0 * 4.0 - d2 * 5.0 + d4,
            (d3 + d4) - (d1 + d2) * 4.0,
            (d4 - d3) + (d1 - d2) * 4.0,
            d42 + d31 * 2.0,
            d42 - d31 * 2.0,
            d1 * 4.0 - d3 * 5.0 + d5,
        ]
    }
}

/// `Aᵀ m`.
struct OutputRule;

impl Rule<A, M> for OutputRule {
    #[inline(always)]
    fn apply<const L: usize>(&self, [m0, m1, m2, m3, m4, m5]: [Lanes<L>; A]) -> [Lanes<L>; M] {
        let (s12, d12, s34, d34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
        [
            m0 + s12 + s34,
            d12 + d34 * 2.0,
            s12 + s34 * 4.0,
            d12 + d34 * 8.0 + m5,
        ]
    }
}

/// `Aᵀ m + bias` (the bias is the seventh input), ReLU'd when `relu`: the last stage.
struct FinalRule {
    relu: bool,
}

impl Rule<7, M> for FinalRule {
    #[inline(always)]
    fn apply<const L: usize>(&self, [m0, m1, m2, m3, m4, m5, b]: [Lanes<L>; 7]) -> [Lanes<L>; M] {
        let mut out = OutputRule.apply([m0, m1, m2, m3, m4, m5]);
        for v in &mut out {
            *v = *v + b;
            if self.relu {
                *v = v.relu();
            }
        }
        out
    }
}

/// `out[offs[k]..][..n] = rule(ins)[k]` element-wise over the `n` elements of the inputs: 16
/// lanes at a time, then 8, then 1. (Fixed-size arrays and plain loops throughout, which the
/// compiler inlines into the vectorised callers; `array::map` and `from_fn` here stayed
/// out-of-line calls compiled for the baseline.)
#[inline(always)]
fn map<const I: usize, const O: usize>(
    rule: &impl Rule<I, O>,
    ins: [&[f32]; I],
    out: &mut [f32],
    offs: [usize; O],
) {
    let n = ins[0].len();
    let mut at = 0;
    while at + 16 <= n {
        lanes::<16, I, O>(rule, &ins, out, &offs, at);
        at += 16;
    }
    if at + 8 <= n {
        lanes::<8, I, O>(rule, &ins, out, &offs, at);
        at += 8;
    }
    while at < n {
        lanes::<1, I, O>(rule, &ins, out, &offs, at);
        at += 1;
    }
}

/// One step of [`map`]: elements `at..at + L`. (Element loops, not `copy_from_slice`: with
/// the latter the transforms took ~40% longer, as out-of-line `memmove` calls.)
#[allow(clippy::manual_memcpy)]
#[inline(always)]
fn lanes<const L: usize, const I: usize, const O: usize>(
    rule: &impl Rule<I, O>,
    ins: &[&[f32]; I],
    out: &mut [f32],
    offs: &[usize; O],
    at: usize,
) {
    let mut x = [Lanes([0f32; L]); I];
    for (x, s) in x.iter_mut().zip(ins) {
        x.0.copy_from_slice(&s[at..at + L]);
    }
    for (y, &off) in rule.apply(x).iter().zip(offs) {
        out[off + at..off + at + L].copy_from_slice(&y.0);
    }
}

/// `K` offsets `stride` apart from `start`.
#[inline(always)]
fn offsets<const K: usize>(start: usize, stride: usize) -> [usize; K] {
    let mut o = [start; K];
    for (k, o) in o.iter_mut().enumerate() {
        *o += k * stride;
    }
    o
}

/// `K` slices of `len` floats of `buf`, starting at `start`, `stride` apart.
#[inline(always)]
fn strided<const K: usize>(buf: &[f32], start: usize, stride: usize, len: usize) -> [&[f32]; K] {
    let mut s: [&[f32]; K] = [&[]; K];
    for (k, s) in s.iter_mut().enumerate() {
        *s = &buf[start + k * stride..][..len];
    }
    s
}

/// Compiles `$body` (an `#[inline(always)]` fn) three times — baseline, AVX2 + FMA, AVX-512F —
/// as `$name`, which picks the best this CPU runs (the features are detected once and cached
/// by the standard library).
macro_rules! dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn v4($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { v4($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { v3($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

/// A block of tiles: tiles are numbered row-major over the `tiles_x` tile columns of an
/// `h × w` image with `c` input channels; the block is tiles `first..first + count` (it may span
/// several tile rows). Transformed tiles are stored `[36, stride, channels]` (`stride >= count`).
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub tiles_x: usize,
    pub first: usize,
    pub count: usize,
    pub stride: usize,
}

impl Block {
    /// Top-left output pixel `(y, x)` of the block's `t`-th tile.
    fn origin(&self, t: usize) -> (usize, usize) {
        let l = self.first + t;
        (l / self.tiles_x * M, l % self.tiles_x * M)
    }

    /// The block's runs of tiles within one tile row: `(first tile, tiles)`.
    fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut t = 0;
        std::iter::from_fn(move || {
            (t < self.count).then(|| {
                let len = (self.tiles_x - (self.first + t) % self.tiles_x).min(self.count - t);
                t += len;
                (t - len, len)
            })
        })
    }

    /// Floats of the row-transform scratch [`input_block`] needs.
    pub fn rows_len(&self) -> usize {
        A * (M * self.stride + 2) * self.c
    }
}

dispatch! {
    /// `V = Bᵀ d B` of a block's tiles: `x` is one image `[h, w, c]`, `zeros` at least
    /// `(4·stride + 2)·c` zeros, `rows` [`Block::rows_len`] floats of scratch; point `ξ` of tile
    /// `t` goes to `v[(ξ·stride + t)·c..][..c]`.
    pub fn input_block(x: &[f32], blk: Block, zeros: &[f32], rows: &mut [f32], v: &mut [f32]) => input_block_body
}

/// See [`input_block`]. Per run of tiles in one tile row: first `Bᵀ d` down the columns of the
/// six input rows the run covers (long element-wise passes over whole rows, each input column
/// once), then, per tile, `(Bᵀ d) B` along its six columns.
#[inline(always)]
fn input_block_body(x: &[f32], blk: Block, zeros: &[f32], rows: &mut [f32], v: &mut [f32]) {
    let (h, w, c, vs) = (blk.h, blk.w, blk.c, blk.stride * blk.c);
    for (t, len) in blk.segments() {
        let (y0, x0) = blk.origin(t);
        // Input columns x0 - 1 .. x0 + 4·len + 1 (`cols` of them); those in the image are
        // `lo..hi`, from column `skip` of the run on.
        let cols = M * len + 2;
        let (lo, hi) = (x0.saturating_sub(1), (x0 + M * len + 1).min(w));
        let skip = lo + 1 - x0;
        let n = (hi - lo) * c;
        let rows = &mut rows[..A * cols * c];
        for r in rows.chunks_exact_mut(cols * c) {
            r[..skip * c].fill(0.0);
            r[skip * c + n..].fill(0.0);
        }
        let mut ins: [&[f32]; A] = [&zeros[..n]; A];
        for (i, s) in ins.iter_mut().enumerate() {
            let y = (y0 + i).wrapping_sub(1);
            if y < h {
                *s = &x[(y * w + lo) * c..][..n];
            }
        }
        map(&InputRule, ins, rows, offsets(skip * c, cols * c));
        for k in 0..len {
            for a in 0..A {
                let ins = strided(rows, (a * cols + M * k) * c, c, c);
                map(
                    &InputRule,
                    ins,
                    v,
                    offsets((a * A * blk.stride + t + k) * c, vs),
                );
            }
        }
    }
}

dispatch! {
    /// `Y = Aᵀ m A + bias` of a block's tiles, ReLU'd when `relu`, from the GEMM products `m`
    /// `[36, stride, co]` (`co = bias.len()`), written into `y`: the output rows from the block's
    /// first tile row on, `[rows, w, co]` (tile pixels below `h` or right of `w` are dropped).
    /// `cols` holds `24·stride·co` floats, `tmp` `4·co`.
    pub fn output_block(m: &[f32], blk: Block, bias: &[f32], relu: bool, cols: &mut [f32], tmp: &mut [f32], y: &mut [f32]) => output_block_body
}

/// See [`output_block`]: first `Aᵀ m` for the whole block (long element-wise passes over the
/// GEMM products), then, per tile and output row, `(Aᵀ m) A + bias` straight into the output.
#[inline(always)]
fn output_block_body(
    m: &[f32],
    blk: Block,
    bias: &[f32],
    relu: bool,
    cols: &mut [f32],
    tmp: &mut [f32],
    y: &mut [f32],
) {
    let (co, n) = (bias.len(), blk.count);
    let s = blk.stride * co;
    // cols[(i·6 + b)·s + t·co..]: row i of Aᵀ m at column b of tile t.
    for b in 0..A {
        let ins = strided(m, b * s, A * s, n * co);
        map(&OutputRule, ins, cols, offsets(b * s, A * s));
    }
    let row0 = blk.origin(0).0;
    for t in 0..n {
        let (y0, x0) = blk.origin(t);
        let nx = M.min(blk.w - x0);
        for i in 0..M.min(blk.h - y0) {
            let [c0, c1, c2, c3, c4, c5] = strided(cols, i * A * s + t * co, s, co);
            let ins = [c0, c1, c2, c3, c4, c5, bias];
            let at = ((y0 + i - row0) * blk.w + x0) * co;
            let rule = FinalRule { relu };
            if nx == M {
                map(&rule, ins, y, offsets(at, co));
            } else {
                map(&rule, ins, tmp, offsets(0, co));
                y[at..at + nx * co].copy_from_slice(&tmp[..nx * co]);
            }
        }
    }
}
