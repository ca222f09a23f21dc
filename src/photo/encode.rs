//! [`Photo`] → image file, written atomically: samples in the format's storage
//! ([`output_storage`]: 8 or 16 bits, gray kept, alpha), ICC profile, EXIF and XMP where the
//! format carries them.

use super::metadata::{self, ExifTags, Metadata, EXIF_PREFIX};
use super::{one_line, Depth, Layout, OutputFormat, Photo, PhotoMeta, Samples, Storage};
use anyhow::{anyhow, bail, Result};
use image::codecs::{bmp::BmpEncoder, jpeg::JpegEncoder};
use image::{ExtendedColorType, ImageEncoder};
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
    let too_big = || anyhow!("{}×{} is too large to encode", photo.width, photo.height);
    let width = u32::try_from(photo.width).map_err(|_| too_big())?;
    let height = u32::try_from(photo.height).map_err(|_| too_big())?;

    let storage = output_storage(&photo.meta, photo.has_alpha(), format);
    let photo = if photo.storage() == storage {
        Cow::Borrowed(photo)
    } else {
        Cow::Owned(photo.converted(storage)?)
    };
    let gray = storage.layout.gray;
    let icc = photo
        .meta
        .icc
        .as_deref()
        .filter(|p| icc_colour_space(p) == Some(if gray { *b"GRAY" } else { *b"RGB " }));

    let meta = if format == OutputFormat::Bmp {
        Metadata::default()
    } else {
        metadata::for_output(&photo.meta.metadata, width, height)
    };

    crate::atomic::write_with(dest, |file| {
        let mut out = BufWriter::new(file);
        let pixels = Pixels {
            samples: &photo.raster.samples,
            width,
            height,
            color: color_type(storage),
        };
        let extras = Extras {
            icc,
            exif: meta.exif.as_deref(),
            xmp: meta.xmp.as_deref(),
        };
        encode(&mut out, format, &pixels, extras, settings)
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

/// The samples of an [`output_storage`], with their encoder colour type.
struct Pixels<'a> {
    samples: &'a Samples,
    width: u32,
    height: u32,
    color: ExtendedColorType,
}

impl Pixels<'_> {
    /// The 8-bit samples (JPEG, WebP and BMP are only ever given those).
    fn bytes(&self) -> Result<&[u8]> {
        match self.samples {
            Samples::U8(b) => Ok(b),
            _ => bail!("{:?} samples are not 8-bit", self.color),
        }
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
    mut out: W,
    format: OutputFormat,
    pixels: &Pixels<'_>,
    extras: Extras<'_>,
    settings: &EncodeSettings,
) -> Result<()> {
    let Pixels {
        width,
        height,
        color,
        ..
    } = *pixels;
    let Extras { icc, exif, xmp } = extras;
    match format {
        OutputFormat::Png => encode_png(out, pixels, extras, settings.png_compression),
        OutputFormat::Jpeg => {
            // Encoded in memory: the XMP segment is inserted after the encoder's APP segments.
            let mut jpeg = Vec::new();
            let mut encoder = JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY);
            if let Some(profile) = icc {
                encoder.set_icc_profile(profile.to_vec())?;
            }
            // One APP1 segment holds at most 65533 bytes with its `Exif\0\0` header.
            if let Some(exif) = exif.filter(|e| e.len() + EXIF_PREFIX.len() <= SEGMENT_MAX) {
                encoder.set_exif_metadata(exif.to_vec())?;
            }
            encoder.write_image(pixels.bytes()?, width, height, color)?;
            if let Some(xmp) = xmp {
                insert_jpeg_xmp(&mut jpeg, xmp);
            }
            out.write_all(&jpeg)?;
            Ok(())
        }
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
            if let Some(profile) = icc {
                encoder.set_icc_profile(profile.to_vec());
            }
            if let Some(exif) = exif {
                encoder.set_exif_metadata(exif.to_vec());
            }
            if let Some(xmp) = xmp {
                encoder.set_xmp_metadata(xmp.to_vec());
            }
            encoder.encode(pixels.bytes()?, width, height, color)?;
            Ok(())
        }
        OutputFormat::Tiff => encode_tiff(out, pixels, extras),
        OutputFormat::Bmp => {
            BmpEncoder::new(&mut out).write_image(pixels.bytes()?, width, height, color)?;
            Ok(())
        }
    }
}

/// Largest payload of a JPEG marker segment (its 2-byte length counts itself).
const SEGMENT_MAX: usize = 65533;

/// The APP1 identifier before an XMP packet in JPEG.
const XMP_NAMESPACE: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// Inserts `xmp` as an APP1 segment after the leading APP0/APP1 segments (JFIF, EXIF) of
/// `jpeg`. A packet too large for one segment (extended XMP) is left out.
fn insert_jpeg_xmp(jpeg: &mut Vec<u8>, xmp: &[u8]) {
    let payload = XMP_NAMESPACE.len() + xmp.len();
    if payload > SEGMENT_MAX || !jpeg.starts_with(&[0xFF, 0xD8]) {
        return;
    }
    let mut at = 2;
    while let [0xFF, 0xE0 | 0xE1, hi, lo, ..] = jpeg[at..] {
        at += 2 + usize::from(u16::from_be_bytes([hi, lo]));
    }
    let at = at.min(jpeg.len());
    let mut segment = Vec::with_capacity(4 + payload);
    segment.extend_from_slice(&[0xFF, 0xE1]);
    segment.extend_from_slice(&((payload + 2) as u16).to_be_bytes());
    segment.extend_from_slice(XMP_NAMESPACE);
    segment.extend_from_slice(xmp);
    jpeg.splice(at..at, segment);
}

/// PNG through the `png` crate (the `image` encoder writes no XMP): ICC in `iCCP`, EXIF in
/// `eXIf`, XMP in an uncompressed `iTXt` chunk keyed `XML:com.adobe.xmp`, all before the pixels.
fn encode_png<W: Write>(
    out: W,
    pixels: &Pixels<'_>,
    extras: Extras<'_>,
    compression: PngCompression,
) -> Result<()> {
    let Pixels {
        samples,
        width,
        height,
        color,
    } = *pixels;
    let Extras { icc, exif, xmp } = extras;
    use png::{BitDepth as D, ColorType as C};
    use ExtendedColorType as E;
    let (ct, depth) = match color {
        E::L8 => (C::Grayscale, D::Eight),
        E::La8 => (C::GrayscaleAlpha, D::Eight),
        E::Rgb8 => (C::Rgb, D::Eight),
        E::Rgba8 => (C::Rgba, D::Eight),
        E::L16 => (C::Grayscale, D::Sixteen),
        E::La16 => (C::GrayscaleAlpha, D::Sixteen),
        E::Rgb16 => (C::Rgb, D::Sixteen),
        E::Rgba16 => (C::Rgba, D::Sixteen),
        other => bail!("PNG has no {other:?} layout"),
    };
    let mut info = png::Info::with_size(width, height);
    info.icc_profile = icc.map(Cow::Borrowed);
    info.exif_metadata = exif.map(Cow::Borrowed);
    if let Some(xmp) = xmp.and_then(|x| std::str::from_utf8(x).ok()) {
        info.utf8_text
            .push(png::text_metadata::ITXtChunk::new(PNG_XMP_KEY, xmp));
    }
    let mut encoder = png::Encoder::with_info(out, info)?;
    encoder.set_color(ct);
    encoder.set_depth(depth);
    // Each of these also selects adaptive filtering (the best filter per row).
    encoder.set_compression(match compression {
        PngCompression::Fast => png::Compression::Fast,
        PngCompression::Default => png::Compression::Balanced,
        PngCompression::Best => png::Compression::High,
    });
    let mut writer = encoder.write_header()?;
    match samples {
        Samples::U8(b) => writer.write_image_data(b)?,
        Samples::U16(v) => {
            // PNG samples are big-endian.
            let be: Vec<u8> = v.iter().flat_map(|s| s.to_be_bytes()).collect();
            writer.write_image_data(&be)?;
        }
        Samples::F32(_) => bail!("PNG has no float layout"),
    }
    writer.finish()?;
    Ok(())
}

/// The `iTXt` keyword of an XMP packet in PNG.
const PNG_XMP_KEY: &str = "XML:com.adobe.xmp";

/// TIFF through the `tiff` crate (the `image` encoder writes no EXIF or XMP): uncompressed
/// strips like `image`'s, the ICC profile, the EXIF block as the image's own tags plus Exif and
/// GPS directories ([`ExifTags`]), XMP in tag 700.
fn encode_tiff<W: Write + Seek>(out: W, pixels: &Pixels<'_>, extras: Extras<'_>) -> Result<()> {
    let Pixels {
        samples,
        width,
        height,
        color,
    } = *pixels;
    let Extras { icc, exif, xmp } = extras;
    use tiff::encoder::colortype as ct;
    use ExtendedColorType as E;
    let mut encoder = tiff::encoder::TiffEncoder::new(out)?;
    let tags = exif.and_then(ExifTags::from_exif).unwrap_or_default();
    let pointers = tags.write_sub_dirs(&mut encoder)?;
    let extra = TiffExtra {
        tags: &tags,
        pointers: &pointers,
        icc,
        xmp,
    };
    let e = &mut encoder;
    match (color, samples) {
        (E::L8, Samples::U8(b)) => tiff_image::<_, ct::Gray8>(e, width, height, b, &extra),
        (E::Rgb8, Samples::U8(b)) => tiff_image::<_, ct::RGB8>(e, width, height, b, &extra),
        (E::Rgba8, Samples::U8(b)) => tiff_image::<_, ct::RGBA8>(e, width, height, b, &extra),
        (E::L16, Samples::U16(v)) => tiff_image::<_, ct::Gray16>(e, width, height, v, &extra),
        (E::Rgb16, Samples::U16(v)) => tiff_image::<_, ct::RGB16>(e, width, height, v, &extra),
        (E::Rgba16, Samples::U16(v)) => tiff_image::<_, ct::RGBA16>(e, width, height, v, &extra),
        (other, _) => bail!("TIFF has no {other:?} layout here"),
    }
}

/// What a TIFF image's directory carries besides the pixels.
struct TiffExtra<'a> {
    tags: &'a ExifTags,
    pointers: &'a [(u16, u32)],
    icc: Option<&'a [u8]>,
    xmp: Option<&'a [u8]>,
}

fn tiff_image<W: Write + Seek, C: tiff::encoder::colortype::ColorType>(
    encoder: &mut tiff::encoder::TiffEncoder<W>,
    width: u32,
    height: u32,
    data: &[C::Inner],
    extra: &TiffExtra<'_>,
) -> Result<()>
where
    [C::Inner]: tiff::encoder::TiffValue,
{
    use tiff::tags::Tag;
    let mut image = encoder.new_image::<C>(width, height)?;
    let dir = image.encoder();
    // The EXIF tags first: any that the encoder also writes (resolution) replace its defaults.
    extra.tags.write_image_tags(dir, extra.pointers)?;
    if let Some(profile) = extra.icc {
        dir.write_tag(Tag::IccProfile, profile)?;
    }
    if let Some(xmp) = extra.xmp {
        // XMLPacket (700) is BYTE data.
        dir.write_tag(Tag::Unknown(700), xmp)?;
    }
    image.write_data(data)?;
    Ok(())
}
