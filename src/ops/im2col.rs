//! `im2col` / `col2im` for channels-last tensors with "same" zero padding and stride 1.
//!
//! `im2col(x, k)` maps `[N, H, W, C]` to `[N·H·W, k·k·C]`: row `(n, y, x)` holds the k×k
//! neighbourhood of that pixel, ordered `(ky, kx, c)`, with zeros outside the image.
//! `col2im` is its adjoint (sums every column entry back onto the pixel it came from), which is
//! exactly the gradient of `im2col`, so a convolution built as `im2col(x).matmul(w)` trains with
//! candle's autograd.

use super::f32_slice;
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Gathers k×k neighbourhoods: `[N, H, W, C]` (f32, CPU) → `[N·H·W, k·k·C]`. `k` must be odd.
pub fn im2col(x: &Tensor, k: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Im2Col { k })
}

/// Adjoint of [`im2col`] (its gradient): `[N·H·W, k·k·C]` → `[N, H, W, C]` for the given
/// `(N, H, W, C)`.
fn col2im(cols: &Tensor, k: usize, nhwc: (usize, usize, usize, usize)) -> Result<Tensor> {
    cols.contiguous()?.apply_op1_no_bwd(&Col2Im { k, nhwc })
}

struct Im2Col {
    k: usize,
}

struct Col2Im {
    k: usize,
    nhwc: (usize, usize, usize, usize),
}

/// Source index along one axis for output position `o` and kernel tap `t`, or `None` in the padding.
fn tap(o: usize, t: usize, pad: usize, len: usize) -> Option<usize> {
    (o + t).checked_sub(pad).filter(|&i| i < len)
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = layout.shape().dims4()?;
        let src = f32_slice(storage, layout, "im2col")?;
        let (k, pad) = (self.k, self.k / 2);
        let row = k * k * c;
        let mut dst = vec![0f32; n * h * w * row];
        if !dst.is_empty() {
            dst.par_chunks_mut(w * row)
                .enumerate()
                .for_each(|(ny, out)| {
                    let (b, y) = (ny / h, ny % h);
                    for ky in 0..k {
                        let Some(iy) = tap(y, ky, pad, h) else {
                            continue;
                        };
                        let src_row = &src[(b * h + iy) * w * c..][..w * c];
                        for (x, out_px) in out.chunks_exact_mut(row).enumerate() {
                            for kx in 0..k {
                                if let Some(ix) = tap(x, kx, pad, w) {
                                    out_px[(ky * k + kx) * c..][..c]
                                        .copy_from_slice(&src_row[ix * c..][..c]);
                                }
                            }
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(dst), Shape::from((n * h * w, row))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(col2im(grad_res, self.k, arg.dims4()?)?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, h, w, c) = self.nhwc;
        let (k, pad) = (self.k, self.k / 2);
        let row = k * k * c;
        if layout.shape().dims() != [n * h * w, row] {
            bail!(
                "col2im: got {:?}, expected [{}, {row}]",
                layout.shape(),
                n * h * w
            );
        }
        let cols = f32_slice(storage, layout, "col2im")?;
        let mut dst = vec![0f32; n * h * w * c];
        if !dst.is_empty() {
            // Gather form: each output pixel sums the k·k column entries that copied it.
            dst.par_chunks_mut(w * c).enumerate().for_each(|(ny, out)| {
                let (b, y) = (ny / h, ny % h);
                for ky in 0..k {
                    // Output row y was read by column row oy when oy + ky - pad == y.
                    let Some(oy) = (y + pad).checked_sub(ky).filter(|&v| v < h) else {
                        continue;
                    };
                    let col_row = &cols[(b * h + oy) * w * row..][..w * row];
                    for (x, out_px) in out.chunks_exact_mut(c).enumerate() {
                        for kx in 0..k {
                            let Some(ox) = (x + pad).checked_sub(kx).filter(|&v| v < w) else {
                                continue;
                            };
                            let src = &col_row[ox * row + (ky * k + kx) * c..][..c];
                            out_px.iter_mut().zip(src).for_each(|(o, s)| *o += s);
                        }
                    }
                }
            });
        }
        Ok((CpuStorage::F32(dst), Shape::from((n, h, w, c))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Direct reference: same-padded k×k gather.
    fn naive(x: &[f32], (n, h, w, c): (usize, usize, usize, usize), k: usize) -> Vec<f32> {
        let pad = k / 2;
        let mut out = vec![0f32; n * h * w * k * k * c];
        let mut i = 0;
        for b in 0..n {
            for y in 0..h {
                for xx in 0..w {
                    for ky in 0..k {
                        for kx in 0..k {
                            for ch in 0..c {
                                let iy = y as isize + ky as isize - pad as isize;
                                let ix = xx as isize + kx as isize - pad as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    out[i] = x[((b * h + iy as usize) * w + ix as usize) * c + ch];
                                }
                                i += 1;
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_gather_on_odd_sizes() -> Result<()> {
        for (dims, k) in [
            ((2, 5, 7, 3), 3),
            ((1, 1, 4, 2), 3),
            ((1, 6, 3, 1), 5),
            ((1, 3, 3, 2), 1),
        ] {
            let len = dims.0 * dims.1 * dims.2 * dims.3;
            let data: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let x = Tensor::from_vec(data.clone(), dims, &Device::Cpu)?;
            let got = im2col(&x, k)?.flatten_all()?.to_vec1::<f32>()?;
            assert_eq!(got, naive(&data, dims, k), "dims {dims:?} k {k}");
        }
        Ok(())
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() -> Result<()> {
        // <im2col(x), g> == <x, col2im(g)> for random x, g.
        let dims = (2, 5, 6, 3);
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1., dims, &dev)?;
        let cols = im2col(&x, 3)?;
        let g = Tensor::randn(0f32, 1., cols.shape(), &dev)?;
        let lhs = (cols * &g)?.sum_all()?.to_scalar::<f32>()?;
        let rhs = (x * col2im(&g, 3, dims)?)?.sum_all()?.to_scalar::<f32>()?;
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        Ok(())
    }

    #[test]
    fn gradient_flows_through_im2col() -> Result<()> {
        let x = Var::randn(0f32, 1., (1, 4, 4, 2), &Device::Cpu)?;
        let loss = im2col(x.as_tensor(), 3)?.sum_all()?;
        let grad = loss.backward()?.get(&x).expect("x has a gradient").clone();
        // Each pixel is copied once per kernel tap that lands inside the image:
        // corners 4 times, edges 6, interior 9.
        let flat = grad.flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(flat[0], 4.0);
        assert_eq!(flat[2], 6.0);
        assert_eq!(flat[(4 + 1) * 2], 9.0);
        Ok(())
    }
}
