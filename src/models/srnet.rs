//! Super-resolution autoencoder for `upscale`: works on the low-resolution grid and upsamples
//! once at the end with depth-to-space, on top of a fixed bicubic path (so the net learns the
//! residual, as VDSR/ESPCN-style models do).
//!
//! ```text
//! x ─ head 3×3 ─ ResBlock×b ─ 3×3 ─ (+head) ─ tail 3×3 (→ 3·s²) ─┐
//! └──────────────── bicubic as a fixed 5×5 conv (→ 3·s²) ────────(+)─ shuffle s ─ y
//! ```

use super::layers::{pixel_shuffle, Conv, ResBlock};
use crate::maths::color::cubic_weight;
use candle_core::{Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// Shape of an [`SrNet`]; stored as JSON in the weights' `config` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SrConfig {
    /// Upscaling factor (2 or 4).
    pub scale: usize,
    /// Channels of the low-resolution trunk.
    pub width: usize,
    /// Residual blocks in the trunk.
    pub blocks: usize,
}

/// `[N, h, w, 3]` in `[0, 1]` → `[N, h·s, w·s, 3]` (unclamped; callers clamp to `[0, 1]`).
pub struct SrNet {
    cfg: SrConfig,
    head: Conv,
    body: Vec<ResBlock>,
    body_tail: Conv,
    tail: Conv,
    bicubic: Conv,
}

/// Bicubic kernel radius in low-resolution pixels (taps -2..=2).
const BICUBIC_K: usize = 5;

/// Weights `[5·5·3, 3·s²]` of the fixed conv that computes bicubic upsampling (Keys a = -0.5,
/// MATLAB's `imresize` kernel and pixel-centre convention) for every sub-pixel phase.
fn bicubic_weight(scale: usize, device: &Device) -> Result<Tensor> {
    let k = BICUBIC_K;
    let r = (k / 2) as f64;
    let phase_taps = |p: usize| -> Vec<f64> {
        // Output sub-pixel p sits at LR offset d = (p + 0.5)/s - 0.5 from its LR pixel.
        let d = (p as f64 + 0.5) / scale as f64 - 0.5;
        (0..k).map(|t| cubic_weight(t as f64 - r - d)).collect()
    };
    let c_out = 3 * scale * scale;
    let mut w = vec![0f32; k * k * 3 * c_out];
    for i in 0..scale {
        for j in 0..scale {
            let (wy, wx) = (phase_taps(i), phase_taps(j));
            for c in 0..3 {
                let out = (i * scale + j) * 3 + c;
                for ky in 0..k {
                    for kx in 0..k {
                        w[((ky * k + kx) * 3 + c) * c_out + out] = (wy[ky] * wx[kx]) as f32;
                    }
                }
            }
        }
    }
    Tensor::from_vec(w, (k * k * 3, c_out), device)
}

impl SrNet {
    /// Keys: `head`, `body.{i}`, `body_tail`, `tail` (each `.weight` / `.bias`).
    pub fn new(vb: VarBuilder, cfg: &SrConfig) -> Result<Self> {
        if !matches!(cfg.scale, 2 | 4) || cfg.width == 0 {
            candle_core::bail!("srnet config needs scale 2 or 4 and a non-zero width: {cfg:?}");
        }
        let (c, s2) = (cfg.width, cfg.scale * cfg.scale);
        Ok(Self {
            head: Conv::new(vb.pp("head"), 3, c, 3, false)?,
            body: (0..cfg.blocks)
                .map(|i| ResBlock::new(vb.pp("body").pp(i), c))
                .collect::<Result<_>>()?,
            body_tail: Conv::new(vb.pp("body_tail"), c, c, 3, false)?,
            tail: Conv::new(vb.pp("tail"), c, 3 * s2, 3, true)?,
            bicubic: Conv::fixed(bicubic_weight(cfg.scale, vb.device())?, BICUBIC_K)?,
            cfg: cfg.clone(),
        })
    }

    pub fn scale(&self) -> usize {
        self.cfg.scale
    }

    /// Low-resolution pixels on each side that influence one output pixel.
    pub fn radius(&self) -> usize {
        let trunk = self.head.radius()
            + self.body.iter().map(ResBlock::radius).sum::<usize>()
            + self.body_tail.radius()
            + self.tail.radius();
        trunk.max(self.bicubic.radius())
    }

    /// Multiply-adds per high-resolution output pixel (the fixed bicubic path included).
    pub fn macs_per_pixel(&self) -> f64 {
        let lr = self.head.macs()
            + self.body.iter().map(ResBlock::macs).sum::<usize>()
            + self.body_tail.macs()
            + self.tail.macs()
            + self.bicubic.macs();
        lr as f64 / (self.cfg.scale * self.cfg.scale) as f64
    }

    pub fn params(&self) -> usize {
        self.head.params()
            + self.body.iter().map(ResBlock::params).sum::<usize>()
            + self.body_tail.params()
            + self.tail.params()
    }

    pub fn config(&self) -> &SrConfig {
        &self.cfg
    }

    /// See [`Conv::prepare_inference`]: every conv of the net (the fixed 5×5 bicubic conv stays
    /// direct).
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.head.prepare_inference()?;
        self.body
            .iter_mut()
            .try_for_each(ResBlock::prepare_inference)?;
        self.body_tail.prepare_inference()?;
        self.tail.prepare_inference()?;
        self.bicubic.prepare_inference()
    }

    /// The fixed bicubic path alone: `[N, h, w, 3]` → `[N, h·s, w·s, 3]`.
    pub fn bicubic(&self, x: &Tensor) -> Result<Tensor> {
        pixel_shuffle(&self.bicubic.forward(x)?, self.cfg.scale)
    }
}

impl Module for SrNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let head = self.head.forward(x)?;
        let mut h = head.clone();
        for b in &self.body {
            h = b.forward(&h)?;
        }
        let h = self.body_tail.forward_add(&h, &head)?;
        // The tail's and the bicubic conv's outputs are both the 3·s² sub-pixel phases of the LR
        // grid: summed there (inside the tail's Winograd output transform), then one
        // depth-to-space — the same sum as shuffling each and adding, a quarter of the pixels.
        let phases = self.tail.forward_add(&h, &self.bicubic.forward(x)?)?;
        pixel_shuffle(&phases, self.cfg.scale)
    }
}
