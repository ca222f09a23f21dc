//! JPEG at IJG quality 1–100 with 4:2:0 chroma, single or on a shifted grid (double JPEG).

use image::error::{EncodingError as ImageEncodingError, ImageFormatHint};
use image::imageops;
use image::{ImageError, ImageFormat, ImageResult, Rgb32FImage};
use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// JPEG round trip at `quality` (IJG scale 1–100, Annex K tables scaled like libjpeg / Pillow),
/// 4:2:0 chroma subsampling (box-averaged like libjpeg), baseline, decoded by `image`.
/// Output: same size, values on the 8-bit grid. Fails only for sides over 65535 px (or an empty
/// image).
pub(crate) fn jpeg(img: &Rgb32FImage, quality: u8) -> ImageResult<Rgb32FImage> {
    jpeg_decode(&jpeg_file(img, quality)?)
}

/// The pixels of a JPEG file made by [`jpeg_file`], as [`jpeg`] returns them.
pub(crate) fn jpeg_decode(file: &[u8]) -> ImageResult<Rgb32FImage> {
    Ok(image::load_from_memory_with_format(file, ImageFormat::Jpeg)?.into_rgb32f())
}

/// The JPEG file [`jpeg`] decodes.
pub(crate) fn jpeg_file(img: &Rgb32FImage, quality: u8) -> ImageResult<Vec<u8>> {
    let (w, h) = img.dimensions();
    let too_big = || {
        ImageError::Parameter(image::error::ParameterError::from_kind(
            image::error::ParameterErrorKind::DimensionMismatch,
        ))
    };
    let w16 = u16::try_from(w).map_err(|_| too_big())?;
    let h16 = u16::try_from(h).map_err(|_| too_big())?;
    if w16 == 0 || h16 == 0 {
        return Err(too_big());
    }
    let bytes: Vec<u8> = img.iter().map(|&v| to_u8(v)).collect();
    let mut buf: Vec<u8> = Vec::with_capacity(bytes.len() / 4 + 1024);
    let mut enc = Encoder::new(&mut buf, quality.clamp(1, 100));
    enc.set_sampling_factor(SamplingFactor::R_4_2_0);
    enc.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    enc.encode(&bytes, w16, h16, ColorType::Rgb).map_err(|e| {
        ImageError::Encoding(ImageEncodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            e,
        ))
    })?;
    Ok(buf)
}

/// JPEG round trip on an 8×8 grid shifted by `(dx, dy)` (0–7) relative to the image: the image
/// is padded by `dx` columns on the left and `dy` rows on top (edge replication), compressed, and
/// cropped back, so the output keeps the input's size and alignment.
pub(crate) fn jpeg_shifted(
    img: &Rgb32FImage,
    quality: u8,
    dx: u32,
    dy: u32,
) -> ImageResult<Rgb32FImage> {
    if dx == 0 && dy == 0 {
        return jpeg(img, quality);
    }
    let (w, h) = img.dimensions();
    let padded = Rgb32FImage::from_fn(w + dx, h + dy, |x, y| {
        *img.get_pixel(x.saturating_sub(dx), y.saturating_sub(dy))
    });
    let out = jpeg(&padded, quality)?;
    Ok(imageops::crop_imm(&out, dx, dy, w, h).to_image())
}

/// FBCNN-style double JPEG: aligned compression at `q1`, then a second one at `q2` on a grid
/// shifted by `(dx, dy)` (0–7). Same size and alignment as the input.
pub(crate) fn double_jpeg(
    img: &Rgb32FImage,
    q1: u8,
    q2: u8,
    dx: u32,
    dy: u32,
) -> ImageResult<Rgb32FImage> {
    jpeg_shifted(&jpeg(img, q1)?, q2, dx, dy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::degrade::rms_255;
    use crate::train::degrade::test_util::*;
    use image::Rgb;

    fn blockiness(img: &Rgb32FImage) -> f32 {
        // Mean |horizontal step| across 8-pixel block boundaries minus inside blocks.
        let (w, h) = (img.width() as usize, img.height() as usize);
        let g: Vec<f32> = img.chunks_exact(3).map(|p| p[1] * 255.0).collect();
        let (mut edge, mut ne, mut inner, mut ni) = (0.0, 0, 0.0, 0);
        for y in 0..h {
            for x in 0..w - 1 {
                let d = (g[y * w + x + 1] - g[y * w + x]).abs();
                if x % 8 == 7 {
                    edge += d;
                    ne += 1;
                } else {
                    inner += d;
                    ni += 1;
                }
            }
        }
        edge / ne as f32 - inner / ni as f32
    }

    #[test]
    fn jpeg_q10_blocks_more_than_q95_and_keeps_size() {
        let img = Rgb32FImage::from_fn(64, 64, |x, y| {
            let t = (x + y) as f32 / 126.0;
            Rgb([0.1 + 0.8 * t, 0.2 + 0.5 * t, 0.9 - 0.7 * t])
        });
        let lo = jpeg(&img, 10).expect("encode q10");
        let hi = jpeg(&img, 95).expect("encode q95");
        assert_eq!(lo.dimensions(), (64, 64));
        let (b_lo, b_hi) = (blockiness(&lo), blockiness(&hi));
        let (e_lo, e_hi) = (rms_255(&lo, &img), rms_255(&hi, &img));
        assert!(b_lo > b_hi + 0.3, "blockiness q10 {b_lo}, q95 {b_hi}");
        assert!(e_lo > 2.0 * e_hi, "error q10 {e_lo}, q95 {e_hi}");
        assert!(e_hi < 1.5, "q95 error {e_hi}");
        assert!(on_8bit_grid(&lo));
        for (w, h) in [(61, 53), (1, 1), (17, 8)] {
            let out = jpeg(&scene(w, h), 50).expect("encode");
            assert_eq!(out.dimensions(), (w, h));
        }
    }

    #[test]
    fn double_jpeg_keeps_size_and_alignment() {
        let img = scene(61, 45);
        for (dx, dy) in [(0, 0), (3, 5), (7, 1)] {
            let out = double_jpeg(&img, 90, 90, dx, dy).expect("encode");
            assert_eq!(out.dimensions(), img.dimensions());
            let aligned = rms_255(&out, &img);
            // The same comparison one pixel off is much worse: content was not shifted.
            let shifted = Rgb32FImage::from_fn(61, 45, |x, y| *out.get_pixel((x + 1).min(60), y));
            let off = rms_255(&shifted, &img);
            assert!(aligned < 2.5, "({dx},{dy}) rms {aligned}");
            assert!(
                off > aligned * 1.5,
                "({dx},{dy}) aligned {aligned} vs off {off}"
            );
        }
        // The shifted grid puts block edges elsewhere: a flat-ish crop's error pattern differs.
        let a = jpeg_shifted(&img, 20, 0, 0).expect("encode");
        let b = jpeg_shifted(&img, 20, 4, 4).expect("encode");
        assert!(rms_255(&a, &b) > 0.5);
    }
}
