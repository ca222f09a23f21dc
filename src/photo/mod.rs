//! Image files ↔ pixels. The only place images are decoded (`decode.rs`) and encoded
//! (`encode.rs`); `format.rs` lists the supported formats and their file extensions;
//! `metadata.rs` carries EXIF and XMP from the input to the outputs.
//!
//! [`load`] reads PNG, JPEG, WebP, TIFF and BMP (format detected from the content, never the file
//! name), refuses images over [`Limits`] from the header before decoding anything, applies the
//! EXIF orientation and returns a [`Photo`] ([`open`] returns an [`Input`] instead, which decodes
//! large PNG and TIFF files a window of rows at a time: `input.rs`, `stream_in/`): the decoded samples as they are stored (8 or 16 bits,
//! gray or RGB, with or without alpha; `raster.rs`), read and written as f32 RGB in `[0, 1]` a
//! row at a time, and what is needed to write the result back like the input ([`PhotoMeta`]:
//! gray, 16-bit, ICC profile, source format, EXIF and XMP).
//!
//! [`save`] writes a [`Photo`] atomically (via [`crate::atomic::write_with`]) in an
//! [`OutputFormat`], held as [`output_storage`] says (a photo held otherwise is converted
//! first); [`save_bands`] writes one that arrives in bands of rows ([`Band`], `band.rs`), as the
//! restore step makes its outputs, directly in that storage (PNG, JPEG, TIFF and BMP are written
//! as the bands come; WebP outputs are gathered, and refused by [`check_output`] when too large
//! for that; see `encode/mod.rs`):
//! - 16-bit photos stay 16-bit in PNG and TIFF; JPEG, WebP and BMP are written as 8-bit.
//! - Gray photos (`meta.gray`) are written as gray, the luma being the mean of the three channels
//!   (they were replicated on load, so this returns the original values; for a photo whose
//!   channels differ it is a plain average, not a perceptual luma). TIFF has no gray+alpha layout
//!   here, so a gray photo with alpha is written to TIFF as RGBA.
//! - Alpha is written everywhere except JPEG, which has no alpha: it is dropped (the colour
//!   values are kept as they are, not composited over a background).
//! - JPEG quality is 95; WebP is lossless (the only WebP encoder in `image`). PNG is compressed
//!   as [`EncodeSettings::png_compression`] says (fast by default); TIFF is uncompressed.
//! - The ICC profile is embedded in PNG, JPEG, TIFF and WebP when its colour space matches what
//!   is written (an RGB profile on RGB output, a gray profile on gray output); otherwise, and for
//!   BMP, the file is written without one.
//! - EXIF and XMP ([`Metadata`]: camera, lens, dates, GPS, copyright…) are written to JPEG, PNG,
//!   WebP and TIFF, with the orientation reset to 1 (the pixels were rotated on load, so the
//!   output is upright as stored and viewers do not rotate it a second time) and the pixel
//!   dimensions set to the output's; the EXIF thumbnail is dropped. See `metadata.rs`. BMP
//!   carries none. An empty [`PhotoMeta::metadata`] writes none.
//!
//! Error messages are one line and never contain the path: the caller adds it.

mod animation;
mod band;
mod decode;
mod encode;
mod format;
mod input;
mod jpeg_structure;
mod metadata;
mod raster;
mod stream_in;
#[cfg(test)]
mod tests;

pub use animation::animated;
pub use band::{Band, Bands, Header};
pub use decode::{load, open};
pub use encode::{
    check_output, output_storage, save, save_bands, EncodeSettings, PngCompression, JPEG_QUALITY,
};
pub use format::{OutputFormat, READ_FORMATS};
pub use input::{Input, Window};
pub use jpeg_structure::quality as jpeg_quality;
pub use metadata::Metadata;
pub use raster::{Depth, Layout, Raster, Samples, Storage};

use anyhow::{anyhow, bail, Result};
use image::ImageFormat;
use std::fmt;

/// Decoding limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted width × height, checked against the header before decoding.
    pub max_pixels: u64,
    /// Bytes of decoded samples above which [`open`] streams a PNG or TIFF input instead of
    /// decoding it whole (see `stream_in/`).
    pub stream_above: u64,
}

/// Default [`Limits::stream_above`]: 256 MiB, e.g. a 42 MP RGB16 or an 89 MP RGB8 photo.
/// Smaller photos are decoded whole (fast, read once), larger ones a window of rows at a time
/// (read once per pass), so no input takes more than this in memory except the formats whose
/// decoders take a whole image (JPEG, WebP, BMP: 8-bit, at most 600 MB at 150 MP).
pub const STREAM_ABOVE_BYTES: u64 = 256 << 20;

impl Default for Limits {
    /// 150 megapixels, inputs over [`STREAM_ABOVE_BYTES`] streamed.
    fn default() -> Self {
        Limits {
            max_pixels: 150_000_000,
            stream_above: STREAM_ABOVE_BYTES,
        }
    }
}

impl Limits {
    /// Cap on the decoder's allocations, in bytes: the decoded buffer of the largest accepted
    /// photo in the widest layout we decode to at 16 bits (RGBA16, 8 bytes a pixel), plus 64 MiB
    /// for the decoder's own buffers. Float TIFFs (up to 16 bytes a pixel) are therefore only
    /// accepted up to half of `max_pixels`.
    pub fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(64 << 20)
    }

    /// Largest decoded size, in bytes, of a restore input that has to be decoded whole (JPEG,
    /// WebP, BMP, and the PNG and TIFF layouts `stream_in/` cannot read a band at a time:
    /// interlaced, tiled, planar, float, or to be rotated): 4 bytes per pixel of `max_pixels`,
    /// 600 MB at the default 150 MP. Every 8-bit photo up to the pixel limit fits (RGBA takes 4
    /// bytes a pixel) and a run on it stays near or under 1 GB; a larger 16-bit or float photo is refused
    /// by [`open`] with the ways out, one of which is raising `--max-megapixels` (and this).
    pub fn max_whole_bytes(&self) -> u64 {
        self.max_pixels.saturating_mul(4)
    }

    /// Limits while a PNG's header is read. The `png` crate's own allocations are a row buffer
    /// and the metadata chunks, and with the whole image budget a compressed ICC profile of a
    /// few hundred KB inflates to a gigabyte: 64 MiB is plenty for any real profile (a larger
    /// one is dropped, as the crate drops unreadable profiles). The pixels are bounded by
    /// [`Limits::image_limits`], set once the header is read.
    pub fn png_header_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(self.max_alloc().min(64 << 20));
        limits
    }

    /// The `image` crate limits enforcing [`Limits::max_alloc`].
    pub fn image_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(self.max_alloc());
        limits
    }
}

/// What is needed to write a processed photo back like its source.
#[derive(Clone, PartialEq, Eq)]
pub struct PhotoMeta {
    /// Written as gray: the source was grayscale (with or without alpha); colorize clears it.
    pub gray: bool,
    /// Written with 16 bits where the format can: the source had more than 8 bits per sample
    /// (16-bit, or float TIFF).
    pub sixteen_bit: bool,
    /// Embedded ICC profile, as stored in the source.
    pub icc: Option<Vec<u8>>,
    /// Source format, detected from the content.
    pub format: ImageFormat,
    /// JPEG sources: the IJG quality (1–100) their luma quantisation table matches (see
    /// `jpeg_structure.rs`); the blind denoiser scales its level by it. `None` for others.
    pub jpeg_quality: Option<u8>,
    /// EXIF and XMP as read from the source (written back, adjusted, by [`save`]).
    pub metadata: Metadata,
}

impl fmt::Debug for PhotoMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhotoMeta")
            .field("gray", &self.gray)
            .field("sixteen_bit", &self.sixteen_bit)
            .field("icc_bytes", &self.icc.as_ref().map(Vec::len))
            .field("format", &self.format)
            .field("jpeg_quality", &self.jpeg_quality)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// A decoded photo, or a restored one being assembled.
#[derive(Clone, PartialEq)]
pub struct Photo {
    pub width: usize,
    pub height: usize,
    /// The samples in their storage type and layout (see `raster.rs` for the f32 access).
    pub raster: Raster,
    pub meta: PhotoMeta,
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("storage", &self.storage())
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Photo {
    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// Checks that the samples match the dimensions.
    fn check(&self) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            bail!("photo is empty ({}×{})", self.width, self.height);
        }
        let n = self
            .expected_samples()
            .ok_or_else(|| anyhow!("photo size {}×{} overflows", self.width, self.height))?;
        if self.sample_count() != n {
            bail!(
                "photo is {}×{} but has {} samples instead of {n}",
                self.width,
                self.height,
                self.sample_count()
            );
        }
        Ok(())
    }
}

/// `v` clamped to `[0, 1]`, NaN → 0.
pub(crate) fn clamp01(v: f32) -> f32 {
    if v >= 0.0 {
        v.min(1.0)
    } else {
        0.0
    }
}

/// Joins a multi-line library message into one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
