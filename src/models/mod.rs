//! The networks. Every model is built by `new(vb, &config)`, where the `VarBuilder`'s `pp(...)`
//! names are the safetensors keys, so one constructor serves random init (training) and loading.

mod layers;
mod srnet;
mod unet;

pub use layers::{pixel_shuffle, pixel_unshuffle, Conv, ResBlock};
pub use srnet::{SrConfig, SrNet};
pub use unet::{UNet, UNetConfig};

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a set of weights restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Denoise,
    Upscale,
    Colorize,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Task::Denoise => "denoise",
            Task::Upscale => "upscale",
            Task::Colorize => "colorize",
        })
    }
}

/// Architecture and its hyper-parameters, stored as the weights' `config` metadata (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum Arch {
    Unet(UNetConfig),
    Srnet(SrConfig),
}

/// Everything needed to build a network: the task it serves and its architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub task: Task,
    pub arch: Arch,
}

impl ModelSpec {
    /// The architecture aetool ships for `task` (`scale` matters for upscale only).
    pub fn default_for(task: Task, scale: usize) -> Self {
        let arch = match task {
            Task::Denoise => Arch::Unet(UNetConfig {
                in_channels: 4,
                out_channels: 3,
                widths: vec![24, 48, 96],
                blocks: 1,
                residual: true,
            }),
            Task::Upscale => Arch::Srnet(SrConfig {
                scale,
                width: if scale == 2 { 32 } else { 48 },
                blocks: 4,
            }),
            Task::Colorize => Arch::Unet(UNetConfig {
                in_channels: 1,
                out_channels: 2,
                widths: vec![16, 32, 64, 128, 192],
                blocks: 1,
                residual: false,
            }),
        };
        Self { task, arch }
    }

    /// Upscaling factor of the output grid (1 for same-size tasks).
    pub fn scale(&self) -> usize {
        match &self.arch {
            Arch::Srnet(c) => c.scale,
            Arch::Unet(_) => 1,
        }
    }

    /// log2 of the factor input sides must be multiples of (levels − 1 for a U-Net).
    pub fn depth_align_log2(&self) -> usize {
        match &self.arch {
            Arch::Unet(c) => c.widths.len().saturating_sub(1),
            Arch::Srnet(_) => 0,
        }
    }

    /// Canonical name: `denoise`, `upscale-x2`, `upscale-x4`, `colorize`. Bundled weights and
    /// Hub files are named `<name>.safetensors`.
    pub fn name(&self) -> String {
        model_name(self.task, self.scale())
    }

    /// Checks that the architecture fits the task's input/output layout.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let want = match self.task {
            Task::Denoise => (4, 3),
            Task::Colorize => (1, 2),
            Task::Upscale => (3, 3),
        };
        match (&self.arch, self.task) {
            (Arch::Unet(c), Task::Denoise | Task::Colorize)
                if (c.in_channels, c.out_channels) == want =>
            {
                Ok(())
            }
            (Arch::Srnet(_), Task::Upscale) => Ok(()),
            (arch, task) => Err(format!(
                "a {task} model needs {} input and {} output channels on {}; got {arch:?}",
                want.0,
                want.1,
                if task == Task::Upscale {
                    "srnet"
                } else {
                    "unet"
                }
            )),
        }
    }
}

/// Canonical model name for a task (see [`ModelSpec::name`]).
pub fn model_name(task: Task, scale: usize) -> String {
    match task {
        Task::Upscale => format!("upscale-x{scale}"),
        t => t.to_string(),
    }
}

/// A built network of either architecture.
pub enum Net {
    Unet(UNet),
    Srnet(SrNet),
}

impl Net {
    pub fn new(vb: VarBuilder, spec: &ModelSpec) -> Result<Self> {
        spec.validate().map_err(candle_core::Error::msg)?;
        Ok(match &spec.arch {
            Arch::Unet(c) => Net::Unet(UNet::new(vb, c)?),
            Arch::Srnet(c) => Net::Srnet(SrNet::new(vb, c)?),
        })
    }

    /// Input height/width must be multiples of this.
    pub fn align(&self) -> usize {
        match self {
            Net::Unet(n) => n.align(),
            Net::Srnet(_) => 1,
        }
    }

    /// Input pixels of context on each side that influence an output pixel (upper bound).
    pub fn radius(&self) -> usize {
        match self {
            Net::Unet(n) => n.radius(),
            Net::Srnet(n) => n.radius(),
        }
    }

    pub fn scale(&self) -> usize {
        match self {
            Net::Unet(_) => 1,
            Net::Srnet(n) => n.scale(),
        }
    }

    /// Channels of the first (full-resolution) layer, for memory estimates.
    pub fn first_width(&self) -> usize {
        match self {
            Net::Unet(n) => n.config().widths[0],
            Net::Srnet(n) => n.config().width,
        }
    }

    pub fn params(&self) -> usize {
        match self {
            Net::Unet(n) => n.params(),
            Net::Srnet(n) => n.params(),
        }
    }

    pub fn macs_per_pixel(&self) -> f64 {
        match self {
            Net::Unet(n) => n.macs_per_pixel(),
            Net::Srnet(n) => n.macs_per_pixel(),
        }
    }
}

impl Module for Net {
    /// `[N, H, W, C_in]` → `[N, H·s, W·s, C_out]` (channels-last, f32).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Net::Unet(n) => n.forward(x),
            Net::Srnet(n) => n.forward(x),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
