//! aetool: photo restoration (denoise, upscale, colorize) with small convolutional
//! autoencoders on candle, CPU first.
//!
//! # Data path (`aetool denoise|upscale|colorize`)
//!
//! ```text
//! flags ─ app/args.rs ─▶ app/config.rs ──▶ RestoreConfig (validated once)
//!                                              │
//! inputs ─▶ pipeline/walk.rs ─▶ jobs {input, output, format}
//!             photo/decode.rs ─▶ Photo (samples as stored: u8/u16, gray/RGB, alpha; meta)
//!             pipeline/restore.rs ─▶ models/planes.rs (pixels → model planes)
//!                                    pipeline/tiling.rs (tiles with a context border, to f32)
//!                                    models/ (U-Net, SR net) ─▶ ops/ (fused CPU convolution)
//!                                    pipeline/tiling.rs (stitch into a band of the output's samples)
//!             pipeline/stream.rs ─▶ photo/encode/ (each band written as it is finished)
//!                                   ─▶ atomic.rs (temp file + rename)
//! ```
//!
//! `pipeline/mod.rs` runs decode, restore and encode on three threads, one file after another;
//! the encoder writes each output band by band while the model makes it, so no whole output is
//! held.
//! Weights come from `weights/` (bundled bytes, a file, the Hub through `weights/hub.rs`); which
//! model is [`ModelKind`] (`models/kind.rs`). Training (`train/`) makes (degraded, clean) pairs
//! from photos (`train/pairs.rs`) and trains the same networks; `app/eval/` measures them.
//! Nothing lower in this list imports anything higher: `app` → `pipeline`, `train` → `weights`,
//! `photo` → `models` → `ops`, `maths`.
//!
//! # Library use
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use aetool::photo::{EncodeSettings, OutputFormat};
//! use aetool::{load_companions, load_photo, load_weights, save_photo, ModelKind};
//! use aetool::{RestoreSettings, Restorer, Source, Target};
//! let device = candle_core::Device::Cpu;
//! let (source, kind) = (Source::Bundled, ModelKind::Denoise);
//! let weights = load_weights(&source, kind, &device)?;
//! // The bundled default denoiser sends JPEGs of low quality to its JPEG-artefact net, and
//! // photos told the level (`Sigma::Fixed`) to its Gaussian-noise net.
//! let told = false; // `RestoreSettings::default()` estimates the level
//! let companions = load_companions(&source, kind, &weights, told, &device)?;
//! let settings = RestoreSettings::default();
//! let restorer = Restorer::new(weights, device, settings).with_companions(companions);
//! let photo = load_photo("noisy.png".as_ref(), &Default::default())?;
//! let target = Target::File(OutputFormat::Png);
//! let (clean, _) = restorer.restore(&photo, target, &mut |_, _| {})?;
//! save_photo("clean.png".as_ref(), &clean, OutputFormat::Png, &EncodeSettings::default())?;
//! # Ok(())
//! # }
//! ```

mod app;
mod atomic;
mod interrupt;
mod json_path;
mod maths;
pub mod models;
#[cfg(feature = "bench")]
pub mod ops;
#[cfg(not(feature = "bench"))]
mod ops;
pub mod photo;
mod pipeline;
mod progress;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod train;
pub mod weights;

pub use app::run_cli;
pub use models::{ModelKind, ModelSpec};
pub use photo::{load as load_photo, save as save_photo, Photo};
pub use pipeline::restore::{RestoreSettings, Restorer, Sigma, Target, TileSize};
pub use weights::{load as load_weights, load_companions, Companions, Loaded, Source};
