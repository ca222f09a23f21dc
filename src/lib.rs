//! aetool: photo restoration (denoise, upscale, colorize) with small convolutional
//! autoencoders on candle, CPU first.
//!
//! Data path: [`walk`] (inputs → jobs) → [`io`] (decode) → [`tiling`] → [`models`] →
//! [`tiling`] (stitch) → [`io`] (encode) → [`atomic`] write. [`train`] makes self-supervised
//! pairs from clean photos and trains the same models.

pub mod atomic;
pub mod color;
pub mod hub;
pub mod io;
pub mod models;
pub mod ops;
pub mod weights;
