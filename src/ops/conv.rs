//! Fused channels-last convolution for the CPU: `relu?(conv(x, w) + b)` as one candle
//! [`CustomOp3`] with its own backward.
//!
//! Layout: `x` is `[N, H, W, C]`, `w` is `[k·k·C, C_out]` (rows ordered `(ky, kx, c)`, the layout
//! of [`crate::models::Conv`]'s weights), `b` is `[C_out]`; stride 1, "same" zero padding, odd `k`.
//!
//! Forward is a blocked implicit GEMM: the output pixels are cut into blocks of a few hundred
//! rows; for each block a worker gathers its `k×k` neighbourhoods into a thread-local buffer that
//! stays in cache (so the 9× im2col matrix never exists in memory), starts the output rows at the
//! bias and lets `gemm` (AVX-512/AVX2/FMA picked at run time) accumulate `cols · w` on top; the
//! ReLU runs on the block while it is still in cache. Blocks are spread over rayon's pool, one
//! single-threaded GEMM per block. A 1×1 conv skips the gather (the input rows are the matrix).
//!
//! Backward, with `dz = dy ⊙ [y > 0]` (or `dy` without ReLU):
//! - `db = Σ_rows dz`,
//! - `dw = colsᵀ · dz`, accumulated block by block (the same cache-sized gather as the forward)
//!   into one partial sum per rayon job, then added up,
//! - `dx = conv(dz, w')` with the spatially flipped, transposed kernel
//!   `w'[(ky, kx, o), c] = w[(k-1-ky, k-1-kx, c), o]`: the adjoint of a stride-1 same-padded
//!   conv is that conv, so it reuses the forward kernel (no col2im scatter, no 9× buffer).

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;
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

/// Shape of one convolution: input `[n, h, w, c]`, `k×k` kernel, `co` output channels.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    k: usize,
    co: usize,
}

impl Geom {
    fn pixels(&self) -> usize {
        self.n * self.h * self.w
    }

    /// Length of one im2col row, the GEMM's inner dimension.
    fn kk(&self) -> usize {
        self.k * self.k * self.c
    }

    /// Output pixels per GEMM block: the gathered block stays around 256 KiB, at least 64 rows,
    /// and small problems still split into several blocks so both cores get work.
    fn block_rows(&self) -> usize {
        let by_cache = (64 * 1024 / self.kk().max(1)).clamp(64, 512);
        let by_threads = self
            .pixels()
            .div_ceil(4 * rayon::current_num_threads())
            .max(16);
        by_cache.min(by_threads)
    }
}

struct FusedConv {
    k: usize,
    relu: bool,
}

thread_local! {
    /// Per-worker gather buffer for one block of im2col rows.
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Borrow a contiguous f32 slice out of a CPU storage.
fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: only f32 tensors are supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// Runs `f` on the contiguous f32 data of a CPU tensor.
fn with_f32<R>(t: &Tensor, op: &str, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("{op}: CPU tensors only")
    };
    f(f32_slice(cpu, layout, op)?)
}

/// Gathers im2col rows `p0 .. p0 + rows` of `x` (row = the `k×k×c` neighbourhood of one output
/// pixel, zeros outside the image) into `buf[.. rows·k·k·c]`.
fn gather(x: &[f32], g: &Geom, p0: usize, rows: usize, buf: &mut [f32]) {
    let (h, w, c, k) = (g.h, g.w, g.c, g.k);
    let pad = k / 2;
    let kk = g.kk();
    for (r, out) in buf[..rows * kk].chunks_exact_mut(kk).enumerate() {
        let p = p0 + r;
        let (xx, y, b) = (p % w, (p / w) % h, p / (w * h));
        // Taps kx0..kx1 land inside the row: 0 <= xx + kx - pad < w.
        let kx0 = pad.saturating_sub(xx);
        let kx1 = k.min(w + pad - xx);
        for (ky, seg) in out.chunks_exact_mut(k * c).enumerate() {
            match (y + ky).checked_sub(pad).filter(|&iy| iy < h) {
                None => seg.fill(0.0),
                Some(iy) => {
                    seg[..kx0 * c].fill(0.0);
                    seg[kx1 * c..].fill(0.0);
                    let ix0 = xx + kx0 - pad;
                    let src = &x[((b * h + iy) * w + ix0) * c..][..(kx1 - kx0) * c];
                    seg[kx0 * c..kx1 * c].copy_from_slice(src);
                }
            }
        }
    }
}

/// Runs `f(lhs, lhs_row_stride)` with the im2col rows `p0 .. p0 + rows` of `x`: the input rows
/// themselves for a 1×1 kernel, else a gathered copy in this worker's buffer.
fn with_cols<R>(x: &[f32], g: &Geom, p0: usize, rows: usize, f: impl FnOnce(&[f32]) -> R) -> R {
    if g.k == 1 {
        return f(&x[p0 * g.c..(p0 + rows) * g.c]);
    }
    COLS.with(|cell| {
        let mut buf = cell.borrow_mut();
        let need = rows * g.kk();
        if buf.len() < need {
            buf.resize(need, 0.0);
        }
        gather(x, g, p0, rows, &mut buf);
        f(&buf[..need])
    })
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, all row-major (given row strides), single-threaded.
///
/// # Safety contract (checked by the asserts)
/// The slices must hold the addressed elements.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n && rhs.len() >= k * n);
    assert!(k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    // SAFETY: the asserts above bound every element gemm reads or writes; `dst` does not alias
    // `lhs`/`rhs` (distinct borrows).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `relu?(conv(x, w) + bias)`: `[n·h·w, co]` row-major.
fn forward(x: &[f32], g: Geom, w: &[f32], bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    let (m, kk, co) = (g.pixels(), g.kk(), g.co);
    let mut y = vec![0f32; m * co];
    if y.is_empty() {
        return y;
    }
    let rows = g.block_rows();
    y.par_chunks_mut(rows * co)
        .enumerate()
        .for_each(|(bi, yb)| {
            let (p0, r) = (bi * rows, yb.len() / co);
            if let Some(b) = bias {
                yb.chunks_exact_mut(co)
                    .for_each(|row| row.copy_from_slice(b));
            }
            with_cols(x, &g, p0, r, |cols| {
                sgemm(r, co, kk, yb, bias.is_some(), cols, (kk, 1), w)
            });
            if relu {
                yb.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        });
    y
}

/// `dw = colsᵀ · dz` (`[k·k·c, co]`), summed over all pixels.
fn weight_grad(x: &[f32], g: Geom, dz: &[f32]) -> Vec<f32> {
    let (m, kk, co) = (g.pixels(), g.kk(), g.co);
    // Larger blocks here: the GEMM's inner dimension is the block's row count.
    let rows = (g.block_rows() * 2).max(64);
    let blocks = m.div_ceil(rows);
    (0..blocks)
        .into_par_iter()
        .fold(
            || vec![0f32; kk * co],
            |mut acc, bi| {
                let p0 = bi * rows;
                let r = rows.min(m - p0);
                with_cols(x, &g, p0, r, |cols| {
                    // lhs = colsᵀ: element (i, j) = cols[j·kk + i].
                    sgemm(kk, co, r, &mut acc, true, cols, (1, kk), &dz[p0 * co..]);
                });
                acc
            },
        )
        .reduce(
            || vec![0f32; kk * co],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
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

/// `dz = dy ⊙ [y > 0]` and `db = Σ_rows dz`.
fn relu_mask_and_bias_grad(dy: &[f32], y: Option<&[f32]>, co: usize) -> (Vec<f32>, Vec<f32>) {
    let chunk = co * 1024;
    let mut dz = vec![0f32; dy.len()];
    let db = dz
        .par_chunks_mut(chunk)
        .enumerate()
        .fold(
            || vec![0f32; co],
            |mut db, (i, out)| {
                let src = &dy[i * chunk..][..out.len()];
                match y {
                    Some(y) => {
                        let y = &y[i * chunk..][..out.len()];
                        for ((o, &d), &v) in out.iter_mut().zip(src).zip(y) {
                            *o = if v > 0.0 { d } else { 0.0 };
                        }
                    }
                    None => out.copy_from_slice(src),
                }
                for row in out.chunks_exact(co) {
                    db.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                }
                db
            },
        )
        .reduce(
            || vec![0f32; co],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    (dz, db)
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
        let (dz, db) = with_f32(dy, op, |dy| {
            if self.relu {
                with_f32(y, op, |y| Ok(relu_mask_and_bias_grad(dy, Some(y), g.co)))
            } else {
                Ok(relu_mask_and_bias_grad(dy, None, g.co))
            }
        })?;
        let dev = x.device();
        let dw = if w.track_op() {
            let dw = with_f32(x, op, |x| Ok(weight_grad(x, g, &dz)))?;
            Some(Tensor::from_vec(dw, w.shape(), dev)?)
        } else {
            None
        };
        let dx = if x.track_op() {
            let wt = with_f32(w, op, |w| Ok(flipped_transposed(w, &g)))?;
            let gt = Geom {
                c: g.co,
                co: g.c,
                ..g
            };
            let dx = forward(&dz, gt, &wt, None, false);
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

    #[test]
    fn forward_and_gradients_match_the_reference() -> Result<()> {
        let dev = Device::Cpu;
        // (n, h, w, c, k, co): odd sizes, 1×1 / 3×3 / 5×5, sizes below the kernel, many blocks.
        let cases = [
            (2, 5, 7, 3, 3, 5),
            (1, 1, 4, 2, 3, 3),
            (1, 6, 3, 1, 5, 2),
            (3, 3, 3, 4, 1, 6),
            (2, 17, 13, 8, 3, 12),
            (1, 2, 2, 3, 5, 4),
            (4, 31, 29, 16, 3, 24),
            (2, 20, 23, 33, 1, 17),
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
                // A loss that weighs every output differently.
                let probe = Tensor::randn(0f32, 1., got.shape(), &dev)?;
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
        use crate::models::{Arch, ModelSpec, Net, SrConfig, Task, UNetConfig};
        use crate::ops::{set_conv_impl, ConvImpl};
        use candle_core::{DType, Module};
        use candle_nn::{VarBuilder, VarMap};
        let dev = Device::Cpu;
        let unet = |task, in_channels, out_channels, widths: Vec<usize>, residual| ModelSpec {
            task,
            arch: Arch::Unet(UNetConfig {
                in_channels,
                out_channels,
                widths,
                blocks: 1,
                residual,
            }),
        };
        let sr = |scale| ModelSpec {
            task: Task::Upscale,
            arch: Arch::Srnet(SrConfig {
                scale,
                width: 5,
                blocks: 2,
            }),
        };
        let specs = [
            unet(Task::Denoise, 4, 3, vec![4, 6, 8], true),
            unet(Task::Colorize, 1, 2, vec![3, 5], false),
            sr(2),
            sr(4),
        ];
        for spec in specs {
            let vm = VarMap::new();
            let net = Net::new(VarBuilder::from_varmap(&vm, DType::F32, &dev), &spec)?;
            // Move zero-initialised layers off zero so every gradient path is live.
            for var in vm.all_vars() {
                var.set(&(var.as_tensor() + Tensor::randn(0f32, 0.2, var.shape(), &dev)?)?)?;
            }
            let a = net.align();
            let c_in = match &spec.arch {
                Arch::Unet(c) => c.in_channels,
                Arch::Srnet(_) => 3,
            };
            let x = Var::rand(0f32, 1., (2, 3 * a, 5 * a, c_in), &dev)?;
            let run = |imp| -> Result<(Tensor, candle_core::backprop::GradStore)> {
                set_conv_impl(imp);
                let y = net.forward(x.as_tensor());
                set_conv_impl(ConvImpl::Fused);
                let y = y?;
                let grads = y.sqr()?.mean_all()?.backward()?;
                Ok((y, grads))
            };
            let (y1, g1) = run(ConvImpl::Fused)?;
            let (y2, g2) = run(ConvImpl::Im2col)?;
            assert!(rel_err(&y1, &y2)? < 1e-5, "{spec:?}: outputs differ");
            for var in vm.all_vars().iter().chain([&x]) {
                let e = rel_err(g1.get(var).unwrap(), g2.get(var).unwrap())?;
                assert!(e < 1e-4, "{spec:?}: gradient rel err {e}");
            }
        }
        Ok(())
    }
}
