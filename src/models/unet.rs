//! U-Net autoencoder used by `denoise` (RGB + noise-level map → RGB, residual) and
//! `colorize` (L → ab).
//!
//! ```text
//! head 3×3 ─ [ResBlock×b ─ skip ─ unshuffle 2 + 1×1]×(L-1) ─ ResBlock×b ─ [1×1 + shuffle 2 ─ +skip ─ ResBlock×b]×(L-1) ─ tail 3×3
//! ```
//! Downsampling is space-to-depth + 1×1 conv (a 2×2 stride-2 conv) and upsampling is 1×1 conv +
//! depth-to-space (a 2×2 stride-2 transposed conv), as in DRUNet; no pooling, no interpolation,
//! so every op has a correct CPU gradient in candle.

use super::layers::{pixel_shuffle, pixel_unshuffle, Conv, ResBlock};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// Shape of a [`UNet`]; stored as JSON in the weights' `config` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Input channels (denoise: 4 = RGB + noise level; colorize: 1 = L).
    pub in_channels: usize,
    /// Output channels (denoise: 3; colorize: 2).
    pub out_channels: usize,
    /// Channels at each level, finest first; `widths.len()` levels, each halving the resolution.
    pub widths: Vec<usize>,
    /// Residual blocks per level (encoder, bottleneck and decoder each).
    pub blocks: usize,
    /// Add the first `out_channels` input channels to the output (predict a correction).
    pub residual: bool,
}

struct Level {
    blocks: Vec<ResBlock>,
    /// Encoder: 1×1 conv after unshuffle (4·C_l → C_{l+1}). Decoder: 1×1 conv before shuffle (C_{l+1} → 4·C_l).
    resample: Conv,
}

/// `[N, H, W, in_channels]` → `[N, H, W, out_channels]`; H and W must be multiples of
/// [`UNet::align`]. Inputs in `[0, 1]` (images) / normalised planes; output in the same range.
pub struct UNet {
    cfg: UNetConfig,
    head: Conv,
    down: Vec<Level>,
    mid: Vec<ResBlock>,
    up: Vec<Level>,
    tail: Conv,
}

fn res_blocks(vb: VarBuilder, n: usize, c: usize) -> Result<Vec<ResBlock>> {
    (0..n).map(|i| ResBlock::new(vb.pp(i), c)).collect()
}

impl UNet {
    /// Keys: `head`, `down.{l}.blocks.{i}`, `down.{l}.resample`, `mid.{i}`, `up.{l}.resample`,
    /// `up.{l}.blocks.{i}`, `tail` (each with `.weight` / `.bias`).
    pub fn new(vb: VarBuilder, cfg: &UNetConfig) -> Result<Self> {
        let w = &cfg.widths;
        if w.is_empty() || cfg.in_channels == 0 || cfg.out_channels == 0 {
            candle_core::bail!(
                "unet config needs at least one level and non-zero channels: {cfg:?}"
            );
        }
        let levels = w.len() - 1;
        let down = (0..levels)
            .map(|l| {
                let vb = vb.pp("down").pp(l);
                Ok(Level {
                    blocks: res_blocks(vb.pp("blocks"), cfg.blocks, w[l])?,
                    resample: Conv::new(vb.pp("resample"), 4 * w[l], w[l + 1], 1, false)?,
                })
            })
            .collect::<Result<_>>()?;
        let up = (0..levels)
            .map(|l| {
                let vb = vb.pp("up").pp(l);
                Ok(Level {
                    resample: Conv::new(vb.pp("resample"), w[l + 1], 4 * w[l], 1, false)?,
                    blocks: res_blocks(vb.pp("blocks"), cfg.blocks, w[l])?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            head: Conv::new(vb.pp("head"), cfg.in_channels, w[0], 3, false)?,
            mid: res_blocks(vb.pp("mid"), cfg.blocks, w[levels])?,
            tail: Conv::new(vb.pp("tail"), w[0], cfg.out_channels, 3, cfg.residual)?,
            down,
            up,
            cfg: cfg.clone(),
        })
    }

    /// Height and width must be multiples of this (2^(levels-1)).
    pub fn align(&self) -> usize {
        1 << self.down.len()
    }

    /// Full-resolution pixels on each side that influence one output pixel (an upper bound).
    pub fn radius(&self) -> usize {
        let mut r = self.head.radius() + self.tail.radius();
        for (l, (d, u)) in self.down.iter().zip(&self.up).enumerate() {
            let scale = 1 << l;
            let blocks: usize = d.blocks.iter().chain(&u.blocks).map(ResBlock::radius).sum();
            // Blocks run at 2^l; each resample step can mix a whole 2^(l+1) cell.
            r += blocks * scale + 2 * (2 * scale);
        }
        let deepest = 1 << self.down.len();
        r + self.mid.iter().map(ResBlock::radius).sum::<usize>() * deepest
    }

    /// Multiply-adds per full-resolution output pixel.
    pub fn macs_per_pixel(&self) -> f64 {
        let mut m = (self.head.macs() + self.tail.macs()) as f64;
        for (l, (d, u)) in self.down.iter().zip(&self.up).enumerate() {
            let at = |n: usize, level: usize| n as f64 / (1usize << (2 * level)) as f64;
            let blocks: usize = d.blocks.iter().chain(&u.blocks).map(ResBlock::macs).sum();
            m += at(blocks, l) + at(d.resample.macs() + u.resample.macs(), l + 1);
        }
        let deepest = 1usize << (2 * self.down.len());
        m + self.mid.iter().map(ResBlock::macs).sum::<usize>() as f64 / deepest as f64
    }

    pub fn params(&self) -> usize {
        let level = |lv: &Level| {
            lv.resample.params() + lv.blocks.iter().map(ResBlock::params).sum::<usize>()
        };
        self.head.params()
            + self.tail.params()
            + self.mid.iter().map(ResBlock::params).sum::<usize>()
            + self.down.iter().chain(&self.up).map(level).sum::<usize>()
    }

    pub fn config(&self) -> &UNetConfig {
        &self.cfg
    }

    /// See [`Conv::prepare_inference`]: every conv of the net.
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.head.prepare_inference()?;
        self.tail.prepare_inference()?;
        for level in self.down.iter_mut().chain(&mut self.up) {
            level.resample.prepare_inference()?;
            level
                .blocks
                .iter_mut()
                .try_for_each(ResBlock::prepare_inference)?;
        }
        self.mid
            .iter_mut()
            .try_for_each(ResBlock::prepare_inference)
    }
}

fn run_blocks(blocks: &[ResBlock], mut x: Tensor) -> Result<Tensor> {
    for b in blocks {
        x = b.forward(&x)?;
    }
    Ok(x)
}

impl Module for UNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.head.forward(x)?;
        let mut skips = Vec::with_capacity(self.down.len());
        for level in &self.down {
            h = run_blocks(&level.blocks, h)?;
            skips.push(h.clone());
            h = level.resample.forward(&pixel_unshuffle(&h, 2)?)?;
        }
        h = run_blocks(&self.mid, h)?;
        for level in self.up.iter().rev() {
            let skip = skips.pop().expect("one skip per level");
            h = (pixel_shuffle(&level.resample.forward(&h)?, 2)? + skip)?;
            h = run_blocks(&level.blocks, h)?;
        }
        let out = self.tail.forward(&h)?;
        if self.cfg.residual {
            out + x.narrow(3, 0, self.cfg.out_channels)?
        } else {
            Ok(out)
        }
    }
}
