//! [`Photo`] → image file, written atomically: samples quantised to 8 or 16 bits, gray kept,
//! alpha and ICC profile where the format carries them.

use super::{clamp01, one_line, OutputFormat, Photo};
use anyhow::{anyhow, Result};
use image::codecs::{
    bmp::BmpEncoder,
    jpeg::JpegEncoder,
    png::{CompressionType, FilterType, PngEncoder},
    tiff::TiffEncoder,
    webp::WebPEncoder,
};
use image::{ExtendedColorType, ImageEncoder};
use rayon::prelude::*;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

/// JPEG output quality.
pub const JPEG_QUALITY: u8 = 95;

/// Encodes `photo` as `format` and writes it to `dest` atomically. See the module docs for what
/// each format keeps.
pub fn save(dest: &Path, photo: &Photo, format: OutputFormat) -> Result<()> {
    photo.check()?;
    let too_big = || anyhow!("{}×{} is too large to encode", photo.width, photo.height);
    let width = u32::try_from(photo.width).map_err(|_| too_big())?;
    let height = u32::try_from(photo.height).map_err(|_| too_big())?;

    let alpha = photo.alpha.as_deref().filter(|_| format.supports_alpha());
    let sixteen = photo.meta.sixteen_bit && format.supports_16bit();
    let gray = photo.meta.gray && !(format == OutputFormat::Tiff && alpha.is_some());
    let (buf, color) = pack(photo, gray, alpha, sixteen);
    let icc = photo
        .meta
        .icc
        .as_deref()
        .filter(|p| icc_colour_space(p) == Some(if gray { *b"GRAY" } else { *b"RGB " }));

    crate::atomic::write_with(dest, |file| {
        let mut out = BufWriter::new(file);
        encode(&mut out, format, &buf, width, height, color, icc)
            .map_err(|e| anyhow!("cannot encode {format}: {}", one_line(&e.to_string())))?;
        out.flush().map_err(|e| anyhow!("write failed: {e}"))?;
        Ok(())
    })
}

/// Colour space signature of an ICC profile (bytes 16..20 of the header: `RGB `, `GRAY`, `CMYK`…).
pub(super) fn icc_colour_space(profile: &[u8]) -> Option<[u8; 4]> {
    profile.get(16..20).map(|s| [s[0], s[1], s[2], s[3]])
}

/// Quantises the photo into the byte layout `ImageEncoder::write_image` expects (16-bit samples
/// in native byte order).
fn pack(
    photo: &Photo,
    gray: bool,
    alpha: Option<&[f32]>,
    sixteen: bool,
) -> (Vec<u8>, ExtendedColorType) {
    let channels = if gray { 1 } else { 3 } + usize::from(alpha.is_some());
    let bytes = if sixteen { 2 } else { 1 };
    let row_len = photo.width * channels * bytes;
    let mut buf = vec![0u8; row_len * photo.height];
    buf.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(y, row)| {
            let mut out = row.iter_mut();
            let mut put = |v: f32| {
                let v = clamp01(v);
                if sixteen {
                    for b in ((v * 65535.0).round() as u16).to_ne_bytes() {
                        *out.next().unwrap() = b;
                    }
                } else {
                    *out.next().unwrap() = (v * 255.0).round() as u8;
                }
            };
            for x in 0..photo.width {
                let i = y * photo.width + x;
                let px = &photo.rgb[3 * i..3 * i + 3];
                if gray {
                    put((px[0] + px[1] + px[2]) / 3.0);
                } else {
                    px.iter().for_each(|&v| put(v));
                }
                if let Some(a) = alpha {
                    put(a[i]);
                }
            }
        });
    use ExtendedColorType as E;
    let color = match (gray, alpha.is_some(), sixteen) {
        (true, false, false) => E::L8,
        (true, true, false) => E::La8,
        (false, false, false) => E::Rgb8,
        (false, true, false) => E::Rgba8,
        (true, false, true) => E::L16,
        (true, true, true) => E::La16,
        (false, false, true) => E::Rgb16,
        (false, true, true) => E::Rgba16,
    };
    (buf, color)
}

fn encode<W: Write + Seek>(
    mut out: W,
    format: OutputFormat,
    buf: &[u8],
    width: u32,
    height: u32,
    color: ExtendedColorType,
    icc: Option<&[u8]>,
) -> image::ImageResult<()> {
    fn finish(
        mut encoder: impl ImageEncoder,
        buf: &[u8],
        width: u32,
        height: u32,
        color: ExtendedColorType,
        icc: Option<&[u8]>,
    ) -> image::ImageResult<()> {
        if let Some(profile) = icc {
            // Unsupported by this encoder: written without a profile.
            let _ = encoder.set_icc_profile(profile.to_vec());
        }
        encoder.write_image(buf, width, height, color)
    }
    match format {
        OutputFormat::Png => finish(
            PngEncoder::new_with_quality(out, CompressionType::Default, FilterType::Adaptive),
            buf,
            width,
            height,
            color,
            icc,
        ),
        OutputFormat::Jpeg => finish(
            JpegEncoder::new_with_quality(out, JPEG_QUALITY),
            buf,
            width,
            height,
            color,
            icc,
        ),
        OutputFormat::Webp => finish(
            WebPEncoder::new_lossless(out),
            buf,
            width,
            height,
            color,
            icc,
        ),
        OutputFormat::Tiff => finish(TiffEncoder::new(out), buf, width, height, color, icc),
        OutputFormat::Bmp => finish(BmpEncoder::new(&mut out), buf, width, height, color, icc),
    }
}
