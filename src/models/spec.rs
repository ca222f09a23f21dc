//! What a weights file says it is: the task and the architecture with its hyper-parameters,
//! stored as the weights' `config` metadata (JSON), e.g.
//! `{"task":"upscale","arch":"srnet","scale":2,"width":32,"blocks":4}`.

use super::{ColorNetConfig, EstimatorConfig, ModelKind, SrConfig, Task, UNetConfig};
use serde::{Deserialize, Serialize};

/// Architecture and its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum Arch {
    Unet(UNetConfig),
    Srnet(SrConfig),
    /// Colorize as classification over quantised ab (see `maths::colour_bins`).
    Colornet(ColorNetConfig),
}

/// Everything needed to build a network: the task it serves and its architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub task: Task,
    pub arch: Arch,
    /// Denoise only: the blind noise-level estimator stored beside the network (keys
    /// `estimator.*`); weights without one fall back to the wavelet estimate for `--sigma auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<EstimatorConfig>,
}

impl ModelSpec {
    /// Upscaling factor of the output grid (1 for same-size tasks).
    pub fn scale(&self) -> usize {
        match &self.arch {
            Arch::Srnet(c) => c.scale,
            Arch::Unet(_) | Arch::Colornet(_) => 1,
        }
    }

    /// The model kind these weights serve; `None` for an upscaler of a factor aetool lacks.
    pub fn kind(&self) -> Option<ModelKind> {
        ModelKind::new(self.task, self.scale())
    }

    /// log2 of the factor input sides must be multiples of (levels − 1 for a U-Net).
    pub fn depth_align_log2(&self) -> usize {
        match &self.arch {
            Arch::Unet(c) => c.widths.len().saturating_sub(1),
            Arch::Colornet(c) => c.widths.len().saturating_sub(1),
            Arch::Srnet(_) => 0,
        }
    }

    /// Canonical name: `denoise`, `upscale-x2`, `upscale-x4`, `colorize` (`upscale-xN` for
    /// another factor).
    pub fn name(&self) -> String {
        match self.kind() {
            Some(kind) => kind.name().to_string(),
            None => format!("{}-x{}", self.task, self.scale()),
        }
    }

    /// Checks that the architecture fits the task's input/output layout.
    pub fn validate(&self) -> Result<(), String> {
        let want = match self.kind() {
            Some(kind) => kind.channels(),
            // An SR net of another factor: refused by `SrNet::new` with its own message.
            None => (3, 3),
        };
        match (&self.arch, self.task) {
            (Arch::Unet(c), Task::Denoise | Task::Colorize)
                if (c.in_channels, c.out_channels) == want =>
            {
                Ok(())
            }
            (Arch::Srnet(_), Task::Upscale) => Ok(()),
            (Arch::Colornet(c), Task::Colorize) => {
                let q = crate::maths::colour_bins::AbBins::shared().len();
                if c.bins != q {
                    return Err(format!(
                        "a colorize classifier needs {q} ab classes (this aetool's grid); got {}",
                        c.bins
                    ));
                }
                Ok(())
            }
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
