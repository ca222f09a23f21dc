//! Which model: one noun, [`ModelKind`], for everything that differs between the models aetool
//! ships — file name, output suffix, channel counts, default architecture, default training
//! settings. Adding a model kind means a variant here plus the code specific to it (its pixel
//! planes in `planes.rs`, its branch in `pipeline/restore.rs`, its degradation in
//! `train/pairs.rs`); the compiler lists every `match` that needs it.

use super::{Arch, ColorNetConfig, EstimatorConfig, ModelSpec, SrConfig, UNetConfig};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The task family a set of weights serves, as stored in the weights' metadata (`task`).
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

/// A model aetool knows: a task and, for upscaling, its factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Denoise,
    UpscaleX2,
    UpscaleX4,
    Colorize,
}

/// Default training settings of a model kind (`aetool finetune` flags override them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainDefaults {
    /// Side of the model's input crop in pixels (low-resolution side for upscale).
    pub patch: u32,
    /// Crops per step.
    pub batch: usize,
    /// Range of the random downscale applied before cropping (removes JPEG artefacts and noise;
    /// colorize crops whole scenes instead, see `train::COLORIZE_CONTEXT`).
    pub zoom: (f32, f32),
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Denoise,
        ModelKind::UpscaleX2,
        ModelKind::UpscaleX4,
        ModelKind::Colorize,
    ];

    /// The kind serving `task` (`scale` is used for upscale only: 2 or 4).
    pub fn new(task: Task, scale: usize) -> Option<Self> {
        match (task, scale) {
            (Task::Denoise, _) => Some(Self::Denoise),
            (Task::Colorize, _) => Some(Self::Colorize),
            (Task::Upscale, 2) => Some(Self::UpscaleX2),
            (Task::Upscale, 4) => Some(Self::UpscaleX4),
            (Task::Upscale, _) => None,
        }
    }

    pub fn task(self) -> Task {
        match self {
            Self::Denoise => Task::Denoise,
            Self::UpscaleX2 | Self::UpscaleX4 => Task::Upscale,
            Self::Colorize => Task::Colorize,
        }
    }

    /// Output side / input side: 2 or 4 for upscale, 1 otherwise.
    pub fn scale(self) -> usize {
        match self {
            Self::UpscaleX2 => 2,
            Self::UpscaleX4 => 4,
            Self::Denoise | Self::Colorize => 1,
        }
    }

    /// Canonical name: `denoise`, `upscale-x2`, `upscale-x4`, `colorize`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Denoise => "denoise",
            Self::UpscaleX2 => "upscale-x2",
            Self::UpscaleX4 => "upscale-x4",
            Self::Colorize => "colorize",
        }
    }

    /// Bundled weights and Hub files are named `<name>.safetensors`.
    pub fn file_name(self) -> String {
        format!("{}.safetensors", self.name())
    }

    /// Marker in default output names: `cat.<suffix>.jpg`, `photos-<suffix>/`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Denoise => "denoised",
            Self::UpscaleX2 => "x2",
            Self::UpscaleX4 => "x4",
            Self::Colorize => "colorized",
        }
    }

    /// `(input, output)` channels of the network: denoise RGB + σ plane → RGB, upscale RGB →
    /// RGB, colorize L → ab.
    pub fn channels(self) -> (usize, usize) {
        match self {
            Self::Denoise => (4, 3),
            Self::UpscaleX2 | Self::UpscaleX4 => (3, 3),
            Self::Colorize => (1, 2),
        }
    }

    /// The architecture aetool ships for this kind.
    pub fn default_spec(self) -> ModelSpec {
        let (in_channels, out_channels) = self.channels();
        let arch = match self {
            Self::Denoise => Arch::Unet(UNetConfig {
                in_channels,
                out_channels,
                // aetool 0.2: the 0.1 U-Net [24, 48, 96] grown by a level (scripts/grow_weights.py).
                widths: vec![24, 48, 96, 192],
                blocks: 1,
                residual: true,
            }),
            Self::UpscaleX2 | Self::UpscaleX4 => Arch::Srnet(SrConfig {
                scale: self.scale(),
                width: if self == Self::UpscaleX2 { 32 } else { 48 },
                blocks: 4,
            }),
            Self::Colorize => Arch::Colornet(ColorNetConfig {
                widths: vec![16, 32, 64, 128, 192],
                blocks: 1,
                bins: crate::maths::colour_bins::AbBins::shared().len(),
                out_level: 2,
            }),
        };
        ModelSpec {
            task: self.task(),
            arch,
            estimator: (self == Self::Denoise).then_some(EstimatorConfig { width: 16 }),
        }
    }

    /// Default training settings for this kind.
    pub fn train_defaults(self) -> TrainDefaults {
        let (patch, batch) = match self {
            Self::Denoise => (64, 16),
            Self::UpscaleX2 => (32, 16),
            Self::UpscaleX4 => (24, 16),
            // Whole scenes at 128 px: fewer, larger crops.
            Self::Colorize => (128, 8),
        };
        TrainDefaults {
            patch,
            batch,
            zoom: (0.5, 1.0),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_task_and_scale() {
        for kind in ModelKind::ALL {
            assert_eq!(ModelKind::new(kind.task(), kind.scale()), Some(kind));
            let spec = kind.default_spec();
            assert_eq!(spec.kind(), Some(kind));
            assert!(spec.validate().is_ok(), "{kind}");
        }
        assert_eq!(ModelKind::new(Task::Upscale, 3), None);
    }
}
