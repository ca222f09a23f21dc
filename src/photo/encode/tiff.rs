//! TIFF through the `tiff` crate (the `image` encoder writes no EXIF or XMP): uncompressed
//! strips of the crate's default size (about 1 MB), written as the rows arrive — the same bytes
//! its `write_data` writes from a whole image — with the ICC profile, the EXIF block as the
//! image's own tags plus Exif and GPS directories ([`ExifTags`]), and XMP in tag 700.

use super::rows::{Rows, Typed};
use super::Extras;
use crate::photo::metadata::ExifTags;
use crate::photo::{Depth, Layout};
use anyhow::{bail, Result};
use std::io::{Seek, Write};
use tiff::encoder::colortype::{self as ct, ColorType};
use tiff::encoder::{TiffEncoder, TiffValue};

/// Writes the rows (8 or 16 bits, gray, RGB or RGBA) as TIFF.
pub(super) fn encode_tiff<W: Write + Seek>(
    out: W,
    rows: &mut Rows<'_>,
    size: (u32, u32),
    extras: Extras<'_>,
) -> Result<()> {
    let Extras { icc, exif, xmp } = extras;
    let mut encoder = TiffEncoder::new(out)?;
    let tags = exif.and_then(ExifTags::from_exif).unwrap_or_default();
    let pointers = tags.write_sub_dirs(&mut encoder)?;
    let extra = TiffExtra {
        tags: &tags,
        pointers: &pointers,
        icc,
        xmp,
    };
    let e = &mut encoder;
    let storage = rows.storage();
    let Layout { gray, alpha } = storage.layout;
    match (gray, alpha, storage.depth) {
        (true, false, Depth::U8) => tiff_image::<_, ct::Gray8>(e, size, rows, &extra),
        (false, false, Depth::U8) => tiff_image::<_, ct::RGB8>(e, size, rows, &extra),
        (false, true, Depth::U8) => tiff_image::<_, ct::RGBA8>(e, size, rows, &extra),
        (true, false, Depth::U16) => tiff_image::<_, ct::Gray16>(e, size, rows, &extra),
        (false, false, Depth::U16) => tiff_image::<_, ct::RGB16>(e, size, rows, &extra),
        (false, true, Depth::U16) => tiff_image::<_, ct::RGBA16>(e, size, rows, &extra),
        _ => bail!("TIFF has no {storage:?} layout here"),
    }
}

/// What a TIFF image's directory carries besides the pixels.
struct TiffExtra<'a> {
    tags: &'a ExifTags,
    pointers: &'a [(u16, u32)],
    icc: Option<&'a [u8]>,
    xmp: Option<&'a [u8]>,
}

fn tiff_image<W: Write + Seek, C: ColorType>(
    encoder: &mut TiffEncoder<W>,
    (width, height): (u32, u32),
    rows: &mut Rows<'_>,
    extra: &TiffExtra<'_>,
) -> Result<()>
where
    C::Inner: Typed,
    [C::Inner]: TiffValue,
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
    let mut strip = Vec::new();
    loop {
        let samples = image.next_strip_sample_count() as usize;
        if samples == 0 {
            break;
        }
        rows.read(samples / rows.row_len(), &mut strip)?;
        image.write_strip(&strip)?;
    }
    image.finish()?;
    Ok(())
}
