//! The networks. Every model is built by `new(vb, &config)`, where the `VarBuilder`'s `pp(...)`
//! names are the safetensors keys, so one constructor serves random init (training) and loading.

mod colornet;
mod estimator;
mod kind;
mod layers;
pub mod planes;
mod spec;
mod srnet;
mod trunk;
mod unet;

pub use colornet::{ColorNet, ColorNetConfig};
pub use estimator::{is_estimator_key, level_from_log, EstimatorConfig, NoiseEstimator};
pub use kind::{ModelKind, Task, TrainDefaults};
pub use layers::{pixel_shuffle, pixel_unshuffle, Conv, ResBlock};
pub use spec::{Arch, ModelSpec};
pub use srnet::{SrConfig, SrNet};
pub use unet::{UNet, UNetConfig};

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use std::collections::HashMap;

/// [`Net::radius`] of a net that sees the whole image (the colour classifier's global branch).
pub const WHOLE_IMAGE: usize = usize::MAX / 4;

/// A built network of either architecture.
pub enum Net {
    Unet(UNet),
    Srnet(SrNet),
    Colornet(ColorNet),
}

impl Net {
    pub fn new(vb: VarBuilder, spec: &ModelSpec) -> Result<Self> {
        spec.validate().map_err(candle_core::Error::msg)?;
        Ok(match &spec.arch {
            Arch::Unet(c) => Net::Unet(UNet::new(vb, c)?),
            Arch::Srnet(c) => Net::Srnet(SrNet::new(vb, c)?),
            Arch::Colornet(c) => Net::Colornet(ColorNet::new(vb, c)?),
        })
    }

    /// The net of `spec` over `tensors` (by safetensors key; keys it does not use, such as
    /// `estimator.*`, are ignored) taken as constants: it stays differentiable in its input, but
    /// no gradient is recorded for its weights.
    pub fn from_constants(
        tensors: impl IntoIterator<Item = (String, Tensor)>,
        spec: &ModelSpec,
        device: &Device,
    ) -> Result<Self> {
        let constants: HashMap<String, Tensor> = tensors
            .into_iter()
            .map(|(name, t)| (name, t.detach()))
            .collect();
        Self::new(
            VarBuilder::from_tensors(constants, DType::F32, device),
            spec,
        )
    }

    /// Input height/width must be multiples of this.
    pub fn align(&self) -> usize {
        match self {
            Net::Unet(n) => n.align(),
            Net::Colornet(n) => n.align(),
            Net::Srnet(_) => 1,
        }
    }

    /// Input pixels of context on each side that influence an output pixel (upper bound).
    /// Receptive radius in input pixels (the tile border); [`WHOLE_IMAGE`] for a net whose global
    /// branch sees the whole image (never tiled).
    pub fn radius(&self) -> usize {
        match self {
            Net::Unet(n) => n.radius(),
            Net::Srnet(n) => n.radius(),
            // Colorize runs on one whole working copy: the global branch sees everything.
            Net::Colornet(_) => WHOLE_IMAGE,
        }
    }

    pub fn scale(&self) -> usize {
        match self {
            Net::Unet(_) | Net::Colornet(_) => 1,
            Net::Srnet(n) => n.scale(),
        }
    }

    /// Channels of the first (full-resolution) layer, for memory estimates.
    pub fn first_width(&self) -> usize {
        match self {
            Net::Unet(n) => n.config().widths[0],
            Net::Colornet(n) => n.config().widths[0],
            Net::Srnet(n) => n.config().width,
        }
    }

    pub fn params(&self) -> usize {
        match self {
            Net::Unet(n) => n.params(),
            Net::Srnet(n) => n.params(),
            Net::Colornet(n) => n.params(),
        }
    }

    /// Readies a net whose weights will not change (loaded weights) for fast CPU inference:
    /// its 3×3 convs get their kernels transformed once for Winograd (see
    /// [`Conv::prepare_inference`]). A prepared net's output carries no gradient; training
    /// never calls this.
    pub fn prepare_inference(&mut self) -> Result<()> {
        match self {
            Net::Unet(n) => n.prepare_inference(),
            Net::Srnet(n) => n.prepare_inference(),
            Net::Colornet(n) => n.prepare_inference(),
        }
    }

    pub fn macs_per_pixel(&self) -> f64 {
        match self {
            Net::Unet(n) => n.macs_per_pixel(),
            Net::Srnet(n) => n.macs_per_pixel(),
            Net::Colornet(n) => n.macs_per_pixel(),
        }
    }
}

impl Module for Net {
    /// `[N, H, W, C_in]` → `[N, H·s, W·s, C_out]` (channels-last, f32).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Net::Unet(n) => n.forward(x),
            Net::Srnet(n) => n.forward(x),
            Net::Colornet(n) => n.forward(x),
        }
    }
}

#[cfg(test)]
mod tests;
