//! aetool: photo restoration (denoise, upscale, colorize) with small convolutional
//! autoencoders on candle, CPU first.
//!
//! Data path: [`walk`] (inputs → jobs) → [`io`] (decode) → [`tiling`] → [`models`] →
//! [`tiling`] (stitch) → [`io`] (encode) → [`atomic`] write. [`train`] makes self-supervised
//! pairs from clean photos and trains the same models.

pub mod app;
pub mod atomic;
pub mod cli;
pub mod color;
pub mod config;
pub mod eval;
pub mod hub;
pub mod info;
pub mod interrupt;
pub mod io;
pub mod metrics;
pub mod models;
pub mod noise;
pub mod ops;
pub mod pipeline;
pub mod progress;
pub mod restore;
pub mod stdout;
pub mod tasks;
#[cfg(test)]
mod test_util;
pub mod tiling;
pub mod train;
pub mod walk;
pub mod weights;
