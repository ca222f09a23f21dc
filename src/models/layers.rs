//! Building blocks shared by the architectures. All activations are channels-last
//! (`[N, H, W, C]`, f32); images enter the models with values in `[0, 1]`.

use crate::ops;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// k×k convolution, stride 1, "same" zero padding: `[N, H, W, C_in]` → `[N, H, W, C_out]`.
///
/// Safetensors keys: `weight` with shape `[k·k·C_in, C_out]` (rows ordered `(ky, kx, c_in)`)
/// and `bias` with shape `[C_out]`.
pub struct Conv {
    weight: Tensor,
    bias: Tensor,
    k: usize,
    /// Set by [`Conv::prepare_inference`]: the 3×3 kernel transformed for Winograd.
    winograd: Option<ops::Winograd>,
}

impl Conv {
    /// A trainable convolution. `zero_init` starts it at zero (used for the last layer of a
    /// residual branch, so an untrained net starts as the identity / the skip path).
    pub fn new(
        vb: VarBuilder,
        c_in: usize,
        c_out: usize,
        k: usize,
        zero_init: bool,
    ) -> Result<Self> {
        let fan_in = (k * k * c_in) as f64;
        // PyTorch's default (Kaiming-uniform with a = √5) bound: 1/√fan_in.
        let bound = 1.0 / fan_in.sqrt();
        let init = if zero_init {
            Init::Const(0.0)
        } else {
            Init::Uniform {
                lo: -bound,
                up: bound,
            }
        };
        let weight = vb.get_with_hints((k * k * c_in, c_out), "weight", init)?;
        let bias = vb.get_with_hints(c_out, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            k,
            winograd: None,
        })
    }

    /// A fixed (non-trainable) convolution from a `[k·k·C_in, C_out]` weight, zero bias.
    pub fn fixed(weight: Tensor, k: usize) -> Result<Self> {
        let bias = Tensor::zeros(weight.dim(1)?, weight.dtype(), weight.device())?;
        Ok(Self {
            weight,
            bias,
            k,
            winograd: None,
        })
    }

    /// For inference on the CPU with weights that no longer change (loaded weights): a 3×3 conv
    /// with enough input channels ([`ops::Winograd::pays_off`]) gets its kernel transformed once
    /// for [`ops::Winograd`], which its forward uses from then on. Its output then carries no
    /// gradient, so a prepared conv cannot be trained; GPU convs, other kernel sizes and convs
    /// with fewer channels are left as they are.
    pub fn prepare_inference(&mut self) -> Result<()> {
        let c_in = self.weight.dim(0)? / (self.k * self.k);
        if self.k == 3 && self.weight.device().is_cpu() && ops::Winograd::pays_off(c_in) {
            self.winograd = Some(ops::Winograd::new(&self.weight, &self.bias)?);
        }
        Ok(())
    }

    /// Number of trainable scalars.
    pub fn params(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }

    /// Multiply-adds per pixel of the grid this layer runs on.
    pub fn macs(&self) -> usize {
        self.weight.elem_count()
    }

    /// Pixels of context this layer reads on each side.
    pub fn radius(&self) -> usize {
        self.k / 2
    }
}

/// Whether prepared convs run Winograd: always in the product; tests and the benchmark may switch
/// the CPU path with [`ops::set_conv_impl`].
fn winograd_in_use() -> bool {
    #[cfg(any(test, feature = "bench"))]
    return ops::conv_impl() == ops::ConvImpl::Winograd;
    #[cfg(not(any(test, feature = "bench")))]
    true
}

impl Conv {
    /// Whether this conv would run as the CPU's fused training op ([`ops::conv2d_nhwc`]): a
    /// 3×3 conv not prepared for inference, on the CPU (tests and the benchmark: on the product's
    /// or the direct path).
    fn trains_on_cpu(&self, x: &Tensor) -> bool {
        #[cfg(any(test, feature = "bench"))]
        let fused = matches!(
            ops::conv_impl(),
            ops::ConvImpl::Winograd | ops::ConvImpl::Fused
        );
        #[cfg(not(any(test, feature = "bench")))]
        let fused = true;
        fused && self.k == 3 && self.winograd.is_none() && x.device().is_cpu()
    }

    /// `relu(conv(x))`; on the CPU the ReLU is fused into the convolution (forward and backward).
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.run(x, true)
    }

    /// `residual + conv(x)` (`residual` shaped like the output): with Winograd prepared the sum
    /// is taken in the conv's output transform, with no extra pass over memory; otherwise the
    /// conv, then the add (the same value, bit for bit).
    pub fn forward_add(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        match &self.winograd {
            Some(w) if x.device().is_cpu() && winograd_in_use() => w.forward_add(x, residual),
            _ => residual + self.run(x, false)?,
        }
    }

    /// On the CPU Winograd when prepared, else the fused op; candle's conv2d on a GPU (tests
    /// and the benchmark may switch the CPU path with [`ops::set_conv_impl`]).
    fn run(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        if !x.device().is_cpu() {
            return self.candle(x, relu);
        }
        #[cfg(any(test, feature = "bench"))]
        match ops::conv_impl() {
            ops::ConvImpl::Winograd => {}
            ops::ConvImpl::Fused => {
                return ops::conv2d_nhwc(x, &self.weight, &self.bias, self.k, relu)
            }
            ops::ConvImpl::Im2col => return self.im2col(x, relu),
            ops::ConvImpl::Candle => return self.candle(x, relu),
        }
        match &self.winograd {
            Some(w) => w.forward(x, relu),
            None => ops::conv2d_nhwc(x, &self.weight, &self.bias, self.k, relu),
        }
    }

    /// candle's own NCHW convolution on permuted tensors (GPU backends; stock baseline on the CPU).
    fn candle(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let (n, h, w, c) = x.dims4()?;
        let c_out = self.weight.dim(1)?;
        let w_nchw = self
            .weight
            .reshape((self.k, self.k, c, c_out))?
            .permute((3, 2, 0, 1))?
            .contiguous()?;
        let y = x
            .permute((0, 3, 1, 2))?
            .conv2d(&w_nchw, self.k / 2, 1, 1, 1)?;
        self.bias_relu(
            y.permute((0, 2, 3, 1))?.reshape((n * h * w, c_out))?,
            x,
            relu,
        )
    }

    /// The unfused reference: im2col gather + candle matmul.
    #[cfg(any(test, feature = "bench"))]
    fn im2col(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let (n, h, w, c) = x.dims4()?;
        let y = if self.k == 1 {
            x.reshape((n * h * w, c))?.matmul(&self.weight)?
        } else {
            ops::im2col(x, self.k)?.matmul(&self.weight)?
        };
        self.bias_relu(y, x, relu)
    }

    /// Adds the bias to `[N·H·W, C_out]` products, reshapes them like `x` and applies the ReLU.
    fn bias_relu(&self, y: Tensor, x: &Tensor, relu: bool) -> Result<Tensor> {
        let (n, h, w, _) = x.dims4()?;
        let y = y
            .broadcast_add(&self.bias)?
            .reshape((n, h, w, self.weight.dim(1)?))?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.run(x, false)
    }
}

/// Residual block `x + conv(relu(conv(x)))` at constant width C: `[N, H, W, C]` → same.
pub struct ResBlock {
    conv1: Conv,
    conv2: Conv,
}

impl ResBlock {
    pub fn new(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            conv1: Conv::new(vb.pp("conv1"), c, c, 3, false)?,
            conv2: Conv::new(vb.pp("conv2"), c, c, 3, false)?,
        })
    }

    pub fn params(&self) -> usize {
        self.conv1.params() + self.conv2.params()
    }

    pub fn macs(&self) -> usize {
        self.conv1.macs() + self.conv2.macs()
    }

    pub fn radius(&self) -> usize {
        self.conv1.radius() + self.conv2.radius()
    }

    /// See [`Conv::prepare_inference`].
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.conv1.prepare_inference()?;
        self.conv2.prepare_inference()
    }
}

impl Module for ResBlock {
    /// Unprepared (training) on the CPU: one op for the whole block ([`ops::res_block_nhwc`],
    /// the same values as the two convs and the add); otherwise conv by conv.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.conv1.trains_on_cpu(x) && self.conv2.trains_on_cpu(x) {
            let (c1, c2) = (&self.conv1, &self.conv2);
            return ops::res_block_nhwc(x, (&c1.weight, &c1.bias), (&c2.weight, &c2.bias));
        }
        self.conv2.forward_add(&self.conv1.forward_relu(x)?, x)
    }
}

/// Depth-to-space: `[N, H, W, r·r·C]` → `[N, H·r, W·r, C]`; input channel `(i·r + j)·C + c`
/// lands on output pixel `(y·r + i, x·r + j)`, channel `c`.
pub fn pixel_shuffle(x: &Tensor, r: usize) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let c_out = c / (r * r);
    x.reshape(vec![n, h, w, r, r, c_out])?
        .permute(vec![0, 1, 3, 2, 4, 5])?
        .contiguous()?
        .reshape((n, h * r, w * r, c_out))
}

/// Space-to-depth, the inverse of [`pixel_shuffle`]: `[N, H·r, W·r, C]` → `[N, H, W, r·r·C]`.
pub fn pixel_unshuffle(x: &Tensor, r: usize) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let (ho, wo) = (h / r, w / r);
    x.reshape(vec![n, ho, r, wo, r, c])?
        .permute(vec![0, 1, 3, 2, 4, 5])?
        .contiguous()?
        .reshape((n, ho, wo, r * r * c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, D};
    use candle_nn::VarMap;

    #[test]
    fn shuffle_roundtrip_and_layout() -> Result<()> {
        let x = Tensor::arange(0f32, 2. * 4. * 6. * 3., &Device::Cpu)?.reshape((2, 4, 6, 3))?;
        let back = pixel_shuffle(&pixel_unshuffle(&x, 2)?, 2)?;
        assert_eq!(
            back.flatten_all()?.to_vec1::<f32>()?,
            x.flatten_all()?.to_vec1::<f32>()?
        );
        // Channel (i·r + j)·C + c of pixel (0,0) is input pixel (i, j), channel c.
        let u = pixel_unshuffle(&x, 2)?;
        let px = u.get(0)?.get(0)?.get(0)?.to_vec1::<f32>()?;
        let want: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
            .iter()
            .flat_map(|&(i, j)| {
                x.get(0)
                    .unwrap()
                    .get(i)
                    .unwrap()
                    .get(j)
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect();
        assert_eq!(px, want);
        Ok(())
    }

    #[test]
    fn conv_matches_candle_conv2d() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        for (k, c_in, c_out) in [(3, 3, 5), (1, 4, 2), (5, 2, 3)] {
            let conv = Conv::new(vb.pp(format!("c{k}")), c_in, c_out, k, false)?;
            let x = Tensor::randn(0f32, 1., (2, 7, 5, c_in), &dev)?;
            let got = conv.forward(&x)?;
            let w = conv
                .weight
                .reshape((k, k, c_in, c_out))?
                .permute((3, 2, 0, 1))?
                .contiguous()?;
            let want = x
                .permute((0, 3, 1, 2))?
                .conv2d(&w, k / 2, 1, 1, 1)?
                .broadcast_add(&conv.bias.reshape((1, c_out, 1, 1))?)?
                .permute((0, 2, 3, 1))?;
            let diff = (got - want)?
                .abs()?
                .max_keepdim(D::Minus1)?
                .flatten_all()?
                .max(0)?;
            assert!(diff.to_scalar::<f32>()? < 1e-5, "k={k}");
        }
        Ok(())
    }
}
