//! PNG through the `png` crate (the `image` encoder writes no XMP), streamed: rows go into the
//! compressor as their bands arrive, so neither the pixels nor the compressed image are held
//! whole.

use super::rows::Rows;
use super::{Extras, PngCompression};
use crate::photo::Depth;
use anyhow::{bail, Result};
use std::borrow::Cow;
use std::io::Write;

/// The `iTXt` keyword of an XMP packet in PNG.
const PNG_XMP_KEY: &str = "XML:com.adobe.xmp";

/// Most compressed bytes per `IDAT` chunk.
const IDAT_BYTES: usize = 1 << 20;

/// Most bytes of one big-endian copy of 16-bit rows (PNG samples are big-endian; the rows are
/// converted a few at a time).
const BE_BYTES: usize = 1 << 20;

/// Writes the rows as PNG: ICC in `iCCP`, EXIF in `eXIf`, XMP in an uncompressed `iTXt` chunk
/// keyed `XML:com.adobe.xmp`, all before the pixels.
pub(super) fn encode_png<W: Write>(
    out: W,
    rows: &mut Rows<'_>,
    (width, height): (u32, u32),
    extras: Extras<'_>,
    compression: PngCompression,
) -> Result<()> {
    let Extras { icc, exif, xmp } = extras;
    let storage = rows.storage();
    use png::{BitDepth as D, ColorType as C};
    let ct = match (storage.layout.gray, storage.layout.alpha) {
        (true, false) => C::Grayscale,
        (true, true) => C::GrayscaleAlpha,
        (false, false) => C::Rgb,
        (false, true) => C::Rgba,
    };
    let depth = match storage.depth {
        Depth::U8 => D::Eight,
        Depth::U16 => D::Sixteen,
        Depth::F32 => bail!("PNG has no float layout"),
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
    let mut stream = writer.stream_writer_with_size(IDAT_BYTES)?;
    if depth == D::Eight {
        while rows.left() > 0 {
            stream.write_all(rows.next::<u8>(usize::MAX)?)?;
        }
    } else {
        let per_chunk = BE_BYTES / (2 * rows.row_len());
        let mut be = Vec::new();
        while rows.left() > 0 {
            be.clear();
            be.extend(
                rows.next::<u16>(per_chunk)?
                    .iter()
                    .flat_map(|s| s.to_be_bytes()),
            );
            stream.write_all(&be)?;
        }
    }
    stream.finish()?;
    writer.finish()?;
    Ok(())
}
