//! A whole residual block, `x + conv2(relu(conv1(x) + b1)) + b2` (3×3, constant width C,
//! channels-last), as one candle [`CustomOp3`] with its own backward: the training path of
//! [`crate::models::ResBlock`].
//!
//! Built from two [`super::conv2d_nhwc`] ops and a candle add, the block costs candle's
//! gradient bookkeeping on every intermediate: each op input's gradient is summed into a fresh
//! `zeros_like` tensor (a zero fill and an add pass per input), and the skip's add is a pass of
//! its own in both directions. As one op the block's only full-size gradient is `dx`, the skip's
//! `dy` is added inside the last conv's output transform, and the hidden activation stays in the
//! op (taken by its backward) instead of in candle's graph.
//!
//! The op's weights are packed `[9·C + 1, C]`: the conv's `[9·C, C]` kernel (rows `(ky, kx, c)`)
//! with its bias as the last row, so one tensor carries each conv ([`res_block_nhwc`] packs them
//! with `Tensor::cat`, whose backward hands the rows back to the weight and bias variables).
//!
//! Backward, with `dy` the output gradient and `h = relu(conv1(x) + b1)`:
//! `dw2 = colsᵀ(h)·dy`, `db2 = Σ dy`, `dz1 = conv(dy, w2') ⊙ [h > 0]`, `dw1 = colsᵀ(x)·dz1`,
//! `db1 = Σ dz1`, `dx = dy + conv(dz1, w1')` (see the `conv` module for `w'` and the paths).

use super::conv::{forward_add, input_grad, pad, weight_grad, with_f32, Geom};
use super::f32_slice;
use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::Mutex;

/// `x + conv2(relu(conv1(x) + b1)) + b2` for channels-last `x` `[N, H, W, C]`, 3×3 weights
/// `[9·C, C]` and biases `[C]` (CPU, f32); differentiable in all five.
pub fn res_block_nhwc(
    x: &Tensor,
    (w1, b1): (&Tensor, &Tensor),
    (w2, b2): (&Tensor, &Tensor),
) -> Result<Tensor> {
    let pack = |w: &Tensor, b: &Tensor| Tensor::cat(&[w, &b.reshape((1, b.elem_count()))?], 0);
    x.contiguous()?.apply_op3(
        &pack(w1, b1)?,
        &pack(w2, b2)?,
        ResBlockOp {
            hidden: Mutex::new(None),
        },
    )
}

struct ResBlockOp {
    /// `relu(conv1(x) + b1)` from the forward pass, for the backward (which takes it).
    hidden: Mutex<Option<Vec<f32>>>,
}

/// Kernel and bias of a packed `[9·C + 1, C]` weight.
fn unpack(wb: &[f32], c: usize) -> (&[f32], &[f32]) {
    wb.split_at(9 * c * c)
}

fn geom(x: &Layout, wb1: &Layout, wb2: &Layout) -> Result<Geom> {
    let (n, h, w, c) = x.shape().dims4()?;
    let want = [9 * c + 1, c];
    if wb1.shape().dims() != want || wb2.shape().dims() != want {
        bail!(
            "residual block: x {:?} needs packed weights {want:?}, got {:?} and {:?}",
            x.shape(),
            wb1.shape(),
            wb2.shape()
        );
    }
    Ok(Geom {
        n,
        h,
        w,
        c,
        k: 3,
        co: c,
    })
}

/// `relu(conv1(x) + b1)`.
fn hidden(x: &[f32], g: Geom, wb1: &[f32]) -> Vec<f32> {
    let (w1, b1) = unpack(wb1, g.c);
    super::conv::forward(x, g, w1, Some(b1), true)
}

/// `[9·C + 1, C]` from a kernel gradient and a bias gradient.
fn packed(dw: Vec<f32>, db: &[f32], shape: &Shape, dev: &candle_core::Device) -> Result<Tensor> {
    let mut v = dw;
    v.extend_from_slice(db);
    Tensor::from_vec(v, shape, dev)
}

impl CustomOp3 for ResBlockOp {
    fn name(&self) -> &'static str {
        "res-block-nhwc"
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
        let g = geom(l1, l2, l3)?;
        let op = "residual block";
        let x = f32_slice(s1, l1, op)?;
        let wb1 = f32_slice(s2, l2, op)?;
        let (w2, b2) = unpack(f32_slice(s3, l3, op)?, g.c);
        let h = hidden(x, g, wb1);
        let y = forward_add(&h, g, w2, Some(b2), x);
        *self.hidden.lock().expect("hidden lock") = Some(h);
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.h, g.w, g.c))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        wb1: &Tensor,
        wb2: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = geom(x.layout(), wb1.layout(), wb2.layout())?;
        let op = "residual block backward";
        let dev = x.device();
        let (wb1v, wb2v) = (
            with_f32(wb1, op, |w| Ok(w.to_vec()))?,
            with_f32(wb2, op, |w| Ok(w.to_vec()))?,
        );
        let (w1, _) = unpack(&wb1v, g.c);
        let (w2, _) = unpack(&wb2v, g.c);
        let track_x = x.track_op();
        let x_shape = x.shape().clone();
        with_f32(x, op, |x| {
            // A second backward of the same graph finds the hidden activation taken: recompute.
            let h = self
                .hidden
                .lock()
                .expect("hidden lock")
                .take()
                .unwrap_or_else(|| hidden(x, g, &wb1v));
            with_f32(dy, op, |dy| {
                let (dyp, db2) = pad(dy, &g, None, true);
                let dwb2 = if wb2.track_op() {
                    let (hp, _) = pad(&h, &g, None, false);
                    Some(packed(weight_grad(&hp, g, &dyp), &db2, wb2.shape(), dev)?)
                } else {
                    None
                };
                let dh = input_grad(Some(dy), &dyp, g, w2, None);
                let (dz1p, db1) = pad(&dh, &g, Some(&h), true);
                let dz1p = dz1p.into_owned();
                drop((dh, h));
                let dwb1 = if wb1.track_op() {
                    let (xp, _) = pad(x, &g, None, false);
                    Some(packed(weight_grad(&xp, g, &dz1p), &db1, wb1.shape(), dev)?)
                } else {
                    None
                };
                let dx = if track_x {
                    let dx = input_grad(None, &dz1p, g, w1, Some(dy));
                    Some(Tensor::from_vec(dx, x_shape, dev)?)
                } else {
                    None
                };
                Ok((dx, dwb1, dwb2))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{conv2d_nhwc, set_conv_impl, ConvImpl};
    use candle_core::{Device, Var};

    fn rand(shape: &[usize], seed: u64, scale: f32) -> Result<Var> {
        let mut rng = crate::testing::Rng(seed);
        let n = shape.iter().product();
        let v = (0..n)
            .map(|_| (rng.unit() - 0.5) * scale)
            .collect::<Vec<_>>();
        Var::from_vec(v, shape, &Device::Cpu)
    }

    fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
        let d = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let m = b.abs()?.max_all()?.to_scalar::<f32>()?;
        Ok(d / m.max(1e-6))
    }

    /// The op's output and all five gradients against the block built from two fused convs and
    /// a candle add, on the direct path (4 channels) and on Winograd (8 channels, 2,048 tiles).
    #[test]
    fn matches_two_convs_and_an_add() -> Result<()> {
        for (n, h, w, c) in [(2, 9, 7, 4), (2, 128, 128, 8)] {
            for imp in [ConvImpl::Winograd, ConvImpl::Fused] {
                set_conv_impl(imp);
                let x = rand(&[n, h, w, c], 1, 2.0)?;
                let w1 = rand(&[9 * c, c], 2, 0.5)?;
                let b1 = rand(&[c], 3, 0.2)?;
                let w2 = rand(&[9 * c, c], 4, 0.5)?;
                let b2 = rand(&[c], 5, 0.2)?;
                let target = rand(&[n, h, w, c], 6, 2.0)?;
                let vars = [&x, &w1, &b1, &w2, &b2];
                let fused = res_block_nhwc(x.as_tensor(), (&w1, &b1), (&w2, &b2))?;
                let hidden = conv2d_nhwc(x.as_tensor(), &w1, &b1, 3, true)?;
                let reference = (x.as_tensor() + conv2d_nhwc(&hidden, &w2, &b2, 3, false)?)?;
                assert!(rel_err(&fused, &reference)? < 1e-5, "{imp:?} {c}: forward");
                let loss = |y: &Tensor| (y - target.as_tensor())?.sqr()?.mean_all();
                let (gf, gr) = (loss(&fused)?.backward()?, loss(&reference)?.backward()?);
                for (i, v) in vars.iter().enumerate() {
                    let (a, b) = (gf.get(v).expect("grad"), gr.get(v).expect("grad"));
                    let e = rel_err(a, b)?;
                    assert!(e < 1e-4, "{imp:?} {c}: gradient of input {i}: {e}");
                }
            }
        }
        set_conv_impl(ConvImpl::Winograd);
        Ok(())
    }

    /// Frozen weights (constants) get no gradient, and the input's still flows.
    #[test]
    fn constant_weights_skip_their_gradients() -> Result<()> {
        let c = 4;
        let x = rand(&[1, 6, 5, c], 1, 2.0)?;
        let w = rand(&[9 * c, c], 2, 0.5)?.as_tensor().detach();
        let b = Tensor::zeros(c, candle_core::DType::F32, &Device::Cpu)?;
        let y = res_block_nhwc(x.as_tensor(), (&w, &b), (&w, &b))?;
        let grads = y.sqr()?.mean_all()?.backward()?;
        assert!(grads.get(&w).is_none());
        assert!(grads.get(&x).is_some());
        Ok(())
    }
}
