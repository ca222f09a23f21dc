//! Winograd F(4×4, 3×3) convolution for inference: `relu?(conv3×3(x, w) + b)`, stride 1, "same"
//! zero padding, channels-last, forward only (no gradient of its own: [`super::conv2d_nhwc`] calls
//! it for its forward and input-gradient convs, through [`Winograd::from_slices`] and [`Winograd::run`]).
//!
//! The kernel is transformed once ([`Winograd::new`], at weight load): `U[ξ]`, 36 matrices
//! `[c_in, c_out]`. The output is cut into 4×4 tiles (the last row and column of tiles may hang
//! over the image edge; their extra pixels are dropped), and tiles are processed in blocks small
//! enough that a block's transformed inputs `V` `[36, tiles, c_in]` and products `M` `[36, tiles,
//! c_out]` stay in the core's L2 cache: per block, the input transform fills `V` (reading the
//! zero padding from a zero vector, no padded copy), 36 single-threaded GEMMs `M[ξ] = V[ξ] ·
//! U[ξ]` (the `gemm` crate, as in [`super::conv2d_nhwc`]) do 4× fewer multiply-adds than the
//! direct 3×3 conv, and the output transform writes the tiles with bias and ReLU. Groups of tile
//! rows run in parallel on rayon's pool (counted over the batch: a group of a training batch of
//! small images spans several of them, so its GEMMs are as deep as a large image's); each worker
//! keeps its buffers in a thread-local scratch, so apart from `gemm`'s small packing buffers a
//! call allocates nothing but its output.

#[cfg(test)]
mod tests;
mod transform;

use super::{f32_slice, sgemm};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use transform::{Block, M, POINTS};

/// A 3×3 convolution prepared for Winograd inference: its transformed kernel and its bias.
pub struct Winograd {
    /// `[36, c_in, c_out]`: see [`transform::kernel`].
    u: Vec<f32>,
    /// `[c_out]`.
    bias: Vec<f32>,
    c_in: usize,
}

impl Winograd {
    /// Whether a 3×3 conv with `c_in` input channels runs faster through Winograd than through
    /// the direct implicit GEMM: from 8 on, whatever the output channels (measured with
    /// `aetool-bench --only layers`: with 1–4 terms per product the GEMMs are mostly overhead
    /// and the direct conv's 9·`c_in` terms run as fast or faster; 16→16 is ~1.5× faster).
    pub fn pays_off(c_in: usize) -> bool {
        c_in >= 8
    }

    /// Prepares the conv with weights `w` `[9·c_in, c_out]` (rows ordered `(ky, kx, c_in)`, as in
    /// [`crate::models::Conv`]) and bias `b` `[c_out]` (CPU, f32).
    pub fn new(w: &Tensor, b: &Tensor) -> Result<Self> {
        let (rows, c_out) = w.dims2()?;
        if rows == 0 || rows % 9 != 0 || b.dims() != [c_out] {
            bail!(
                "winograd: weight {:?} and bias {:?} are not a 3×3 conv",
                w.shape(),
                b.shape()
            );
        }
        let w = w.flatten_all()?.to_vec1::<f32>()?;
        Ok(Self::from_slices(&w, b.to_vec1::<f32>()?))
    }

    /// As [`Winograd::new`] from raw data: `w` `[9·c_in, c_out]`, `bias` `[c_out]` (`c_out` ≥ 1).
    /// The training path ([`super::conv2d_nhwc`]) prepares its 3×3 convs this way on every call:
    /// the kernel transform costs 126 multiply-adds per (`c_in`, `c_out`) pair, vectorised along
    /// `c_out`, against 36 per pair and tile in the GEMMs.
    pub(crate) fn from_slices(w: &[f32], bias: Vec<f32>) -> Self {
        let c_out = bias.len();
        let c_in = w.len() / (9 * c_out);
        debug_assert_eq!(w.len(), 9 * c_in * c_out);
        Self {
            u: transform::kernel(w, c_in, c_out),
            bias,
            c_in,
        }
    }

    /// The number of 4×4 output tiles of an `[n, h, w, _]` input.
    pub(crate) fn tiles(n: usize, h: usize, w: usize) -> usize {
        n * h.div_ceil(M) * w.div_ceil(M)
    }

    /// `relu?(conv3×3(x, w) + b)`: `[N, H, W, c_in]` → `[N, H, W, c_out]` (CPU, f32). The result
    /// carries no gradient.
    pub fn forward(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(&Op { conv: self, relu })
    }

    /// `residual + conv3×3(x, w) + b` (a residual block's second conv and skip in one pass):
    /// `x` `[N, H, W, c_in]`, `residual` `[N, H, W, c_out]` (CPU, f32). No gradient.
    pub fn forward_add(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        x.contiguous()?
            .apply_op2_no_bwd(&residual.contiguous()?, &AddOp { conv: self })
    }

    fn c_out(&self) -> usize {
        self.bias.len()
    }

    /// Tiles per block: `V` and `M` of a block take about [`BLOCK_FLOATS`] floats.
    fn block_tiles(&self) -> usize {
        (BLOCK_FLOATS / (POINTS * (self.c_in + self.c_out()))).clamp(8, 1024)
    }
}

/// Target size of one block's `V` and `M` together, in floats (768 KiB: they stay in L2 between
/// the transforms and the GEMMs; measured on a 2 MiB-L2 core, 24→24 at 512²: ~15% slower at
/// 192 KiB, ~5% at 384 KiB, the same up to 3 MiB; fewer, larger GEMM calls).
const BLOCK_FLOATS: usize = 192 * 1024;

/// Fewest tiles a group of tile rows gets in [`Winograd::run`] while every core still has one.
const MIN_GROUP_TILES: usize = 16;

/// Per-worker buffers, grown on demand and kept for the thread's life.
#[derive(Default)]
struct Scratch {
    /// Transformed input tiles `[36, block, c_in]`.
    v: Vec<f32>,
    /// GEMM products `[36, block, c_out]`.
    m: Vec<f32>,
    /// `c_in` zeros: the padding.
    zeros: Vec<f32>,
}

/// Grows `buf` to at least `len` floats (new ones zero) and returns its first `len`.
fn take(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Winograd {
    /// `relu?(conv3×3(x, w) + b)` of `x` `[n, h, w, c_in]` (contiguous) → `[n, h, w, c_out]`,
    /// plus `residual` `[n, h, w, c_out]` when given (added in the output transform: no extra
    /// pass over memory; the same sum, bit for bit, as adding it afterwards).
    pub(crate) fn run(
        &self,
        x: &[f32],
        (n, h, w): (usize, usize, usize),
        relu: bool,
        residual: Option<&[f32]>,
    ) -> Vec<f32> {
        let (c, co) = (self.c_in, self.c_out());
        debug_assert_eq!(x.len(), n * h * w * c);
        let len = n * h * w * co;
        debug_assert!(residual.is_none_or(|r| r.len() == len));
        // The output is written once, tile by tile, without zeroing it first (a memset of
        // every layer's output cost ~6 % of a forward pass).
        let mut y: Vec<f32> = Vec::with_capacity(len);
        if len > 0 {
            // Groups of whole tile rows, counted over the batch (image after image): about one
            // block each, and enough groups for every core. A group of a batch of small images
            // spans several of them, so its GEMMs stay as deep as one large image's.
            let (tiles_x, tiles_y) = (w.div_ceil(M), h.div_ceil(M));
            let rows = n * tiles_y;
            let by_block = (self.block_tiles() / tiles_x).max(1);
            let threads = rayon::current_num_threads();
            let by_threads = rows.div_ceil(4 * threads).max(1);
            // But not so few tiles that the GEMMs are mostly overhead, while every core has work.
            let fewest = MIN_GROUP_TILES
                .div_ceil(tiles_x)
                .min(rows.div_ceil(threads));
            let step = by_block.min(by_threads).max(fewest);
            let start = |r| tile_row_start(r, (h, w));
            let mut groups = Vec::with_capacity(rows.div_ceil(step));
            let mut rest = &mut y.spare_capacity_mut()[..len];
            for r0 in (0..rows).step_by(step) {
                let r1 = (r0 + step).min(rows);
                let (group, tail) = rest.split_at_mut((start(r1) - start(r0)) * co);
                rest = tail;
                groups.push((r0, r1, group));
            }
            groups.into_par_iter().for_each(|(r0, r1, y)| {
                // The residual's values for these output rows, laid out as `y`.
                let res = residual.map(|r| &r[start(r0) * co..][..y.len()]);
                self.tile_rows(x, (h, w), (r0, r1), relu, res, y)
            });
        }
        // SAFETY: the groups above cover every output row of every image, and `tile_rows`
        // writes every channel of every pixel of its rows (see `transform::output_block`).
        unsafe { y.set_len(len) };
        y
    }

    /// The output of tile rows `r0..r1` (counted over the batch `x` `[n, h, w, c_in]`, image
    /// after image): `y` holds those rows' output pixels (the last row of each image's tiles may
    /// be cut by its bottom edge), plus `residual` (laid out as `y`) when given.
    fn tile_rows(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        (r0, r1): (usize, usize),
        relu: bool,
        residual: Option<&[f32]>,
        y: &mut [MaybeUninit<f32>],
    ) {
        let (k, c, co) = (self, self.c_in, self.c_out());
        let (tiles_x, tiles_y) = (w.div_ceil(M), h.div_ceil(M));
        let tiles = (r1 - r0) * tiles_x;
        let bt = k.block_tiles();
        let start = |r| tile_row_start(r, (h, w));
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            let v = take(&mut s.v, POINTS * bt * c);
            let m = take(&mut s.m, POINTS * bt * co);
            let zeros = take(&mut s.zeros, c);
            for first in (0..tiles).step_by(bt) {
                let blk = Block {
                    h,
                    w,
                    tiles_x,
                    tiles_y,
                    first: r0 * tiles_x + first,
                    count: bt.min(tiles - first),
                    stride: bt,
                };
                transform::input_block(x, blk, zeros, v);
                for p in 0..POINTS {
                    let (vp, up) = (&v[p * bt * c..], &k.u[p * c * co..][..c * co]);
                    sgemm(
                        blk.count,
                        co,
                        c,
                        &mut m[p * bt * co..],
                        false,
                        vp,
                        (c, 1),
                        up,
                    );
                }
                // Output from this block's first tile row on.
                let from = (start(r0 + first / tiles_x) - start(r0)) * co;
                let res = residual.map(|r| &r[from..]);
                transform::output_block(m, blk, &k.bias, relu, res, &mut y[from..]);
            }
        });
    }
}

/// The output pixel (index in the batch `[n, h, w]`) where tile row `r` starts, tile rows counted
/// over the batch, image after image (`n · ⌈h/4⌉` of them; `r` = that count gives `n·h·w`).
fn tile_row_start(r: usize, (h, w): (usize, usize)) -> usize {
    let tiles_y = h.div_ceil(M);
    ((r / tiles_y) * h + (r % tiles_y) * M) * w
}

/// The candle op: one [`Winograd`] conv with or without its ReLU.
struct Op<'a> {
    conv: &'a Winograd,
    relu: bool,
}

impl CustomOp1 for Op<'_> {
    fn name(&self) -> &'static str {
        "winograd-conv3x3-nhwc"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = layout.shape().dims4()?;
        let (c_in, co) = (self.conv.c_in, self.conv.c_out());
        if c != c_in {
            bail!("winograd: input has {c} channels, the conv takes {c_in}");
        }
        let x = f32_slice(storage, layout, "winograd conv")?;
        let y = self.conv.run(x, (n, h, w), self.relu, None);
        Ok((CpuStorage::F32(y), Shape::from((n, h, w, co))))
    }
}

/// The candle op of [`Winograd::forward_add`]: input 1 the conv's input, input 2 the residual.
struct AddOp<'a> {
    conv: &'a Winograd,
}

impl CustomOp2 for AddOp<'_> {
    fn name(&self) -> &'static str {
        "winograd-conv3x3-add-nhwc"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = l1.shape().dims4()?;
        let (c_in, co) = (self.conv.c_in, self.conv.c_out());
        if c != c_in || l2.shape().dims() != [n, h, w, co] {
            bail!(
                "winograd: input {:?} and residual {:?} do not fit a {c_in}→{co} conv",
                l1.shape(),
                l2.shape()
            );
        }
        let x = f32_slice(s1, l1, "winograd conv")?;
        let r = f32_slice(s2, l2, "winograd residual")?;
        let y = self.conv.run(x, (n, h, w), false, Some(r));
        Ok((CpuStorage::F32(y), Shape::from((n, h, w, co))))
    }
}
