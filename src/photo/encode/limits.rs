//! Outputs refused before any work: those a format cannot hold, and WebP outputs too large to
//! encode within the memory goal (issue 13 item 8: at most 1 GB for any accepted photo and task).
//!
//! **WebP is held whole.** Every other format is written band by band as the model makes the
//! rows, but the WebP encoder (`image-webp`, the only one `image` has) takes the whole image: the
//! bands are gathered (the output's samples, 1–4 bytes a pixel), the encoder expands them to RGBA
//! (4 bytes a pixel) and builds the whole compressed frame in memory before writing it (up to
//! about 4 bytes a pixel for a noisy photo). A WebP output is therefore refused, with a line
//! naming the file and the formats to use instead, when that estimate — [`WEBP_BYTES_PER_PIXEL`]
//! plus the samples — is over [`WEBP_BUDGET_BYTES`], which leaves the rest of the 1 GB goal to
//! the input, the tiles and the weights. That is about 44–59 megapixels of output (RGBA–gray; 49
//! for RGB): denoise and colorize of photos up to that size, `upscale -x2` up to ~12 MP and
//! `-x4` up to ~3 MP still write WebP; larger ones should go to PNG (lossless, like aetool's
//! WebP), JPEG or TIFF. Refusing was chosen
//! over writing it anyway (memory unbounded by the tiles) and over a second, streaming WebP
//! encoder (none maintained in Rust; the lossless format's entropy codes are chosen per image).

use super::OutputFormat;
use crate::photo::Header;
use anyhow::{anyhow, bail, Result};

/// Largest WebP side (the format stores sides in 14 bits).
pub const WEBP_MAX_SIDE: usize = 16383;

/// Bytes a pixel the WebP encoder holds besides the gathered samples: the RGBA copy (4) and the
/// compressed frame (up to ~4).
pub const WEBP_BYTES_PER_PIXEL: u64 = 8;

/// Most memory a WebP output may take to encode (samples + [`WEBP_BYTES_PER_PIXEL`]).
pub const WEBP_BUDGET_BYTES: u64 = 512 << 20;

/// Checks, before any work, that the photo `header` describes can be written as `format`
/// (WebP: its side limit and memory budget; BMP: its 4 GB size); the error says what to do.
pub fn check_output(header: &Header, format: OutputFormat) -> Result<()> {
    let (w, h) = (header.width, header.height);
    let pixels = w as u64 * h as u64;
    let samples = pixels * header.storage.bytes_per_pixel() as u64;
    let instead = "write it as PNG, JPEG or TIFF instead (--format png|jpg|tiff), \
                   which are written band by band";
    match format {
        OutputFormat::Webp if w.max(h) > WEBP_MAX_SIDE => {
            bail!("a {w}×{h} output is over WebP's {WEBP_MAX_SIDE}-pixel side: {instead}")
        }
        OutputFormat::Webp if samples + pixels * WEBP_BYTES_PER_PIXEL > WEBP_BUDGET_BYTES => {
            let need = samples + pixels * WEBP_BYTES_PER_PIXEL;
            bail!(
                "a {w}×{h} WebP would need about {} MB in memory (its encoder takes the whole \
                 image), over the {} MB allowed for it: {instead}",
                need / 1_000_000,
                WEBP_BUDGET_BYTES / 1_000_000
            )
        }
        OutputFormat::Bmp => {
            super::bmp::check(w, h, header.storage).map_err(|e| anyhow!("a {e}: {instead}"))
        }
        _ => Ok(()),
    }
}
