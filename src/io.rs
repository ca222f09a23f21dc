//! Image files ↔ f32 pixels. The only place images are decoded and encoded.
//!
//! [`load`] reads PNG, JPEG, WebP, TIFF and BMP (format detected from the content, never the file
//! name), refuses images over [`Limits`] from the header before decoding anything, applies the
//! EXIF orientation and returns a [`Photo`]: interleaved RGB f32 in `[0, 1]` (gray replicated to
//! three channels), an optional alpha plane, and what is needed to write the result back like the
//! input ([`PhotoMeta`]: gray, 16-bit, ICC profile, source format).
//!
//! [`save`] writes a [`Photo`] atomically (via [`crate::atomic::write_with`]) in an
//! [`OutputFormat`]:
//! - 16-bit photos stay 16-bit in PNG and TIFF; JPEG, WebP and BMP are written as 8-bit.
//! - Gray photos (`meta.gray`) are written as gray, the luma being the mean of the three channels
//!   (they were replicated on load, so this returns the original values; for a photo whose
//!   channels differ it is a plain average, not a perceptual luma). TIFF has no gray+alpha layout
//!   here, so a gray photo with alpha is written to TIFF as RGBA.
//! - Alpha is written everywhere except JPEG, which has no alpha: it is dropped (the colour
//!   values are kept as they are, not composited over a background).
//! - JPEG quality is 95; WebP is lossless (the only WebP encoder in `image`).
//! - The ICC profile is embedded in PNG, JPEG, TIFF and WebP when its colour space matches what
//!   is written (an RGB profile on RGB output, a gray profile on gray output); otherwise, and for
//!   BMP, the file is written without one.
//! - No EXIF is written: the orientation was applied to the pixels on load, so the output is
//!   upright as stored and viewers do not rotate it a second time.
//!
//! Error messages are one line and never contain the path: the caller adds it.

use anyhow::{anyhow, bail, Result};
use image::codecs::{
    bmp::BmpEncoder,
    jpeg::JpegEncoder,
    png::{CompressionType, FilterType, PngEncoder},
    tiff::{TiffDecoder, TiffEncoder},
    webp::WebPEncoder,
};
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat,
    ImageReader,
};
use rayon::prelude::*;
use std::fmt;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::Path;

/// JPEG output quality.
pub const JPEG_QUALITY: u8 = 95;

/// Output encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Png,
    Jpeg,
    Webp,
    Tiff,
    Bmp,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Png,
        OutputFormat::Jpeg,
        OutputFormat::Webp,
        OutputFormat::Tiff,
        OutputFormat::Bmp,
    ];

    /// Format for a file extension (case-insensitive, without the dot): `png`, `jpg`/`jpeg`/`jpe`,
    /// `webp`, `tif`/`tiff`, `bmp`. `None` for anything else.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(Self::Png),
            "jpg" | "jpeg" | "jpe" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            "tif" | "tiff" => Some(Self::Tiff),
            "bmp" => Some(Self::Bmp),
            _ => None,
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Tiff => "tif",
            Self::Bmp => "bmp",
        }
    }

    /// The same format as the input where we can encode it, else PNG.
    pub fn for_input(format: ImageFormat) -> Self {
        match format {
            ImageFormat::Png => Self::Png,
            ImageFormat::Jpeg => Self::Jpeg,
            ImageFormat::WebP => Self::Webp,
            ImageFormat::Tiff => Self::Tiff,
            ImageFormat::Bmp => Self::Bmp,
            _ => Self::Png,
        }
    }

    /// The corresponding `image` crate format.
    pub fn image_format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Webp => ImageFormat::WebP,
            Self::Tiff => ImageFormat::Tiff,
            Self::Bmp => ImageFormat::Bmp,
        }
    }

    /// Whether 16-bit samples are written as such (otherwise they are rounded to 8 bits).
    pub fn supports_16bit(self) -> bool {
        matches!(self, Self::Png | Self::Tiff)
    }

    /// Whether alpha is written (JPEG drops it).
    pub fn supports_alpha(self) -> bool {
        !matches!(self, Self::Jpeg)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(format_name(self.image_format()))
    }
}

/// Decoding limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted width × height, checked against the header before decoding.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 150 megapixels.
    fn default() -> Self {
        Limits {
            max_pixels: 150_000_000,
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
    /// The source was grayscale (with or without alpha); its RGB channels are equal.
    pub gray: bool,
    /// The source had more than 8 bits per sample (16-bit, or float TIFF).
    pub sixteen_bit: bool,
    /// Embedded ICC profile, as stored in the source.
    pub icc: Option<Vec<u8>>,
    /// Source format, detected from the content.
    pub format: ImageFormat,
}

impl fmt::Debug for PhotoMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhotoMeta")
            .field("gray", &self.gray)
            .field("sixteen_bit", &self.sixteen_bit)
            .field("icc_bytes", &self.icc.as_ref().map(Vec::len))
            .field("format", &self.format)
            .finish()
    }
}

/// A decoded photo.
#[derive(Clone, PartialEq)]
pub struct Photo {
    pub width: usize,
    pub height: usize,
    /// Interleaved HWC, 3 channels, in `[0, 1]` (gray sources replicated).
    pub rgb: Vec<f32>,
    /// HW plane in `[0, 1]`, if the source had alpha.
    pub alpha: Option<Vec<f32>>,
    pub meta: PhotoMeta,
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("alpha", &self.alpha.is_some())
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Photo {
    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// Checks that the buffers match the dimensions.
    fn check(&self) -> Result<()> {
        let n = self
            .width
            .checked_mul(self.height)
            .ok_or_else(|| anyhow!("photo size {}×{} overflows", self.width, self.height))?;
        if self.width == 0 || self.height == 0 {
            bail!("photo is empty ({}×{})", self.width, self.height);
        }
        if self.rgb.len() != n * 3 {
            bail!(
                "photo is {}×{} but has {} RGB values instead of {}",
                self.width,
                self.height,
                self.rgb.len(),
                n * 3
            );
        }
        if let Some(a) = &self.alpha {
            if a.len() != n {
                bail!(
                    "photo is {}×{} but has {} alpha values instead of {n}",
                    self.width,
                    self.height,
                    a.len()
                );
            }
        }
        Ok(())
    }
}

/// Reads and decodes an image file. See the module docs.
pub fn load(path: &Path, limits: &Limits) -> Result<Photo> {
    let file = std::fs::File::open(path).map_err(|e| anyhow!("cannot open: {e}"))?;
    let info = file.metadata().map_err(|e| anyhow!("cannot open: {e}"))?;
    if info.is_dir() {
        bail!("is a folder, not an image");
    }
    if info.len() == 0 {
        bail!("empty file");
    }
    let mut reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| anyhow!("read error: {e}"))?;
    let format = reader
        .format()
        .ok_or_else(|| anyhow!("not an image (unrecognised content)"))?;
    if OutputFormat::for_input(format).image_format() != format {
        bail!(
            "{} images are not supported (only PNG, JPEG, WebP, TIFF and BMP)",
            format_name(format)
        );
    }
    let mut decoder: Box<dyn ImageDecoder> = if format == ImageFormat::Tiff {
        // image 0.25 caps TIFF tag values by the size of the decoded image once limits are set,
        // which loses the ICC profile of small images: limits are applied after reading it.
        Box::new(
            TiffDecoder::new(reader.into_inner()).map_err(|e| decode_error(e, format, limits))?,
        )
    } else {
        reader.limits(limits.image_limits());
        Box::new(
            reader
                .into_decoder()
                .map_err(|e| decode_error(e, format, limits))?,
        )
    };

    let (w, h) = decoder.dimensions();
    check_size(w, h, limits)?;
    let need = decoder.total_bytes();
    if need > limits.max_alloc() {
        bail!(
            "image needs {} MB to decode, over the {} MB limit",
            need.div_ceil(1 << 20),
            limits.max_alloc() >> 20
        );
    }

    // Metadata problems are not worth refusing a photo for: no profile, no rotation.
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|p| !p.is_empty());
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    decoder
        .set_limits(limits.image_limits())
        .map_err(|e| decode_error(e, format, limits))?;
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, format, limits))?;
    img.apply_orientation(orientation);
    Ok(photo_from_image(img, icc, format))
}

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

/// Short name for messages: "PNG", "JPEG", "WebP", …
fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Farbfeld => "Farbfeld",
        _ => "this kind of",
    }
}

/// Megapixels for messages: "1600", "0.001".
fn megapixels(pixels: u64) -> String {
    let s = format!("{:.3}", pixels as f64 / 1e6);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn check_size(w: u32, h: u32, limits: &Limits) -> Result<()> {
    if w == 0 || h == 0 {
        bail!("image has no pixels ({w}×{h})");
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        bail!(
            "image is {w}×{h} ({} MP), over the {} MP limit (a decompression bomb?)",
            megapixels(pixels),
            megapixels(limits.max_pixels)
        );
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Turns a decoder error into a short message naming the format and the cause.
fn decode_error(e: ImageError, format: ImageFormat, limits: &Limits) -> anyhow::Error {
    use std::error::Error as _;
    let name = format_name(format);
    match e {
        ImageError::Limits(_) => anyhow!(
            "{name} needs more than the {} MB memory limit to decode (a decompression bomb?)",
            limits.max_alloc() >> 20
        ),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            anyhow!("truncated or corrupt {name}: file ends early")
        }
        ImageError::IoError(io) => anyhow!(
            "truncated or corrupt {name}: {}",
            tidy_cause(&one_line(&io.to_string()))
        ),
        ImageError::Decoding(d) => {
            let cause = d
                .source()
                .map(|s| one_line(&s.to_string()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "invalid data".to_string());
            anyhow!("truncated or corrupt {name}: {}", tidy_cause(&cause))
        }
        ImageError::Unsupported(u) => {
            anyhow!("unsupported {name} variant: {}", one_line(&u.to_string()))
        }
        other => anyhow!("cannot decode {name}: {}", one_line(&other.to_string())),
    }
}

/// Decoder messages say "file ends early" in many ways; use one.
fn tidy_cause(cause: &str) -> String {
    let lower = cause.to_ascii_lowercase();
    let eof = [
        "not enough bytes",
        "no more bytes",
        "unexpected eof",
        "unexpected end",
    ];
    if eof.iter().any(|p| lower.contains(p)) {
        "file ends early".to_string()
    } else {
        cause.trim_start_matches("I/O errors ").to_string()
    }
}

/// Colour space signature of an ICC profile (bytes 16..20 of the header: `RGB `, `GRAY`, `CMYK`…).
fn icc_colour_space(profile: &[u8]) -> Option<[u8; 4]> {
    profile.get(16..20).map(|s| [s[0], s[1], s[2], s[3]])
}

fn photo_from_image(img: DynamicImage, icc: Option<Vec<u8>>, format: ImageFormat) -> Photo {
    use image::ColorType as C;
    let color = img.color();
    let gray = matches!(color, C::L8 | C::La8 | C::L16 | C::La16);
    let sixteen_bit = !matches!(color, C::L8 | C::La8 | C::Rgb8 | C::Rgba8);
    let (width, height) = (img.width() as usize, img.height() as usize);
    let n = width * height;
    let mut rgb = vec![0f32; n * 3];
    let mut alpha = color.has_alpha().then(|| vec![0f32; n]);
    let a = alpha.as_deref_mut();
    // Division, not multiplication by a reciprocal: k / 255 is then the f32 nearest to the
    // exact value whatever the source layout, and `save` rounds it back to k.
    let u8f = |v: u8| f32::from(v) / 255.0;
    let u16f = |v: u16| f32::from(v) / 65535.0;
    match &img {
        DynamicImage::ImageLuma8(b) => unpack(b.as_raw(), 1, &mut rgb, a, u8f),
        DynamicImage::ImageLumaA8(b) => unpack(b.as_raw(), 2, &mut rgb, a, u8f),
        DynamicImage::ImageRgb8(b) => unpack(b.as_raw(), 3, &mut rgb, a, u8f),
        DynamicImage::ImageRgba8(b) => unpack(b.as_raw(), 4, &mut rgb, a, u8f),
        DynamicImage::ImageLuma16(b) => unpack(b.as_raw(), 1, &mut rgb, a, u16f),
        DynamicImage::ImageLumaA16(b) => unpack(b.as_raw(), 2, &mut rgb, a, u16f),
        DynamicImage::ImageRgb16(b) => unpack(b.as_raw(), 3, &mut rgb, a, u16f),
        DynamicImage::ImageRgba16(b) => unpack(b.as_raw(), 4, &mut rgb, a, u16f),
        // Float TIFFs may hold values outside [0, 1], or NaN.
        DynamicImage::ImageRgb32F(b) => unpack(b.as_raw(), 3, &mut rgb, a, clamp01),
        DynamicImage::ImageRgba32F(b) => unpack(b.as_raw(), 4, &mut rgb, a, clamp01),
        other => unpack(other.to_rgba32f().as_raw(), 4, &mut rgb, a, clamp01),
    }
    Photo {
        width,
        height,
        rgb,
        alpha,
        meta: PhotoMeta {
            gray,
            sixteen_bit,
            icc,
            format,
        },
    }
}

/// Spreads interleaved samples with `channels` per pixel (1 = L, 2 = LA, 3 = RGB, 4 = RGBA) into
/// the RGB buffer (gray replicated) and, when given, the alpha plane (last channel).
fn unpack<T: Copy + Send + Sync>(
    raw: &[T],
    channels: usize,
    rgb: &mut [f32],
    alpha: Option<&mut [f32]>,
    f: impl Fn(T) -> f32 + Send + Sync,
) {
    rgb.par_chunks_mut(3)
        .zip(raw.par_chunks(channels))
        .for_each(|(out, px)| {
            if channels <= 2 {
                out.fill(f(px[0]));
            } else {
                for (o, &v) in out.iter_mut().zip(px) {
                    *o = f(v);
                }
            }
        });
    if let Some(alpha) = alpha {
        alpha
            .par_iter_mut()
            .zip(raw.par_chunks(channels))
            .for_each(|(out, px)| *out = f(px[channels - 1]));
    }
}

/// `v` clamped to `[0, 1]`, NaN → 0.
fn clamp01(v: f32) -> f32 {
    if v >= 0.0 {
        v.min(1.0)
    } else {
        0.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::max_diff;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
    }

    fn load_fixture(name: &str) -> Photo {
        load(&fixture(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e:#}"))
    }

    fn load_err(path: &Path, limits: &Limits) -> String {
        let e = load(path, limits).expect_err("load should fail");
        let msg = format!("{e:#}");
        assert!(!msg.contains('\n'), "multi-line message: {msg:?}");
        assert!(
            !msg.contains(&*path.to_string_lossy()),
            "message repeats the path: {msg:?}"
        );
        msg
    }

    /// Raw decode with the `image` crate, to inspect what `save` wrote.
    fn raw(path: &Path) -> DynamicImage {
        ImageReader::open(path)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .decode()
            .unwrap()
    }

    fn mean_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
    }

    fn roundtrip(photo: &Photo, format: OutputFormat) -> (tempfile::TempDir, PathBuf, Photo) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("out.{}", format.extension()));
        save(&path, photo, format).unwrap();
        let back = load(&path, &Limits::default()).unwrap();
        (dir, path, back)
    }

    #[test]
    fn output_format_names() {
        for f in OutputFormat::ALL {
            assert_eq!(OutputFormat::from_extension(f.extension()), Some(f));
            assert_eq!(OutputFormat::for_input(f.image_format()), f);
        }
        assert_eq!(
            OutputFormat::from_extension("JPEG"),
            Some(OutputFormat::Jpeg)
        );
        assert_eq!(
            OutputFormat::from_extension("tiff"),
            Some(OutputFormat::Tiff)
        );
        assert_eq!(OutputFormat::from_extension("gif"), None);
        assert_eq!(OutputFormat::for_input(ImageFormat::Gif), OutputFormat::Png);
        assert_eq!(OutputFormat::Webp.to_string(), "WebP");
    }

    #[test]
    fn limits_cap_decoder_allocation() {
        let l = Limits::default();
        assert_eq!(l.max_pixels, 150_000_000);
        let il = l.image_limits();
        assert_eq!(il.max_alloc, Some(l.max_alloc()));
        assert!(l.max_alloc() >= 150_000_000 * 8 && l.max_alloc() < 150_000_000 * 9);
    }

    #[test]
    fn reads_every_format() {
        let reference = load_fixture("rgb8.png");
        assert_eq!((reference.width, reference.height), (37, 29));
        assert!(!reference.meta.gray && !reference.meta.sixteen_bit);
        assert!(reference.alpha.is_none() && reference.meta.icc.is_none());
        assert!(reference.rgb.iter().all(|v| (0.0..=1.0).contains(v)));
        for (name, format, sixteen, tolerance) in [
            ("rgb.webp", ImageFormat::WebP, false, 0.0),
            ("rgb.bmp", ImageFormat::Bmp, false, 0.0),
            ("rgb16.png", ImageFormat::Png, true, 0.5 / 255.0 + 1e-6),
            ("rgb16.tif", ImageFormat::Tiff, true, 0.5 / 255.0 + 1e-6),
            ("rgb.jpg", ImageFormat::Jpeg, false, 0.25),
        ] {
            let p = load_fixture(name);
            assert_eq!((p.width, p.height), (37, 29), "{name}");
            assert_eq!(p.meta.format, format, "{name}");
            assert_eq!(p.meta.sixteen_bit, sixteen, "{name}");
            assert!(!p.meta.gray && p.alpha.is_none(), "{name}");
            assert!(max_diff(&p.rgb, &reference.rgb) <= tolerance, "{name}");
        }
        let jpg = load_fixture("rgb.jpg");
        assert!(mean_diff(&jpg.rgb, &reference.rgb) < 0.03);
    }

    #[test]
    fn format_comes_from_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let fake_png = dir.path().join("photo.png");
        std::fs::copy(fixture("rgb.jpg"), &fake_png).unwrap();
        assert_eq!(
            load(&fake_png, &Limits::default()).unwrap().meta.format,
            ImageFormat::Jpeg
        );
        let no_ext = dir.path().join("photo");
        std::fs::copy(fixture("rgb.webp"), &no_ext).unwrap();
        assert_eq!(
            load(&no_ext, &Limits::default()).unwrap().meta.format,
            ImageFormat::WebP
        );
    }

    #[test]
    fn gray_is_replicated_and_written_back_as_gray() {
        for (name, sixteen) in [("gray8.png", false), ("gray16.png", true)] {
            let p = load_fixture(name);
            assert_eq!((p.width, p.height), (45, 31));
            assert!(p.meta.gray && p.alpha.is_none());
            assert_eq!(p.meta.sixteen_bit, sixteen);
            for px in p.rgb.chunks_exact(3) {
                assert!(px[0] == px[1] && px[1] == px[2]);
            }
            let (_dir, path, back) = roundtrip(&p, OutputFormat::Png);
            assert!(back == p, "{name}");
            let original = raw(&fixture(name));
            let written = raw(&path);
            assert_eq!(written.color(), original.color(), "{name}");
            assert!(written.as_bytes() == original.as_bytes(), "{name}");
        }
        // 16-bit gray → 8-bit gray JPEG.
        let p = load_fixture("gray16.png");
        let (_dir, path, back) = roundtrip(&p, OutputFormat::Jpeg);
        assert_eq!(raw(&path).color(), image::ColorType::L8);
        assert!(back.meta.gray && !back.meta.sixteen_bit);
        assert!(max_diff(&back.rgb, &p.rgb) < 0.05);
    }

    #[test]
    fn gray_output_is_the_mean_of_the_channels() {
        let mut p = load_fixture("gray8.png");
        p.rgb = [0.2, 0.4, 0.6].repeat(p.pixels());
        let (_dir, path, back) = roundtrip(&p, OutputFormat::Png);
        assert_eq!(raw(&path).color(), image::ColorType::L8);
        assert!(back.rgb.iter().all(|&v| v == 102.0 / 255.0));
    }

    #[test]
    fn sixteen_bit_survives_png_and_tiff() {
        for (name, format) in [
            ("rgb16.png", OutputFormat::Png),
            ("rgb16.tif", OutputFormat::Tiff),
            ("rgb16.png", OutputFormat::Tiff),
        ] {
            let p = load_fixture(name);
            let (_dir, path, back) = roundtrip(&p, format);
            assert!(back.rgb == p.rgb, "{name} → {format}");
            assert!(back.meta.sixteen_bit);
            let written = raw(&path);
            assert_eq!(written.color(), image::ColorType::Rgb16);
            assert!(written.as_bytes() == raw(&fixture(name)).as_bytes());
        }
        // The low byte matters: an 8-bit round trip would not be exact.
        let p = load_fixture("rgb16.png");
        assert!(p.rgb.iter().any(|&v| {
            let s = v * 65535.0;
            !(s.round() as u32).is_multiple_of(257)
        }));
    }

    #[test]
    fn sixteen_bit_is_written_as_8_bit_where_it_must() {
        let p = load_fixture("rgb16.png");
        for format in [OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Bmp] {
            let (_dir, path, back) = roundtrip(&p, format);
            assert_eq!(raw(&path).color(), image::ColorType::Rgb8, "{format}");
            assert!(!back.meta.sixteen_bit);
            let tolerance = if format == OutputFormat::Jpeg {
                0.2
            } else {
                0.5 / 255.0 + 1e-6
            };
            assert!(max_diff(&back.rgb, &p.rgb) <= tolerance, "{format}");
        }
    }

    #[test]
    fn in_memory_photo_rounds_to_nearest() {
        let (w, h) = (5, 3);
        let mut rgb: Vec<f32> = (0..w * h * 3)
            .map(|i| (i as f32 * 0.0137).fract())
            .collect();
        rgb[0] = -0.5; // clamped
        rgb[1] = 1.7;
        rgb[2] = f32::NAN;
        let mut p = Photo {
            width: w,
            height: h,
            rgb,
            alpha: None,
            meta: PhotoMeta {
                gray: false,
                sixteen_bit: false,
                icc: None,
                format: ImageFormat::Png,
            },
        };
        let expect = |q: f32| -> Vec<f32> {
            p.rgb
                .iter()
                .map(|&v| (clamp01(v) * q).round() / q)
                .collect()
        };
        let (e8, e16) = (expect(255.0), expect(65535.0));
        let (_d, _p, back) = roundtrip(&p, OutputFormat::Png);
        assert!(max_diff(&back.rgb, &e8) < 1e-6);
        assert_eq!(&back.rgb[..3], &[0.0, 1.0, 0.0]);
        p.meta.sixteen_bit = true;
        let (_d, _p, back) = roundtrip(&p, OutputFormat::Png);
        assert!(max_diff(&back.rgb, &e16) < 1e-6);
    }

    #[test]
    fn alpha_is_carried_through() {
        let p = load_fixture("rgba8.png");
        let alpha = p.alpha.as_ref().expect("rgba8.png has alpha");
        assert_eq!(alpha.len(), 37 * 29);
        assert_eq!(alpha[0], 0.0);
        assert_eq!(alpha[36], 1.0);
        for format in [
            OutputFormat::Png,
            OutputFormat::Webp,
            OutputFormat::Tiff,
            OutputFormat::Bmp,
        ] {
            let (_dir, path, back) = roundtrip(&p, format);
            assert_eq!(raw(&path).color(), image::ColorType::Rgba8, "{format}");
            assert!(back.alpha.as_ref() == Some(alpha), "{format}");
            // Colour under fully transparent pixels may be dropped by lossless encoders (WebP).
            for (i, (a, b)) in back.rgb.chunks(3).zip(p.rgb.chunks(3)).enumerate() {
                if alpha[i] > 0.0 {
                    assert_eq!(a, b, "{format} pixel {i}");
                }
            }
        }
        // JPEG drops alpha.
        let (_dir, path, back) = roundtrip(&p, OutputFormat::Jpeg);
        assert_eq!(raw(&path).color(), image::ColorType::Rgb8);
        assert!(back.alpha.is_none());
    }

    #[test]
    fn gray_alpha_goes_to_tiff_as_rgba() {
        let mut p = load_fixture("gray8.png");
        p.alpha = Some((0..p.pixels()).map(|i| (i % 256) as f32 / 255.0).collect());
        let (_dir, path, back) = roundtrip(&p, OutputFormat::Tiff);
        assert_eq!(raw(&path).color(), image::ColorType::Rgba8);
        assert!(back.rgb == p.rgb && back.alpha == p.alpha);
        let (_dir, path, back) = roundtrip(&p, OutputFormat::Png);
        assert_eq!(raw(&path).color(), image::ColorType::La8);
        assert!(back == p);
    }

    #[test]
    fn palette_with_trns_expands_to_rgba() {
        let p = load_fixture("palette_trns.png");
        assert_eq!((p.width, p.height), (37, 29));
        assert!(!p.meta.gray && !p.meta.sixteen_bit);
        let alpha = p.alpha.as_ref().expect("tRNS gives alpha");
        let palette = [[200, 30, 40], [20, 180, 60], [10, 20, 230], [250, 250, 250]];
        let alphas = [255, 128, 0, 255];
        for y in 0..p.height {
            for x in 0..p.width {
                let i = y * p.width + x;
                let k = (x / 5 + y / 5) % 4;
                let want: Vec<f32> = palette[k].iter().map(|&c| c as f32 / 255.0).collect();
                assert_eq!(&p.rgb[3 * i..3 * i + 3], &want[..], "({x}, {y})");
                assert_eq!(alpha[i], alphas[k] as f32 / 255.0, "({x}, {y})");
            }
        }
    }

    #[test]
    fn exif_orientation_is_applied_once() {
        let p = load_fixture("exif_rot6.jpg");
        // Stored 45×31 with the red block top-left; orientation 6 displays it 31×45, red top-right.
        assert_eq!((p.width, p.height), (31, 45));
        let px = |p: &Photo, x: usize, y: usize| {
            let i = 3 * (y * p.width + x);
            [p.rgb[i], p.rgb[i + 1], p.rgb[i + 2]]
        };
        let is_red = |c: [f32; 3]| c[0] > 0.7 && c[2] < 0.3;
        assert!(is_red(px(&p, 26, 5)), "{:?}", px(&p, 26, 5));
        assert!(!is_red(px(&p, 4, 5)));
        assert!(!is_red(px(&p, 26, 40)));
        for format in [OutputFormat::Jpeg, OutputFormat::Png] {
            let (_dir, path, back) = roundtrip(&p, format);
            assert_eq!((back.width, back.height), (31, 45), "{format}");
            assert!(is_red(px(&back, 26, 5)), "{format}");
            let mut dec = ImageReader::open(&path)
                .unwrap()
                .with_guessed_format()
                .unwrap()
                .into_decoder()
                .unwrap();
            assert_eq!(dec.exif_metadata().unwrap(), None, "{format}");
            assert_eq!(dec.orientation().unwrap(), Orientation::NoTransforms);
        }
    }

    #[test]
    fn icc_profile_round_trips() {
        let p = load_fixture("icc.png");
        let icc = p.meta.icc.clone().expect("icc.png carries a profile");
        assert_eq!(&icc[36..40], b"acsp");
        assert_eq!(
            u32::from_be_bytes(icc[..4].try_into().unwrap()) as usize,
            icc.len()
        );
        assert_eq!(icc_colour_space(&icc), Some(*b"RGB "));
        for format in [
            OutputFormat::Png,
            OutputFormat::Jpeg,
            OutputFormat::Tiff,
            OutputFormat::Webp,
        ] {
            let (_dir, _path, back) = roundtrip(&p, format);
            assert!(back.meta.icc.as_ref() == Some(&icc), "{format}");
        }
        let (_dir, _path, back) = roundtrip(&p, OutputFormat::Bmp);
        assert_eq!(back.meta.icc, None);
        // An RGB profile must not be attached to gray output.
        let mut gray = p.clone();
        gray.meta.gray = true;
        let (_dir, path, back) = roundtrip(&gray, OutputFormat::Png);
        assert_eq!(raw(&path).color(), image::ColorType::L8);
        assert_eq!(back.meta.icc, None);
    }

    #[test]
    fn jpeg_output_is_high_quality() {
        let p = load_fixture("rgb8.png");
        let (_dir, _path, back) = roundtrip(&p, OutputFormat::Jpeg);
        let q95 = mean_diff(&back.rgb, &p.rgb);
        let q90 = mean_diff(&load_fixture("rgb.jpg").rgb, &p.rgb);
        assert!(q95 < 0.02 && q95 < q90, "q95 {q95}, q90 {q90}");
    }

    #[test]
    fn webp_output_is_lossless() {
        let p = load_fixture("rgb8.png");
        let (_dir, _path, back) = roundtrip(&p, OutputFormat::Webp);
        assert!(back.rgb == p.rgb);
    }

    #[test]
    fn bad_files_get_short_clear_errors() {
        let l = Limits::default();
        assert_eq!(load_err(&fixture("empty.png"), &l), "empty file");
        assert_eq!(
            load_err(&fixture("notes.txt"), &l),
            "not an image (unrecognised content)"
        );
        let m = load_err(&fixture("truncated.png"), &l);
        assert_eq!(m, "truncated or corrupt PNG: file ends early");
        let m = load_err(&fixture("corrupt.jpg"), &l);
        assert_eq!(m, "truncated or corrupt JPEG: file ends early");
        let m = load_err(&fixture("no-such-file.png"), &l);
        assert!(m.starts_with("cannot open: "), "{m}");
        let m = load_err(&fixture(""), &l);
        assert_eq!(m, "is a folder, not an image");
    }

    #[test]
    fn damaged_and_foreign_files_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let l = Limits::default();
        // Scramble the middle of the pixel data of a valid PNG.
        let mut png = std::fs::read(fixture("rgb8.png")).unwrap();
        let mid = png.len() / 2;
        png[mid - 40..mid + 40].iter_mut().for_each(|b| *b ^= 0x5A);
        let bad = dir.path().join("scrambled.png");
        std::fs::write(&bad, &png).unwrap();
        let m = load_err(&bad, &l);
        assert!(m.starts_with("truncated or corrupt PNG: "), "{m}");
        let gif = dir.path().join("anim.png");
        std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
        assert_eq!(
            load_err(&gif, &l),
            "GIF images are not supported (only PNG, JPEG, WebP, TIFF and BMP)"
        );
    }

    #[test]
    fn bombs_are_refused_from_the_header() {
        let m = load_err(&fixture("bomb.png"), &Limits::default());
        assert_eq!(
            m,
            "image is 100000×100000 (10000 MP), over the 150 MP limit (a decompression bomb?)"
        );
        let small = Limits { max_pixels: 1000 };
        let m = load_err(&fixture("rgb8.png"), &small);
        assert_eq!(
            m,
            "image is 37×29 (0.001 MP), over the 0.001 MP limit (a decompression bomb?)"
        );
        assert!(load(
            &fixture("rgb8.png"),
            &Limits {
                max_pixels: 37 * 29
            }
        )
        .is_ok());
    }

    #[test]
    fn save_checks_buffers_and_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/out.png");
        let mut p = load_fixture("rgb8.png");
        save(&dest, &p, OutputFormat::Png).unwrap();
        // Overwrite in place; no temp files left behind.
        save(&dest, &p, OutputFormat::Png).unwrap();
        let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.png")]);
        p.rgb.pop();
        let e = save(&dest, &p, OutputFormat::Png).unwrap_err().to_string();
        assert!(e.contains("RGB values"), "{e}");
        p.rgb.push(0.0);
        p.alpha = Some(vec![1.0; 3]);
        assert!(save(&dest, &p, OutputFormat::Png).is_err());
        // The earlier good output is untouched.
        assert_eq!(load(&dest, &Limits::default()).unwrap().alpha, None);
    }
}
