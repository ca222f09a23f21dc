//! [`Photo`] → image file, written atomically: samples in the format's storage
//! ([`output_storage`]: 8 or 16 bits, gray kept, alpha), ICC profile, EXIF and XMP where the
//! format carries them.
//!
//! The encoders take the photo in bands of rows ([`save_bands`]; [`save`] hands a whole photo
//! over as one band): PNG (`png.rs`), JPEG (`jpeg.rs`), TIFF (`tiff.rs`) and BMP (`bmp.rs`)
//! write each band as it comes, so a photo restored band by band is never held whole; the WebP
//! encoder takes a whole image, so for it the bands are gathered first, and WebP outputs too
//! large for that are refused up front ([`check_output`], `limits.rs`). The bytes written do not
//! depend on how the rows are banded.

mod bmp;
mod jpeg;
mod limits;
mod png;
mod rows;
#[cfg(test)]
mod tests;
mod tiff;

use super::band::{Bands, Header, Whole};
use super::metadata::{self, Metadata};
use super::{one_line, Depth, Layout, OutputFormat, Photo, PhotoMeta, Storage};
use anyhow::{anyhow, bail, Result};
use image::ExtendedColorType;
pub use limits::check_output;
use rows::Rows;
use std::borrow::Cow;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

/// JPEG output quality.
pub const JPEG_QUALITY: u8 = 95;

/// How hard PNG output is compressed (lossless: every setting decodes to the same pixels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PngCompression {
    /// `fdeflate`'s PNG-tuned deflate with adaptive filters: several times faster to write than
    /// [`PngCompression::Default`], files somewhat larger (figures in docs/performance.md).
    #[default]
    Fast,
    /// zlib level 6 with adaptive filters (what aetool 0.1 wrote).
    Default,
    /// zlib level 9 with adaptive filters: the smallest files, the slowest to write.
    Best,
}

/// Encoder settings that apply to every output of a run (validated from the flags by
/// `app/config.rs`). TIFF is always written uncompressed, the fastest setting it has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeSettings {
    pub png_compression: PngCompression,
}

/// Encodes `photo` as `format` with `settings` and writes it to `dest` atomically. See the
/// module docs for what each format keeps.
pub fn save(
    dest: &Path,
    photo: &Photo,
    format: OutputFormat,
    settings: &EncodeSettings,
) -> Result<()> {
    photo.check()?;
    let storage = output_storage(&photo.meta, photo.has_alpha(), format);
    let photo = if photo.storage() == storage {
        Cow::Borrowed(photo)
    } else {
        Cow::Owned(photo.converted(storage)?)
    };
    save_bands(
        dest,
        &Header::of(&photo),
        format,
        settings,
        &mut Whole::new(&photo),
    )
}

/// Encodes the photo `header` describes, its rows coming from `bands` top to bottom, as
/// `format` with `settings`, and writes it to `dest` atomically: nothing is left at `dest` if
/// the bands stop short or do not fit the header, and nothing is written when [`check_output`]
/// refuses it. `header.storage` must be the format's [`output_storage`].
pub fn save_bands(
    dest: &Path,
    header: &Header,
    format: OutputFormat,
    settings: &EncodeSettings,
    bands: &mut dyn Bands,
) -> Result<()> {
    let too_big = || anyhow!("{}×{} is too large to encode", header.width, header.height);
    let width = u32::try_from(header.width).map_err(|_| too_big())?;
    let height = u32::try_from(header.height).map_err(|_| too_big())?;
    if header.width == 0 || header.height == 0 {
        bail!("photo is empty ({width}×{height})");
    }
    let storage = output_storage(&header.meta, header.storage.layout.alpha, format);
    if header.storage != storage {
        bail!(
            "{format} is written from {storage:?} samples, not {:?}",
            header.storage
        );
    }
    check_output(header, format)?;
    let gray = storage.layout.gray;
    let icc = header
        .meta
        .icc
        .as_deref()
        .filter(|p| icc_colour_space(p) == Some(if gray { *b"GRAY" } else { *b"RGB " }));
    let meta = if format == OutputFormat::Bmp {
        Metadata::default()
    } else {
        metadata::for_output(&header.meta.metadata, width, height)
    };
    let extras = Extras {
        icc,
        exif: meta.exif.as_deref(),
        xmp: meta.xmp.as_deref(),
    };
    crate::atomic::write_with(dest, |file| {
        let mut out = BufWriter::new(file);
        let mut rows = Rows::new(header, bands);
        encode(
            &mut out,
            format,
            &mut rows,
            (width, height),
            extras,
            settings,
        )
        .map_err(|e| anyhow!("cannot encode {format}: {}", one_line(&e.to_string())))?;
        out.flush().map_err(|e| anyhow!("write failed: {e}"))?;
        Ok(())
    })
}

/// How a photo with `meta` (and alpha, if `alpha`) is held when written as `format`: 16-bit
/// where the source was and the format can, else 8-bit; gray if the source was (except gray
/// with alpha in TIFF, written as RGBA); alpha unless the format has none (JPEG).
pub fn output_storage(meta: &PhotoMeta, alpha: bool, format: OutputFormat) -> Storage {
    let alpha = alpha && format.supports_alpha();
    Storage {
        layout: Layout {
            gray: meta.gray && !(format == OutputFormat::Tiff && alpha),
            alpha,
        },
        depth: if meta.sixteen_bit && format.supports_16bit() {
            Depth::U16
        } else {
            Depth::U8
        },
    }
}

/// Colour space signature of an ICC profile (bytes 16..20 of the header: `RGB `, `GRAY`, `CMYK`…).
pub(super) fn icc_colour_space(profile: &[u8]) -> Option<[u8; 4]> {
    profile.get(16..20).map(|s| [s[0], s[1], s[2], s[3]])
}

/// The encoder's colour type of an 8- or 16-bit storage.
fn color_type(storage: Storage) -> ExtendedColorType {
    use ExtendedColorType as E;
    let Layout { gray, alpha } = storage.layout;
    match (gray, alpha, storage.depth == Depth::U16) {
        (true, false, false) => E::L8,
        (true, true, false) => E::La8,
        (false, false, false) => E::Rgb8,
        (false, true, false) => E::Rgba8,
        (true, false, true) => E::L16,
        (true, true, true) => E::La16,
        (false, false, true) => E::Rgb16,
        (false, true, true) => E::Rgba16,
    }
}

/// What is written with the pixels, where the format carries it.
#[derive(Clone, Copy)]
struct Extras<'a> {
    icc: Option<&'a [u8]>,
    exif: Option<&'a [u8]>,
    xmp: Option<&'a [u8]>,
}

fn encode<W: Write + Seek>(
    out: W,
    format: OutputFormat,
    rows: &mut Rows<'_>,
    size: (u32, u32),
    extras: Extras<'_>,
    settings: &EncodeSettings,
) -> Result<()> {
    let (width, height) = size;
    let color = color_type(rows.storage());
    match format {
        OutputFormat::Png => png::encode_png(out, rows, size, extras, settings.png_compression),
        OutputFormat::Jpeg => jpeg::encode_jpeg(out, rows, size, extras),
        OutputFormat::Tiff => tiff::encode_tiff(out, rows, size, extras),
        OutputFormat::Webp => {
            use image_webp::ColorType as C;
            let color = match color {
                ExtendedColorType::L8 => C::L8,
                ExtendedColorType::La8 => C::La8,
                ExtendedColorType::Rgb8 => C::Rgb8,
                ExtendedColorType::Rgba8 => C::Rgba8,
                other => bail!("WebP has no {other:?} layout"),
            };
            let mut encoder = image_webp::WebPEncoder::new(out);
            if let Some(profile) = extras.icc {
                encoder.set_icc_profile(profile.to_vec());
            }
            if let Some(exif) = extras.exif {
                encoder.set_exif_metadata(exif.to_vec());
            }
            if let Some(xmp) = extras.xmp {
                encoder.set_xmp_metadata(xmp.to_vec());
            }
            encoder.encode(&rows.rest::<u8>()?, width, height, color)?;
            Ok(())
        }
        OutputFormat::Bmp => bmp::encode_bmp(out, rows, size),
    }
}
