//! Image file → [`Photo`] ([`load`]) or [`Input`] ([`open`]: large PNG and TIFF files streamed):
//! format from the content, size limits from the header, EXIF orientation applied, samples kept
//! in their storage type, EXIF and XMP kept as read.

use super::metadata::Metadata;
use super::stream_in::Streamed;
use super::{
    clamp01, format::format_name, one_line, Depth, Header, Input, Layout, Limits, OutputFormat,
    Photo, PhotoMeta, Raster, Samples, Storage, READ_FORMATS,
};
use anyhow::{anyhow, bail, Result};
use image::codecs::tiff::TiffDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use rayon::prelude::*;
use std::io::BufReader;
use std::path::Path;

/// Reads and decodes an image file, whole. See the module docs.
pub fn load(path: &Path, limits: &Limits) -> Result<Photo> {
    probe(path, limits)?.decode(limits)
}

/// Opens an image file to restore: decoded a window of rows at a time ([`Input::Streamed`])
/// when its decoded samples would take more than [`Limits::stream_above`] bytes and it can be
/// (a PNG or TIFF that needs no rotation; see `stream_in/`), else decoded whole as [`load`]
/// does. Either way a damaged file is refused here, before any work.
pub fn open(path: &Path, limits: &Limits) -> Result<Input<'static>> {
    let probed = probe(path, limits)?;
    let bytes = probed.decoder.total_bytes();
    let streamable = bytes > limits.stream_above && probed.orientation == Orientation::NoTransforms;
    if streamable {
        if let Some(header) = probed.header() {
            let file = std::fs::File::open(path).map_err(|e| anyhow!("cannot open: {e}"))?;
            if let Some(s) = Streamed::new(header, file, probed.format)? {
                return Ok(Input::Streamed(Box::new(s)));
            }
        }
    }
    check_whole_size(bytes, limits)?;
    Ok(probed.decode(limits)?.into())
}

/// Refuses an input of `bytes` decoded samples that would be decoded whole beyond
/// [`Limits::max_whole_bytes`], saying how to get it accepted.
fn check_whole_size(bytes: u64, limits: &Limits) -> Result<()> {
    let cap = limits.max_whole_bytes();
    if bytes <= cap {
        return Ok(());
    }
    let megapixels_needed = bytes.div_ceil(4).div_ceil(1_000_000);
    bail!(
        "needs {} MB decoded whole (16-bit or float samples in a layout that cannot be read a band at a time: \
         interlaced PNG, tiled or planar TIFF, or a photo to rotate), over the {} MB that keeps a run under 1 GB: \
         save it as a non-interlaced PNG or a striped TIFF, upright, or pass --max-megapixels {megapixels_needed} to accept it",
        bytes / 1_000_000,
        cap / 1_000_000
    )
}

/// An image file whose header is read and checked, its pixels not decoded yet.
struct Probed {
    decoder: Box<dyn ImageDecoder>,
    format: ImageFormat,
    icc: Option<Vec<u8>>,
    metadata: Metadata,
    orientation: Orientation,
    /// JPEG: the quality its tables match.
    jpeg_quality: Option<u8>,
}

/// Opens `path`, detects its format from the content, reads its header and metadata, and
/// checks its size against `limits`.
fn probe(path: &Path, limits: &Limits) -> Result<Probed> {
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
    let format = reader.format().ok_or_else(|| {
        anyhow!("not an image aetool reads (unrecognised content; {READ_FORMATS} are read)")
    })?;
    if OutputFormat::for_input(format).image_format() != format {
        bail!(
            "{} images are not supported (only {READ_FORMATS})",
            format_name(format)
        );
    }
    let jpeg_quality = if format == ImageFormat::Jpeg {
        check_jpeg_complete(path)?
    } else {
        None
    };
    let mut decoder: Box<dyn ImageDecoder> = if format == ImageFormat::Tiff {
        // image 0.25 caps TIFF tag values by the size of the decoded image once limits are set,
        // which loses the ICC profile of small images: limits are applied after reading it.
        Box::new(
            TiffDecoder::new(reader.into_inner()).map_err(|e| decode_error(e, format, limits))?,
        )
    } else {
        reader.limits(if format == ImageFormat::Png {
            limits.png_header_limits()
        } else {
            limits.image_limits()
        });
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
    let metadata = super::metadata::read(decoder.as_mut(), format, path);
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok(Probed {
        decoder,
        format,
        icc,
        metadata,
        orientation,
        jpeg_quality,
    })
}

impl Probed {
    /// What the decoded photo will be, for the 8- and 16-bit layouts (`None` for float).
    fn header(&self) -> Option<Header> {
        let color = self.decoder.color_type();
        let (storage, meta) = storage_and_meta(color, self.icc.clone(), self.format);
        let (w, h) = self.decoder.dimensions();
        (storage.depth != Depth::F32).then(|| Header {
            width: w as usize,
            height: h as usize,
            storage,
            meta: PhotoMeta {
                metadata: self.metadata.clone(),
                jpeg_quality: self.jpeg_quality,
                ..meta
            },
        })
    }

    /// Decodes the pixels, whole, and applies the orientation.
    fn decode(self, limits: &Limits) -> Result<Photo> {
        let Probed {
            mut decoder,
            format,
            icc,
            metadata,
            orientation,
            jpeg_quality,
        } = self;
        decoder
            .set_limits(limits.image_limits())
            .map_err(|e| decode_error(e, format, limits))?;
        let mut img =
            DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, format, limits))?;
        img.apply_orientation(orientation);
        let mut photo = photo_from_image(img, icc, format);
        photo.meta.metadata = metadata;
        photo.meta.jpeg_quality = jpeg_quality;
        Ok(photo)
    }
}

/// The JPEG decoder paints a missing end of scan data flat grey without a word: refuse files
/// that stop before their end-of-image marker (see `jpeg_structure.rs`). Returns the quality
/// the file's tables match.
fn check_jpeg_complete(path: &Path) -> Result<Option<u8>> {
    use super::jpeg_structure::{check, Incomplete};
    let file = std::fs::File::open(path).map_err(|e| anyhow!("cannot open: {e}"))?;
    match check(file) {
        Ok(s) => Ok(s.quality),
        Err(Incomplete::EndsEarly) => {
            bail!("truncated or corrupt JPEG: file ends early")
        }
        Err(Incomplete::BadStructure(why)) => bail!("truncated or corrupt JPEG: {why}"),
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

/// Turns a decoder error into a short message naming the format and the cause.
fn decode_error(e: ImageError, format: ImageFormat, limits: &Limits) -> anyhow::Error {
    use std::error::Error as _;
    let name = format_name(format);
    match e {
        ImageError::Limits(_) => anyhow!(
            "{name} needs more than the {} MB memory limit to decode (a decompression bomb?)",
            limits.max_alloc() >> 20
        ),
        ImageError::IoError(io) => corrupt(
            name,
            io.kind() == std::io::ErrorKind::UnexpectedEof,
            &io.to_string(),
        ),
        ImageError::Decoding(d) => {
            let cause = d
                .source()
                .map(|s| one_line(&s.to_string()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "invalid data".to_string());
            corrupt(name, false, &cause)
        }
        ImageError::Unsupported(u) => {
            anyhow!("unsupported {name} variant: {}", one_line(&u.to_string()))
        }
        other => anyhow!("cannot decode {name}: {}", one_line(&other.to_string())),
    }
}

/// "truncated or corrupt {name}: {cause}" in one line, for the errors of every decoder (`image`'s
/// and the streaming ones): "file ends early" when `eof` (an unexpected end of file) or when the
/// cause says so in other words ([`tidy_cause`]).
pub(super) fn corrupt(name: &str, eof: bool, cause: &str) -> anyhow::Error {
    let cause = if eof {
        "file ends early".to_string()
    } else {
        tidy_cause(&one_line(cause))
    };
    anyhow!("truncated or corrupt {name}: {cause}")
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

/// How a photo decoded as `color` is held, and what is known of it besides its EXIF and XMP:
/// gray for gray layouts, 16-bit for anything over 8 bits (16-bit, float), f32 samples for
/// float layouts (and any `image` may add later: as RGB(A), `gray` false).
fn storage_and_meta(
    color: image::ColorType,
    icc: Option<Vec<u8>>,
    format: ImageFormat,
) -> (Storage, PhotoMeta) {
    use image::ColorType as C;
    let gray = matches!(color, C::L8 | C::La8 | C::L16 | C::La16);
    let depth = match color {
        C::L8 | C::La8 | C::Rgb8 | C::Rgba8 => Depth::U8,
        C::L16 | C::La16 | C::Rgb16 | C::Rgba16 => Depth::U16,
        _ => Depth::F32,
    };
    let storage = Storage {
        layout: Layout {
            gray,
            alpha: color.has_alpha(),
        },
        depth,
    };
    let meta = PhotoMeta {
        gray,
        sixteen_bit: depth != Depth::U8,
        icc,
        format,
        metadata: Default::default(),
        jpeg_quality: None,
    };
    (storage, meta)
}

/// The decoded buffer becomes the photo's raster as it is (no copy); float samples, which may
/// lie outside `[0, 1]` or be NaN, are clamped (NaN → 0).
fn photo_from_image(img: DynamicImage, icc: Option<Vec<u8>>, format: ImageFormat) -> Photo {
    let (storage, meta) = storage_and_meta(img.color(), icc, format);
    let (width, height) = (img.width() as usize, img.height() as usize);
    let float = |mut v: Vec<f32>| {
        v.par_iter_mut().for_each(|s| *s = clamp01(*s));
        Samples::F32(v)
    };
    let samples = match img {
        DynamicImage::ImageLuma8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageLumaA8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageRgb8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageRgba8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageLuma16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageLumaA16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgb16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgba16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgb32F(b) => float(b.into_raw()),
        DynamicImage::ImageRgba32F(b) => float(b.into_raw()),
        other if storage.layout.alpha => float(other.to_rgba32f().into_raw()),
        other => float(other.to_rgb32f().into_raw()),
    };
    Photo {
        width,
        height,
        raster: Raster {
            layout: storage.layout,
            samples,
        },
        meta,
    }
}
