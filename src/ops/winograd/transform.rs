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
//! Data are channels-last, so every tile element is a vector over channels: per tile and run of
//! 16 (then 8, then 1) channels, a whole 2-D transform is a few dozen vector additions and
//! scalings on values the compiler keeps in registers. The crate is built for baseline x86-64
//! (SSE2); the block transforms are compiled a second and third time for AVX2 and AVX-512 and
//! picked at run time (see [`dispatch!`]), like `gemm` picks its kernels.

/// Output tile side.
pub const M: usize = 4;
/// Input tile side, `M + 2`.
pub const A: usize = 6;
/// Points of a transformed tile (`A²`): one GEMM each.
pub const POINTS: usize = A * A;

use std::mem::MaybeUninit;
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
/// [`crate::models::Conv`]). Computed in f64, rounded once; input channels in parallel.
///
/// The training path transforms its kernels on every call, so this runs along `c_out` (the
/// weights' contiguous axis, which the compiler vectorises): element by element it took as long
/// as the convolution itself on the colorizer's 8×8 levels.
pub fn kernel(w: &[f32], c_in: usize, c_out: usize) -> Vec<f32> {
    use rayon::prelude::*;
    assert_eq!(w.len(), 9 * c_in * c_out, "3×3 kernel of {c_in}→{c_out}");
    let per_input: Vec<Vec<f32>> = (0..c_in)
        .into_par_iter()
        .map(|ci| {
            let mut rows = vec![0f32; POINTS * c_out];
            kernel_rows(w, ci, c_in, &mut vec![0f64; A * 3 * c_out], &mut rows);
            rows
        })
        .collect();
    let mut u = vec![0f32; POINTS * c_in * c_out];
    for (ci, rows) in per_input.iter().enumerate() {
        for (p, row) in rows.chunks_exact(c_out).enumerate() {
            u[(p * c_in + ci) * c_out..][..c_out].copy_from_slice(row);
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

/// `Bᵀ d` of one column (or row) of 6.
#[inline(always)]
fn input_1d<const L: usize>([d0, d1, d2, d3, d4, d5]: [Lanes<L>; A]) -> [Lanes<L>; A] {
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

/// `Aᵀ m` of one column (or row) of 6.
#[inline(always)]
fn output_1d<const L: usize>([m0, m1, m2, m3, m4, m5]: [Lanes<L>; A]) -> [Lanes<L>; M] {
    let (s12, d12, s34, d34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [
        m0 + s12 + s34,
        d12 + d34 * 2.0,
        s12 + s34 * 4.0,
        d12 + d34 * 8.0 + m5,
    ]
}

/// Row `i` of a tile held as columns: `[cols[0][i], …, cols[5][i]]`.
#[inline(always)]
fn transpose_row<const L: usize, const K: usize>(
    cols: &[[Lanes<L>; K]; A],
    i: usize,
) -> [Lanes<L>; A] {
    let mut row = [Lanes([0f32; L]); A];
    for (r, col) in row.iter_mut().zip(cols) {
        *r = col[i];
    }
    row
}

/// Lanes `at..at + L` of `s`. (Element loops, not `copy_from_slice`, in these two: that stayed an
/// out-of-line `memmove` call and made the transforms ~40% slower.)
#[allow(clippy::manual_memcpy)]
#[inline(always)]
fn load<const L: usize>(s: &[f32], at: usize) -> Lanes<L> {
    let s = &s[at..at + L];
    let mut v = [0f32; L];
    for c in 0..L {
        v[c] = s[c];
    }
    Lanes(v)
}

/// Writes `v` to lanes `at..at + L` of `d`.
#[allow(clippy::manual_memcpy)]
#[inline(always)]
fn store<const L: usize>(d: &mut [f32], at: usize, v: Lanes<L>) {
    let d = &mut d[at..at + L];
    for c in 0..L {
        d[c] = v.0[c];
    }
}

/// Writes `v` to lanes `at..at + L` of the not yet initialised output `d`.
#[inline(always)]
fn store_out<const L: usize>(d: &mut [MaybeUninit<f32>], at: usize, v: Lanes<L>) {
    for (d, v) in d[at..at + L].iter_mut().zip(v.0) {
        d.write(v);
    }
}

/// Runs `$step::<L>(at, ...)` over channels `0..$n`: 16 lanes at a time, then 8, then 1.
macro_rules! by_lanes {
    ($n:expr, $step:ident($($arg:expr),*)) => {{
        let n = $n;
        let mut at = 0;
        while at + 16 <= n {
            $step::<16>(at, $($arg),*);
            at += 16;
        }
        if at + 8 <= n {
            $step::<8>(at, $($arg),*);
            at += 8;
        }
        while at < n {
            $step::<1>(at, $($arg),*);
            at += 1;
        }
    }};
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

dispatch! {
    /// The 36 transformed rows `out` `[36, c_out]` of input channel `ci` (see [`kernel`]);
    /// `gg` is scratch of `6·3·c_out`.
    fn kernel_rows(w: &[f32], ci: usize, c_in: usize, gg: &mut [f64], out: &mut [f32]) => kernel_rows_body
}

/// See [`kernel_rows`]: `G g` then `(G g) Gᵀ`, zero coefficients skipped, along `c_out`.
#[inline(always)]
fn kernel_rows_body(w: &[f32], ci: usize, c_in: usize, gg: &mut [f64], out: &mut [f32]) {
    let c_out = out.len() / POINTS;
    let g = |ky: usize, kx: usize| &w[((ky * 3 + kx) * c_in + ci) * c_out..][..c_out];
    gg.fill(0.0);
    for (a, gg) in gg.chunks_exact_mut(3 * c_out).enumerate() {
        for (kx, dst) in gg.chunks_exact_mut(c_out).enumerate() {
            for (ky, &coef) in G[a].iter().enumerate().filter(|(_, &c)| c != 0.0) {
                dst.iter_mut()
                    .zip(g(ky, kx))
                    .for_each(|(d, &v)| *d += coef * f64::from(v));
            }
        }
    }
    let mut acc = vec![0f64; c_out];
    for (p, row) in out.chunks_exact_mut(c_out).enumerate() {
        let (a, b) = (p / A, p % A);
        acc.fill(0.0);
        for (kx, &coef) in G[b].iter().enumerate().filter(|(_, &c)| c != 0.0) {
            acc.iter_mut()
                .zip(&gg[(a * 3 + kx) * c_out..][..c_out])
                .for_each(|(d, &v)| *d += v * coef);
        }
        row.iter_mut().zip(&acc).for_each(|(o, &v)| *o = v as f32);
    }
}

/// A block of tiles of a batch of `h × w` images: tiles are numbered row-major over the
/// `tiles_x` tile columns and the `tiles_y` tile rows of each image, image after image; the block
/// is tiles `first..first + count` (it may span several tile rows, and several small images).
/// Transformed tiles are stored `[36, stride, channels]` (`stride >= count`).
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub h: usize,
    pub w: usize,
    pub tiles_x: usize,
    pub tiles_y: usize,
    pub first: usize,
    pub count: usize,
    pub stride: usize,
}

impl Block {
    /// Image and top-left output pixel `(image, y, x)` of the block's `t`-th tile.
    fn origin(&self, t: usize) -> (usize, usize, usize) {
        let l = self.first + t;
        let row = l / self.tiles_x;
        (
            row / self.tiles_y,
            row % self.tiles_y * M,
            l % self.tiles_x * M,
        )
    }

    /// Index in the batch of output pixel `(image, y, x)` (`[n, h, w]`, row-major).
    fn pixel(&self, (image, y, x): (usize, usize, usize)) -> usize {
        (image * self.h + y) * self.w + x
    }
}

dispatch! {
    /// `V = Bᵀ d B` of a block's tiles: `x` is the batch `[n, h, w, c]` (`c = zeros.len()`, all
    /// zero: the padding); point `ξ` of tile `t` goes to `v[(ξ·stride + t)·c..][..c]`.
    pub fn input_block(x: &[f32], blk: Block, zeros: &[f32], v: &mut [f32]) => input_block_body
}

/// See [`input_block`]: per tile, its 36 input pixels, then per run of lanes the whole 2-D
/// transform in registers (columns, then rows).
#[inline(always)]
fn input_block_body(x: &[f32], blk: Block, zeros: &[f32], v: &mut [f32]) {
    let c = zeros.len();
    for t in 0..blk.count {
        let (image, y0, x0) = blk.origin(t);
        // Pixel (y0 - 1 + i, x0 - 1 + j) of the 6×6 input tile, zeros outside the image.
        let mut d: [&[f32]; POINTS] = [zeros; POINTS];
        for (p, d) in d.iter_mut().enumerate() {
            let (yy, xx) = ((y0 + p / A).wrapping_sub(1), (x0 + p % A).wrapping_sub(1));
            if yy < blk.h && xx < blk.w {
                *d = &x[blk.pixel((image, yy, xx)) * c..][..c];
            }
        }
        by_lanes!(c, input_tile(&d, v, t * c, blk.stride * c));
    }
}

/// Lanes `at..at + L` of one tile's `V = Bᵀ d B` (pixels `d`, row-major 6×6): point `ξ` goes
/// to `v[base + ξ·step + at..]`.
#[inline(always)]
fn input_tile<const L: usize>(
    at: usize,
    d: &[&[f32]; POINTS],
    v: &mut [f32],
    base: usize,
    step: usize,
) {
    // cols[j] = column j of Bᵀ d.
    let mut cols = [[Lanes([0f32; L]); A]; A];
    for (j, col) in cols.iter_mut().enumerate() {
        let mut x = [Lanes([0f32; L]); A];
        for (i, x) in x.iter_mut().enumerate() {
            *x = load(d[i * A + j], at);
        }
        *col = input_1d(x);
    }
    for a in 0..A {
        let row = transpose_row(&cols, a);
        for (b, r) in input_1d(row).into_iter().enumerate() {
            store(v, base + (a * A + b) * step + at, r);
        }
    }
}

dispatch! {
    /// `Y = Aᵀ m A + bias` of a block's tiles, ReLU'd when `relu`, from the GEMM products `m`
    /// `[36, stride, co]` (`co = bias.len()`), plus `residual` where given (laid out as `y`),
    /// written into `y`: the batch's output `[n, h, w, co]` from the first pixel of the block's
    /// first tile row on (tile pixels below `h` or right of `w` are dropped). Every channel of every pixel of the
    /// block's tiles that lies in the image is written, so `y` may start uninitialised.
    pub fn output_block(m: &[f32], blk: Block, bias: &[f32], relu: bool, residual: Option<&[f32]>, y: &mut [MaybeUninit<f32>]) => output_block_body
}

/// See [`output_block`]: per tile and run of lanes, the whole 2-D transform in registers
/// (columns, then rows), written straight into the output.
#[inline(always)]
fn output_block_body(
    m: &[f32],
    blk: Block,
    bias: &[f32],
    relu: bool,
    residual: Option<&[f32]>,
    y: &mut [MaybeUninit<f32>],
) {
    let co = bias.len();
    let (image0, row0, _) = blk.origin(0);
    let start = blk.pixel((image0, row0, 0));
    for t in 0..blk.count {
        let (image, y0, x0) = blk.origin(t);
        let tile = OutTile {
            at: (blk.pixel((image, y0, x0)) - start) * co,
            row: blk.w * co,
            rows: M.min(blk.h - y0),
            cols: M.min(blk.w - x0),
            relu,
            residual,
        };
        by_lanes!(co, output_tile(m, t * co, blk.stride * co, bias, &tile, y));
    }
}

/// Where one output tile goes: its first pixel `at` in the output, the output's row length (in
/// floats), how many of its rows and columns lie in the image, the ReLU, and the residual to add
/// (laid out as the output).
struct OutTile<'a> {
    at: usize,
    row: usize,
    rows: usize,
    cols: usize,
    relu: bool,
    residual: Option<&'a [f32]>,
}

/// Lanes `at..at + L` of one tile's `Y = Aᵀ m A + bias` (point `ξ` of `m` at `base + ξ·step`),
/// plus the residual's values at the same places when given.
#[inline(always)]
fn output_tile<const L: usize>(
    at: usize,
    m: &[f32],
    base: usize,
    step: usize,
    bias: &[f32],
    tile: &OutTile,
    y: &mut [MaybeUninit<f32>],
) {
    // cols[b] = column b of Aᵀ m.
    let mut cols = [[Lanes([0f32; L]); M]; A];
    for (b, col) in cols.iter_mut().enumerate() {
        let mut x = [Lanes([0f32; L]); A];
        for (a, x) in x.iter_mut().enumerate() {
            *x = load(m, base + (a * A + b) * step + at);
        }
        *col = output_1d(x);
    }
    let co = bias.len();
    let bias = load::<L>(bias, at);
    for i in 0..tile.rows {
        let row = transpose_row(&cols, i);
        for (j, r) in output_1d(row).into_iter().enumerate().take(tile.cols) {
            let r = r + bias;
            let r = if tile.relu { r.relu() } else { r };
            let to = tile.at + i * tile.row + j * co + at;
            let r = match tile.residual {
                Some(res) => load(res, to) + r,
                None => r,
            };
            store_out(y, to, r);
        }
    }
}
