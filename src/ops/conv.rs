//! Fused channels-last convolution for the CPU: `relu?(conv(x, w) + b)` as one candle
//! [`CustomOp3`] with its own backward.
//!
//! Layout: `x` is `[N, H, W, C]`, `w` is `[k·k·C, C_out]` (rows ordered `(ky, kx, c)`, the layout
//! of [`crate::models::Conv`]'s weights), `b` is `[C_out]`; stride 1, "same" zero padding, odd `k`.
//!
//! Forward is an implicit GEMM with no im2col matrix at all: the input is copied once into a
//! zero-padded `[N, H+2p, W+2p, C]` buffer; output pixels are numbered on the padded width, so
//! for each kernel row `ky` the `k·C` inputs of consecutive output pixels are overlapping,
//! equally spaced runs of that buffer, which `gemm` (AVX2/FMA or AVX-512 picked at run time)
//! reads directly as a strided matrix. Each block of a few image rows is `k` single-threaded GEMMs
//! into a thread-local block, and the epilogue writes the real pixels with bias and ReLU while the
//! block is in cache. Blocks are spread over rayon's pool. (A 1×1 conv needs no padding: the input
//! rows are the matrix.)
//!
//! Backward, with `dz = dy ⊙ [y > 0]` (or `dy` without ReLU), built directly in padded form:
//! - `db = Σ_rows dz` (summed while padding),
//! - `dw = colsᵀ · dz`: per block and kernel row one GEMM on the same strided views (the junk
//!   pixels of the padded numbering meet `dz`'s zero border, so they add nothing), summed into one
//!   partial per rayon job,
//! - `dx = conv(dz, w')` with the spatially flipped, transposed kernel
//!   `w'[(ky, kx, o), c] = w[(k-1-ky, k-1-kx, c), o]`: the adjoint of a stride-1 same-padded
//!   conv is that conv, so it reuses the forward kernel on padded `dz` (no col2im scatter).
//!
//! 3×3 convs over 8 or more input channels run the forward and the `dx` conv through
//! [`Winograd`] instead (the kernel transformed on each call; see [`winograd_pays`]); `dw` stays
//! the implicit GEMM. The `bench` feature's [`super::ConvImpl::Fused`] keeps the direct path for
//! every conv, for comparison.

use super::{f32_slice, sgemm, Winograd};
use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;
use std::borrow::Cow;
use std::cell::RefCell;

/// `relu?(conv_k(x, w) + b)` for channels-last `x` (see the module docs). CPU, f32 only.
pub fn conv2d_nhwc(x: &Tensor, w: &Tensor, b: &Tensor, k: usize, relu: bool) -> Result<Tensor> {
    if k.is_multiple_of(2) {
        bail!("conv2d_nhwc: kernel size {k} must be odd");
    }
    let x = x.contiguous()?;
    let w = w.contiguous()?;
    let b = b.contiguous()?;
    x.apply_op3(&w, &b, FusedConv { k, relu })
}

/// Virtual pixels per image below which [`weight_grad`] gathers several images into one block.
const MIN_DW_ROWS: usize = 256;

/// Shape of one convolution: input `[n, h, w, c]`, `k×k` kernel, `co` output channels.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    pub(super) n: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c: usize,
    pub(super) k: usize,
    pub(super) co: usize,
}

impl Geom {
    /// Zero padding on each side.
    fn pad(&self) -> usize {
        self.k / 2
    }

    /// Padded image height and width.
    fn hp(&self) -> usize {
        self.h + 2 * self.pad()
    }

    fn wp(&self) -> usize {
        self.w + 2 * self.pad()
    }

    /// Image rows per GEMM block: a few hundred output pixels (the block's output and the rows
    /// it reads stay in cache), and enough blocks for every core on small problems.
    fn rows_per_block(&self) -> usize {
        let by_cache = (384 / self.wp()).max(1);
        let by_threads = (self.n * self.h)
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        by_cache.min(by_threads).min(self.h.max(1))
    }

    /// The blocks `(image, first row, end row)` that cover the output.
    fn blocks(&self) -> Vec<(usize, usize, usize)> {
        let t = self.rows_per_block();
        (0..self.n)
            .flat_map(|b| {
                (0..self.h)
                    .step_by(t)
                    .map(move |y0| (b, y0, (y0 + t).min(self.h)))
            })
            .collect()
    }

    /// Images per block of [`weight_grad_gathered`] when images are small (fewer than
    /// [`MIN_DW_ROWS`] virtual pixels each), `None` otherwise: about [`MIN_DW_ROWS`] pixels a
    /// block while every core has one.
    fn small_image_group(&self) -> Option<usize> {
        if self.virtual_rows(0, self.h) >= MIN_DW_ROWS || self.n == 1 {
            return None;
        }
        let by_threads = self.n.div_ceil(rayon::current_num_threads());
        Some(MIN_DW_ROWS.div_ceil(self.h * self.w).clamp(1, by_threads))
    }

    /// Virtual output pixels of a block of image rows `y0..y1` (see [`forward_padded`]).
    fn virtual_rows(&self, y0: usize, y1: usize) -> usize {
        (y1 - y0 - 1) * self.wp() + self.w
    }

    /// Padded-pixel index of tap `(0, 0)` of output pixel `(b, y0, 0)`.
    fn origin(&self, b: usize, y0: usize) -> usize {
        (b * self.hp() + y0) * self.wp()
    }
}

struct FusedConv {
    k: usize,
    relu: bool,
}

thread_local! {
    /// Per-worker GEMM output block.
    static BLOCK: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the contiguous f32 data of a CPU tensor.
pub(super) fn with_f32<R>(t: &Tensor, op: &str, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("{op}: CPU tensors only")
    };
    f(f32_slice(cpu, layout, op)?)
}

/// Per-channel sums of `[pixels, c]` data, pixels in parallel.
fn channel_sums(x: &[f32], c: usize) -> Vec<f32> {
    x.par_chunks(c * 1024)
        .fold(
            || vec![0f32; c],
            |mut acc, chunk| {
                chunk
                    .chunks_exact(c)
                    .for_each(|px| accumulate(&mut acc, px));
                acc
            },
        )
        .reduce(|| vec![0f32; c], sum_into)
}

/// Zero-padded copy `[n, h + 2p, w + 2p, c]` of `[n, h, w, c]` data (`p = k/2`), optionally
/// masked by `[y > 0]` (ReLU backward); also returns the per-channel sums of the copied values
/// when `sums`. With `p == 0` and no mask the input is borrowed as it is.
pub(super) fn pad<'a>(
    x: &'a [f32],
    g: &Geom,
    mask: Option<&[f32]>,
    sums: bool,
) -> (Cow<'a, [f32]>, Vec<f32>) {
    let (h, w, c, p) = (g.h, g.w, g.c, g.pad());
    let (hp, wp) = (g.hp(), g.wp());
    if p == 0 && mask.is_none() {
        let sums = if sums { channel_sums(x, c) } else { vec![] };
        return (Cow::Borrowed(x), sums);
    }
    let mut out = vec![0f32; g.n * hp * wp * c];
    let row_sums = |orow: &mut [f32], src: &[f32], m: Option<&[f32]>, acc: &mut [f32]| {
        let dst = &mut orow[p * c..(p + w) * c];
        match m {
            Some(m) => {
                for ((o, &s), &v) in dst.iter_mut().zip(src).zip(m) {
                    *o = if v > 0.0 { s } else { 0.0 };
                }
            }
            None => dst.copy_from_slice(src),
        }
        if sums {
            dst.chunks_exact(c).for_each(|px| accumulate(acc, px));
        }
    };
    let total = out
        .par_chunks_mut(wp * c)
        .enumerate()
        .fold(
            || vec![0f32; if sums { c } else { 0 }],
            |mut acc, (r, orow)| {
                let (b, yp) = (r / hp, r % hp);
                if let Some(y) = (yp).checked_sub(p).filter(|&y| y < h) {
                    let at = ((b * h + y) * w) * c;
                    let src = &x[at..at + w * c];
                    row_sums(orow, src, mask.map(|m| &m[at..at + w * c]), &mut acc);
                }
                acc
            },
        )
        .reduce(|| vec![0f32; if sums { c } else { 0 }], sum_into);
    (Cow::Owned(out), total)
}

/// `relu?(conv(x, w) + bias)` as `[n·h·w, co]` row-major, from the zero-padded input `xp`
/// (`[n, h + 2p, w + 2p, c]`, see [`pad`]).
///
/// Implicit GEMM without a gather: number the output pixels of a block of image rows on the
/// *padded* width (`q = y·wp + x`, "virtual" pixels; those with `x >= w` are junk and dropped).
/// Then for kernel row `ky` the `k·c` inputs of virtual pixel `q` are `k·c` consecutive floats
/// of `xp` starting at pixel `origin + ky·wp + q`: the im2col matrix of that kernel row is a
/// strided view of `xp` with row stride `c`, and the conv is `k` GEMMs (one per kernel row)
/// accumulating into the block, with `gemm` reading the view directly.
fn forward_padded(xp: &[f32], g: Geom, w: &[f32], bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    let (c, k, co, wd) = (g.c, g.k, g.co, g.w);
    let (wp, kc) = (g.wp(), g.k * g.c);
    let mut y = vec![0f32; g.n * g.h * wd * co];
    if y.is_empty() {
        return y;
    }
    let t = g.rows_per_block();
    y.par_chunks_mut(g.h * wd * co)
        .enumerate()
        .for_each(|(b, img)| {
            img.par_chunks_mut(t * wd * co)
                .enumerate()
                .for_each(|(bi, out)| {
                    let y0 = bi * t;
                    let y1 = y0 + out.len() / (wd * co);
                    let rows = g.virtual_rows(y0, y1);
                    let origin = g.origin(b, y0);
                    BLOCK.with(|cell| {
                        let mut blk = cell.borrow_mut();
                        if blk.len() < rows * co {
                            blk.resize(rows * co, 0.0);
                        }
                        let blk = &mut blk[..rows * co];
                        for ky in 0..k {
                            let lhs = &xp[(origin + ky * wp) * c..];
                            let rhs = &w[ky * kc * co..(ky + 1) * kc * co];
                            sgemm(rows, co, kc, blk, ky > 0, lhs, (c, 1), rhs);
                        }
                        // Epilogue: keep the real pixels, add the bias, ReLU.
                        for (yy, orow) in out.chunks_exact_mut(wd * co).enumerate() {
                            let src = &blk[yy * wp * co..][..wd * co];
                            match (bias, relu) {
                                (Some(bs), true) => {
                                    for (o, s) in
                                        orow.chunks_exact_mut(co).zip(src.chunks_exact(co))
                                    {
                                        for ((o, &s), &bv) in o.iter_mut().zip(s).zip(bs) {
                                            *o = (s + bv).max(0.0);
                                        }
                                    }
                                }
                                (Some(bs), false) => {
                                    for (o, s) in
                                        orow.chunks_exact_mut(co).zip(src.chunks_exact(co))
                                    {
                                        for ((o, &s), &bv) in o.iter_mut().zip(s).zip(bs) {
                                            *o = s + bv;
                                        }
                                    }
                                }
                                (None, true) => {
                                    for (o, &s) in orow.iter_mut().zip(src) {
                                        *o = s.max(0.0);
                                    }
                                }
                                (None, false) => orow.copy_from_slice(src),
                            }
                        }
                    });
                });
        });
    y
}

/// `relu?(conv(x, w) + bias)` for unpadded `[n, h, w, c]` input.
pub(super) fn forward(x: &[f32], g: Geom, w: &[f32], bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    if winograd_pays(&g) {
        return winograd(x, &g, w, bias, relu, None);
    }
    let (xp, _) = pad(x, &g, None, false);
    forward_padded(&xp, g, w, bias, relu)
}

/// `residual + conv(x, w) + bias` (no ReLU) for unpadded `[n, h, w, c]` input; Winograd adds
/// the residual in its output transform.
pub(super) fn forward_add(
    x: &[f32],
    g: Geom,
    w: &[f32],
    bias: Option<&[f32]>,
    residual: &[f32],
) -> Vec<f32> {
    if winograd_pays(&g) {
        return winograd(x, &g, w, bias, false, Some(residual));
    }
    let mut y = forward(x, g, w, bias, false);
    add_into(&mut y, residual);
    y
}

/// `y += r`, elementwise, over rayon's pool.
fn add_into(y: &mut [f32], r: &[f32]) {
    y.par_chunks_mut(1 << 14)
        .zip(r.par_chunks(1 << 14))
        .for_each(|(y, r)| y.iter_mut().zip(r).for_each(|(y, r)| *y += r));
}

/// [`forward`] of a 3×3 conv through [`Winograd`], its kernel transformed for this call (no
/// bias: zeros), plus `residual` when given.
fn winograd(
    x: &[f32],
    g: &Geom,
    w: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let bias = bias.map_or_else(|| vec![0.0; g.co], <[f32]>::to_vec);
    Winograd::from_slices(w, bias).run(x, (g.n, g.h, g.w), relu, residual)
}

/// Fewest 4×4 output tiles (over the batch) for which [`conv2d_nhwc`] runs a 3×3 conv through
/// [`Winograd`]. Below it each core's share of tiles is too small to pay for reading the
/// transformed kernel (4× the weights' size) and transforming it on every call. Measured on
/// whole training steps (`aetool-bench`, 2 threads): since the kernel transform runs along the
/// output channels and a Winograd block spans several small images, 64 beats the earlier 2,048
/// on the colorizer's (−12 to −17 %) and the denoiser's (−8 to −22 %) 16 × 64² steps, whose
/// 32², 16² and 8² levels then run through Winograd; the 4×4 level (16 tiles, 192 channels)
/// stays faster on the direct path (docs/performance.md).
const WINOGRAD_MIN_TILES: usize = 64;

/// Whether conv `g` runs through [`Winograd`]: 3×3, enough input channels
/// ([`Winograd::pays_off`]) and at least [`WINOGRAD_MIN_TILES`] tiles. Its error against the
/// direct path is a few 1e-6 of the output's (tests below), far under a training step's noise.
fn winograd_pays(g: &Geom) -> bool {
    g.k == 3
        && Winograd::pays_off(g.c)
        && Winograd::tiles(g.n, g.h, g.w) >= WINOGRAD_MIN_TILES
        && !direct_forced()
}

/// The benchmark's and tests' [`super::ConvImpl::Fused`]: the direct path for every conv.
#[cfg(any(test, feature = "bench"))]
fn direct_forced() -> bool {
    super::conv_impl() == super::ConvImpl::Fused
}

#[cfg(not(any(test, feature = "bench")))]
fn direct_forced() -> bool {
    false
}

/// The interior `[n, h, w, c]` of a zero-padded `[n, h + 2p, w + 2p, c]` buffer.
fn unpad(xp: &[f32], g: &Geom) -> Vec<f32> {
    let (p, c, wp) = (g.pad(), g.c, g.wp());
    let mut out = Vec::with_capacity(g.n * g.h * g.w * c);
    for b in 0..g.n {
        for y in 0..g.h {
            let row = ((b * g.hp() + y + p) * wp + p) * c;
            out.extend_from_slice(&xp[row..row + g.w * c]);
        }
    }
    out
}

/// `dw = colsᵀ · dz` (`[k·k·c, co]`) from the padded input `xp` and the padded output gradient
/// `dzp` (`[n, h + 2p, w + 2p, co]`, zero borders): on the virtual pixels of [`forward_padded`]
/// the junk pixels line up with `dzp`'s zero border columns, so they add nothing. Small images
/// go through [`weight_grad_gathered`] instead.
pub(super) fn weight_grad(xp: &[f32], g: Geom, dzp: &[f32]) -> Vec<f32> {
    if let Some(group) = g.small_image_group() {
        return weight_grad_gathered(xp, g, dzp, group);
    }
    let (c, k, co, p) = (g.c, g.k, g.co, g.pad());
    let (wp, kc) = (g.wp(), g.k * g.c);
    let len = k * kc * co;
    g.blocks()
        .into_par_iter()
        .fold(
            || vec![0f32; len],
            |mut acc, (b, y0, y1)| {
                let rows = g.virtual_rows(y0, y1);
                let origin = g.origin(b, y0);
                // Virtual pixel q of this block is padded pixel origin + (p, p) + q of dzp.
                let dz = &dzp[(origin + p * wp + p) * co..][..rows * co];
                for ky in 0..k {
                    // lhs = (view of kernel row ky)ᵀ: element (i, q) = xp[(origin + ky·wp + q)·c + i].
                    let lhs = &xp[(origin + ky * wp) * c..];
                    let dst = &mut acc[ky * kc * co..(ky + 1) * kc * co];
                    sgemm(kc, co, rows, dst, true, lhs, (1, c), dz);
                }
                acc
            },
        )
        .reduce(|| vec![0f32; len], sum_into)
}

/// [`weight_grad`] for a batch of small images (the colorizer's and the denoiser's 8×8 and 4×4
/// levels), `group` images per block: per kernel row, the block's real pixels are gathered into
/// a compact `[pixels, k·c]` matrix (and `dz` into `[pixels, co]`), so the GEMM is as deep as a
/// large image's without the junk of padded rows and columns (a 4×4 image has 16 real pixels in
/// 36 padded ones).
fn weight_grad_gathered(xp: &[f32], g: Geom, dzp: &[f32], group: usize) -> Vec<f32> {
    let (c, k, co, p) = (g.c, g.k, g.co, g.pad());
    let (wp, kc) = (g.wp(), g.k * g.c);
    let len = k * kc * co;
    let starts: Vec<usize> = (0..g.n).step_by(group).collect();
    starts
        .into_par_iter()
        .fold(
            || vec![0f32; len],
            |mut acc, b0| {
                let images = b0..(b0 + group).min(g.n);
                let rows = images.len() * g.h * g.w;
                // Output pixel (b, y, x) reads tap (ky, kx) at padded pixel
                // origin(b, y) + ky·wp + x + kx.
                let lines = || {
                    images
                        .clone()
                        .flat_map(|b| (0..g.h).map(move |y| g.origin(b, y)))
                };
                let mut dz = Vec::with_capacity(rows * co);
                for o in lines() {
                    dz.extend_from_slice(&dzp[(o + p * wp + p) * co..][..g.w * co]);
                }
                let mut cols = Vec::with_capacity(rows * kc);
                for ky in 0..k {
                    cols.clear();
                    for o in lines() {
                        for x in 0..g.w {
                            cols.extend_from_slice(&xp[(o + ky * wp + x) * c..][..kc]);
                        }
                    }
                    let dst = &mut acc[ky * kc * co..(ky + 1) * kc * co];
                    sgemm(kc, co, rows, dst, true, &cols, (1, kc), &dz);
                }
                acc
            },
        )
        .reduce(|| vec![0f32; len], sum_into)
}

/// `acc += v` element-wise, on the calling thread (the per-pixel and per-thread sums of the
/// gradients; [`add_into`] is the parallel one for whole tensors).
fn accumulate(acc: &mut [f32], v: &[f32]) {
    acc.iter_mut().zip(v).for_each(|(a, v)| *a += v);
}

/// [`accumulate`] for the reductions of per-thread sums.
fn sum_into(mut a: Vec<f32>, b: Vec<f32>) -> Vec<f32> {
    accumulate(&mut a, &b);
    a
}

/// `dx = conv(dz, w') (+ residual)`, the input gradient of conv `g` with kernel `w`: the adjoint
/// of a stride-1 same-padded conv is that conv with the flipped, transposed kernel, run on the
/// output gradient `dz` `[n, h, w, co]` — Winograd (which takes `dz` unpadded: given, or cut out
/// of `dzp`) or the implicit GEMM (which takes the zero-padded `dzp`).
pub(super) fn input_grad(
    dz: Option<&[f32]>,
    dzp: &[f32],
    g: Geom,
    w: &[f32],
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let wt = flipped_transposed(w, &g);
    let go = Geom {
        c: g.co,
        co: g.c,
        ..g
    };
    if winograd_pays(&go) {
        let unpadded;
        let dz = match dz {
            Some(dz) => dz,
            None => {
                unpadded = unpad(dzp, &go);
                &unpadded
            }
        };
        return winograd(dz, &go, &wt, None, false, residual);
    }
    let mut dx = forward_padded(dzp, go, &wt, None, false);
    if let Some(r) = residual {
        add_into(&mut dx, r);
    }
    dx
}

/// The kernel of the input gradient: `w'[(ky, kx, o), c] = w[(k-1-ky, k-1-kx, c), o]`.
fn flipped_transposed(w: &[f32], g: &Geom) -> Vec<f32> {
    let (k, c, co) = (g.k, g.c, g.co);
    let mut out = vec![0f32; w.len()];
    for ky in 0..k {
        for kx in 0..k {
            let src_tap = (k - 1 - ky) * k + (k - 1 - kx);
            let dst_tap = ky * k + kx;
            for ci in 0..c {
                for o in 0..co {
                    out[(dst_tap * co + o) * c + ci] = w[(src_tap * c + ci) * co + o];
                }
            }
        }
    }
    out
}

impl FusedConv {
    fn geom(&self, x: &Layout, w: &Layout, b: &Layout) -> Result<Geom> {
        let (n, h, wd, c) = x.shape().dims4()?;
        let (kk, co) = w.shape().dims2()?;
        let k = self.k;
        if kk != k * k * c || b.shape().dims() != [co] {
            bail!(
                "fused conv: x {:?}, weight {:?}, bias {:?} do not fit a {k}×{k} kernel",
                x.shape(),
                w.shape(),
                b.shape()
            );
        }
        Ok(Geom {
            n,
            h,
            w: wd,
            c,
            k,
            co,
        })
    }
}

impl CustomOp3 for FusedConv {
    fn name(&self) -> &'static str {
        "fused-conv-nhwc"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geom(l1, l2, l3)?;
        let x = f32_slice(s1, l1, "fused conv")?;
        let w = f32_slice(s2, l2, "fused conv")?;
        let b = f32_slice(s3, l3, "fused conv")?;
        let y = forward(x, g, w, Some(b), self.relu);
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.h, g.w, g.co))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.geom(x.layout(), w.layout(), b.layout())?;
        let op = "fused conv backward";
        // The output side: dz = dy ⊙ [y > 0] (ReLU) zero-padded like the input, and db = Σ dz.
        let go = Geom {
            c: g.co,
            co: g.c,
            ..g
        };
        let dev = x.device();
        let grads = |dzp: &[f32], db: Vec<f32>| -> Result<_> {
            let dw = if w.track_op() {
                let dw = with_f32(x, op, |x| {
                    let (xp, _) = pad(x, &g, None, false);
                    Ok(weight_grad(&xp, g, dzp))
                })?;
                Some(Tensor::from_vec(dw, w.shape(), dev)?)
            } else {
                None
            };
            let dx = if x.track_op() {
                let dx = with_f32(w, op, |w| Ok(input_grad(None, dzp, g, w, None)))?;
                Some(Tensor::from_vec(dx, x.shape(), dev)?)
            } else {
                None
            };
            let db = if b.track_op() {
                Some(Tensor::from_vec(db, b.shape(), dev)?)
            } else {
                None
            };
            Ok((dx, dw, db))
        };
        // A 1×1 conv without ReLU reads `dy` in place (nothing to pad or mask).
        with_f32(dy, op, |dy| {
            if self.relu {
                with_f32(y, op, |y| {
                    let (p, s) = pad(dy, &go, Some(y), true);
                    grads(&p, s)
                })
            } else {
                let (p, s) = pad(dy, &go, None, true);
                grads(&p, s)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::im2col;
    use candle_core::{Device, Var};

    /// Reference: candle's im2col + matmul + bias (+ relu), all through candle's autograd.
    fn reference(x: &Tensor, w: &Tensor, b: &Tensor, k: usize, relu: bool) -> Result<Tensor> {
        let (n, h, wd, c) = x.dims4()?;
        let co = w.dim(1)?;
        let y = if k == 1 {
            x.reshape((n * h * wd, c))?.matmul(w)?
        } else {
            im2col(x, k)?.matmul(w)?
        };
        let y = y.broadcast_add(b)?.reshape((n, h, wd, co))?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }

    /// Reference 2: candle's own NCHW conv2d.
    fn candle_conv(x: &Tensor, w: &Tensor, b: &Tensor, k: usize) -> Result<Tensor> {
        let (_, _, _, c) = x.dims4()?;
        let co = w.dim(1)?;
        let w = w
            .reshape((k, k, c, co))?
            .permute((3, 2, 0, 1))?
            .contiguous()?;
        x.permute((0, 3, 1, 2))?
            .conv2d(&w, k / 2, 1, 1, 1)?
            .broadcast_add(&b.reshape((1, co, 1, 1))?)?
            .permute((0, 2, 3, 1))
    }

    fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
        let num = (a - b)?.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt();
        let den = b.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt();
        Ok(num / den.max(1e-12))
    }

    /// Both CPU paths: the product's (Winograd forward and `dx` in the 3×3 cases with 8+
    /// channels and 64+ tiles: 16 and 24 channels on 256 tiles, 8 and 9 on 2,048) and the direct one.
    #[test]
    fn forward_and_gradients_match_the_reference() -> Result<()> {
        use crate::ops::{set_conv_impl, ConvImpl};
        for imp in [ConvImpl::Winograd, ConvImpl::Fused] {
            set_conv_impl(imp);
            let outcome = match_the_reference();
            set_conv_impl(ConvImpl::default());
            outcome?;
        }
        Ok(())
    }

    fn match_the_reference() -> Result<()> {
        let dev = Device::Cpu;
        // (n, h, w, c, k, co): odd sizes, 1×1 / 3×3 / 5×5, sizes below the kernel, many blocks,
        // small images that `weight_grad` takes several to a block (3×3 and 5×5).
        let cases = [
            (8, 4, 4, 6, 3, 5),
            (6, 3, 4, 3, 5, 4),
            (2, 5, 7, 3, 3, 5),
            (1, 1, 4, 2, 3, 3),
            (1, 6, 3, 1, 5, 2),
            (3, 3, 3, 4, 1, 6),
            (2, 17, 13, 8, 3, 12),
            (1, 2, 2, 3, 5, 4),
            (4, 31, 29, 16, 3, 24),
            (2, 20, 23, 33, 1, 17),
            (2, 128, 127, 8, 3, 9),
        ];
        for (i, &(n, h, w, c, k, co)) in cases.iter().enumerate() {
            for relu in [false, true] {
                let x = Var::randn(0f32, 1., (n, h, w, c), &dev)?;
                let wt = Var::randn(0f32, 0.5, (k * k * c, co), &dev)?;
                let b = Var::randn(0f32, 0.5, co, &dev)?;
                let got = conv2d_nhwc(&x, &wt, &b, k, relu)?;
                let want = reference(&x, &wt, &b, k, relu)?;
                assert!(
                    rel_err(&got, &want)? < 1e-5,
                    "case {i} relu {relu}: forward"
                );
                if !relu {
                    let c2 = candle_conv(&x, &wt, &b, k)?;
                    assert!(rel_err(&got, &c2)? < 1e-5, "case {i}: vs candle conv2d");
                }
                // A loss that weighs every output differently — except, with the ReLU, outputs
                // within float error of its kink, where the two forwards' rounding (Winograd's
                // most) may disagree on the mask: one flipped pixel alone moves dx by ~2e-3 here.
                let mut probe = Tensor::randn(0f32, 1., got.shape(), &dev)?;
                if relu {
                    let want = want.detach();
                    let kink = 1e-4 * want.abs()?.max_all()?.to_scalar::<f32>()?;
                    probe = (probe * want.abs()?.gt(kink)?.to_dtype(candle_core::DType::F32)?)?;
                }
                let g1 = (got * &probe)?.sum_all()?.backward()?;
                let g2 = (want * &probe)?.sum_all()?.backward()?;
                for (name, v) in [("x", &x), ("w", &wt), ("b", &b)] {
                    let (a, e) = (g1.get(v).unwrap(), g2.get(v).unwrap());
                    let err = rel_err(a, e)?;
                    assert!(err < 1e-4, "case {i} relu {relu}: d{name} rel err {err}");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn finite_differences_on_a_tiny_case() -> Result<()> {
        let dev = Device::Cpu;
        let (n, h, w, c, k, co) = (1, 3, 4, 2, 3, 3);
        let mut seed = 1u32;
        let mut rnd = |len: usize| -> Vec<f64> {
            (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f64 / (1u32 << 24) as f64 - 0.5
                })
                .collect()
        };
        let xs = rnd(n * h * w * c);
        let ws = rnd(k * k * c * co);
        let bs = rnd(co);
        let probe = Tensor::from_vec(
            rnd(n * h * w * co)
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<_>>(),
            (n, h, w, co),
            &dev,
        )?;
        let to_t = |v: &[f64], s: &[usize]| {
            Tensor::from_vec(v.iter().map(|&a| a as f32).collect::<Vec<_>>(), s, &dev)
        };
        let loss = |xs: &[f64], ws: &[f64], bs: &[f64]| -> Result<f64> {
            let y = conv2d_nhwc(
                &to_t(xs, &[n, h, w, c])?,
                &to_t(ws, &[k * k * c, co])?,
                &to_t(bs, &[co])?,
                k,
                true,
            )?;
            Ok((y * &probe)?.sum_all()?.to_scalar::<f32>()? as f64)
        };
        let x = Var::from_tensor(&to_t(&xs, &[n, h, w, c])?)?;
        let wv = Var::from_tensor(&to_t(&ws, &[k * k * c, co])?)?;
        let bv = Var::from_tensor(&to_t(&bs, &[co])?)?;
        let grads = (conv2d_nhwc(&x, &wv, &bv, k, true)? * &probe)?
            .sum_all()?
            .backward()?;
        let eps = 1e-2;
        let mut checked = 0;
        for (which, var) in [(0, &x), (1, &wv), (2, &bv)] {
            let g = grads.get(var).unwrap().flatten_all()?.to_vec1::<f32>()?;
            for (i, &gi) in g.iter().enumerate() {
                let mut args = [xs.clone(), ws.clone(), bs.clone()];
                args[which][i] += eps;
                let up = loss(&args[0], &args[1], &args[2])?;
                args[which][i] -= 2.0 * eps;
                let down = loss(&args[0], &args[1], &args[2])?;
                let numeric = (up - down) / (2.0 * eps);
                // A ReLU kink inside ±eps makes the difference quotient meaningless there.
                let kinked = (up + down - 2.0 * loss(&xs, &ws, &bs)?).abs() > 1e-3;
                if !kinked {
                    assert!(
                        (numeric - gi as f64).abs() < 2e-3 * (1.0 + numeric.abs()),
                        "param {which}[{i}]: numeric {numeric} vs autograd {gi}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "only {checked} smooth points checked");
        Ok(())
    }

    #[test]
    fn constant_weights_skip_their_gradient() -> Result<()> {
        // A fixed (non-Var) weight gets no gradient; the input still does.
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 1., (1, 4, 5, 3), &dev)?;
        let w = Tensor::randn(0f32, 1., (27, 2), &dev)?;
        let b = Tensor::zeros(2, candle_core::DType::F32, &dev)?;
        let grads = conv2d_nhwc(&x, &w, &b, 3, false)?.sum_all()?.backward()?;
        assert!(grads.get(&w).is_none());
        assert!(grads.get(&x).is_some());
        Ok(())
    }

    #[test]
    fn whole_models_match_the_im2col_path() -> Result<()> {
        use crate::ops::{set_conv_impl, ConvImpl};
        use crate::testing::{random_net, small_specs};
        use candle_core::Module;
        let dev = Device::Cpu;
        for spec in small_specs() {
            // Move zero-initialised layers off zero so every gradient path is live.
            let (net, vm) = random_net(&spec, 0.2);
            let a = net.align();
            let c_in = spec.kind().expect("a known kind").channels().0;
            let x = Var::rand(0f32, 1., (2, 3 * a, 5 * a, c_in), &dev)?;
            let run = |imp| -> Result<(Tensor, candle_core::backprop::GradStore)> {
                set_conv_impl(imp);
                let y = net.forward(x.as_tensor());
                set_conv_impl(ConvImpl::default());
                let y = y?;
                let grads = y.sqr()?.mean_all()?.backward()?;
                Ok((y, grads))
            };
            let (y1, g1) = run(ConvImpl::Fused)?;
            let (y2, g2) = run(ConvImpl::Im2col)?;
            assert!(rel_err(&y1, &y2)? < 1e-5, "{spec:?}: outputs differ");
            // The noise estimator shares the map (`estimator.*`) but is a separate network.
            let net_vars = vm
                .data()
                .lock()
                .unwrap()
                .iter()
                .filter(|(name, _)| !crate::models::is_estimator_key(name))
                .map(|(_, var)| var.clone())
                .collect::<Vec<_>>();
            for var in net_vars.iter().chain([&x]) {
                let e = rel_err(g1.get(var).unwrap(), g2.get(var).unwrap())?;
                assert!(e < 1e-4, "{spec:?}: gradient rel err {e}");
            }
        }
        Ok(())
    }
}
