//! Camera metadata carried from a photo to its outputs: the EXIF block and the XMP packet.
//!
//! Both are read on load (`decode.rs`, through the `image` decoders; for TIFF input the EXIF tags
//! are taken from the file's own first directory by [`exif_from_tiff_file`]) and written by
//! `encode.rs` in JPEG, PNG, WebP and TIFF. Before they are written, [`for_output`] brings them in
//! line with the pixels actually written, which are upright (the orientation was applied on
//! load) and may be larger:
//!
//! - EXIF ([`exif_for_output`]): Orientation (IFD0 0x0112) set to 1; ImageWidth/ImageLength
//!   (IFD0 0x0100/0x0101) and PixelXDimension/PixelYDimension (Exif IFD 0xA002/0xA003) set to the
//!   output size where present; the thumbnail directory (IFD1) unlinked, since it shows the
//!   input, unrotated, and cut off when it ends the block. The block is patched in place, so
//!   every other byte (maker notes included) keeps its value and offset.
//! - XMP ([`xmp_for_output`]): the same properties (`tiff:Orientation`, `tiff:ImageWidth`,
//!   `tiff:ImageLength`, `exif:PixelXDimension`, `exif:PixelYDimension`) rewritten in the
//!   packet's text, in attribute or element form.
//!
//! An EXIF block that does not parse as a TIFF structure is dropped (its orientation could not be
//! reset, and viewers would rotate the upright output again), as is an XMP packet that is not
//! UTF-8.
//!
//! TIFF output has no EXIF block: [`ExifTags`] turns the block into the image's own tags (camera,
//! date, copyright…) plus Exif and GPS sub-directories, written by the `tiff` crate (in the
//! machine's byte order). Maker notes are left out there (their internal offsets would point
//! nowhere), as are values over 64 KiB.
//!
//! The parser walks IFD0, its Exif and GPS directories, the Exif IFD's Interoperability directory
//! and IFD1; every read is bounds-checked, in either byte order.

use image::{ImageDecoder, ImageFormat};
use std::io::{Seek, Write};
use std::ops::Range;
use std::path::Path;
use tiff::encoder::{DirectoryEncoder, TiffEncoder, TiffKindStandard};
use tiff::tags::{Tag, Type};
use tiff::{Directory, TiffResult};

/// The metadata of a photo: the EXIF block (a TIFF structure, as it follows `Exif\0\0` in a
/// JPEG's APP1 segment) and the XMP packet, as read from the source.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub exif: Option<Vec<u8>>,
    pub xmp: Option<Vec<u8>>,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("exif_bytes", &self.exif.as_ref().map(Vec::len))
            .field("xmp_bytes", &self.xmp.as_ref().map(Vec::len))
            .finish()
    }
}

impl Metadata {
    /// Metadata as read by a decoder: empty blocks count as none, a leading `Exif\0\0` (left by
    /// some WebP and PNG writers) is removed.
    pub fn new(exif: Option<Vec<u8>>, xmp: Option<Vec<u8>>) -> Self {
        let exif = exif.map(|mut e| {
            if e.starts_with(EXIF_PREFIX) {
                e.drain(..EXIF_PREFIX.len());
            }
            e
        });
        Metadata {
            exif: exif.filter(|e| !e.is_empty()),
            xmp: xmp.filter(|x| !x.is_empty()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.exif.is_none() && self.xmp.is_none()
    }
}

/// The EXIF and XMP of the image `decoder` reads (`format`, from `path`). Unreadable metadata
/// counts as none: it is not worth refusing a photo for.
pub fn read(decoder: &mut dyn ImageDecoder, format: ImageFormat, path: &Path) -> Metadata {
    // `image` reads TIFF's XMP tag but not its EXIF tags, which are the file's own.
    let exif = if format == ImageFormat::Tiff {
        exif_from_tiff_file(path)
    } else {
        decoder.exif_metadata().ok().flatten()
    };
    Metadata::new(exif, decoder.xmp_metadata().ok().flatten())
}

/// What is written with an output `width`×`height`: see the module docs.
pub fn for_output(meta: &Metadata, width: u32, height: u32) -> Metadata {
    Metadata {
        exif: meta
            .exif
            .as_deref()
            .and_then(|e| exif_for_output(e, width, height)),
        xmp: meta
            .xmp
            .as_deref()
            .and_then(|x| xmp_for_output(x, width, height)),
    }
}

/// The APP1 identifier before an EXIF block in JPEG.
pub const EXIF_PREFIX: &[u8] = b"Exif\0\0";

// Tags.
const IMAGE_WIDTH: u16 = 0x0100;
const IMAGE_LENGTH: u16 = 0x0101;
const ORIENTATION: u16 = 0x0112;
const JPEG_IF_OFFSET: u16 = 0x0201;
const SUB_IFDS: u16 = 0x014A;
const EXIF_IFD: u16 = 0x8769;
const GPS_IFD: u16 = 0x8825;
const INTEROP_IFD: u16 = 0xA005;
const PIXEL_X: u16 = 0xA002;
const PIXEL_Y: u16 = 0xA003;
const MAKER_NOTE: u16 = 0x927C;

// Types.
const SHORT: u16 = 3;
const LONG: u16 = 4;
const IFD: u16 = 13;

/// Bytes per value of a TIFF field type, `None` for types this parser does not know.
fn type_size(ty: u16) -> Option<usize> {
    match ty {
        1 | 2 | 6 | 7 => Some(1),   // BYTE, ASCII, SBYTE, UNDEFINED
        3 | 8 => Some(2),           // SHORT, SSHORT
        4 | 9 | 11 | 13 => Some(4), // LONG, SLONG, FLOAT, IFD
        5 | 10 | 12 => Some(8),     // RATIONAL, SRATIONAL, DOUBLE
        _ => None,
    }
}

/// Size of the parts a value of type `ty` is byte-swapped in (rationals are two LONGs).
fn swap_unit(ty: u16) -> usize {
    match ty {
        5 | 10 => 4,
        t => type_size(t).unwrap_or(1),
    }
}

/// A TIFF structure in a byte slice; every read is bounds-checked.
#[derive(Clone, Copy)]
struct Tiff<'a> {
    data: &'a [u8],
    little_endian: bool,
}

/// One 12-byte directory entry.
#[derive(Clone, Debug)]
struct Entry {
    tag: u16,
    ty: u16,
    count: u32,
    /// Position of the entry itself.
    at: usize,
    /// Where its value lies (inline in the entry when it fits in 4 bytes); `None` for an unknown
    /// type or a value outside the block.
    value: Option<Range<usize>>,
}

/// One directory: its entries and the position of its next-directory link.
#[derive(Clone, Debug)]
struct Dir {
    at: usize,
    entries: Vec<Entry>,
    next_at: usize,
}

impl Dir {
    /// Bytes the directory itself occupies.
    fn span(&self) -> Range<usize> {
        self.at..self.next_at + 4
    }

    fn get(&self, tag: u16) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }
}

/// The directories of an EXIF block.
struct Walk {
    ifd0: Dir,
    exif: Option<Dir>,
    gps: Option<Dir>,
    interop: Option<Dir>,
    ifd1: Option<Dir>,
}

impl<'a> Tiff<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let little_endian = match data.get(..4)? {
            b"II*\0" => true,
            b"MM\0*" => false,
            _ => return None,
        };
        Some(Tiff {
            data,
            little_endian,
        })
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// The directory at `at`, or `None` if it does not fit in the block.
    fn dir(&self, at: usize) -> Option<Dir> {
        if at < 8 {
            return None;
        }
        let n = usize::from(self.u16_at(at)?);
        let next_at = at + 2 + 12 * n;
        if next_at.checked_add(4)? > self.data.len() {
            return None;
        }
        let entries = (0..n)
            .map(|i| {
                let at = at + 2 + 12 * i;
                let (tag, ty, count) = (
                    self.u16_at(at).unwrap_or(0),
                    self.u16_at(at + 2).unwrap_or(0),
                    self.u32_at(at + 4).unwrap_or(0),
                );
                Entry {
                    tag,
                    ty,
                    count,
                    at,
                    value: self.value_range(at, ty, count),
                }
            })
            .collect();
        Some(Dir {
            at,
            entries,
            next_at,
        })
    }

    fn value_range(&self, at: usize, ty: u16, count: u32) -> Option<Range<usize>> {
        let len = type_size(ty)?.checked_mul(usize::try_from(count).ok()?)?;
        let start = if len <= 4 {
            at + 8
        } else {
            usize::try_from(self.u32_at(at + 8)?).ok()?
        };
        let end = start.checked_add(len)?;
        (end <= self.data.len()).then_some(start..end)
    }

    /// The directory an IFD-pointer entry of `dir` points to.
    fn sub_dir(&self, dir: &Dir, tag: u16) -> Option<Dir> {
        let e = dir.get(tag)?;
        if e.count != 1 || !matches!(e.ty, LONG | IFD) {
            return None;
        }
        self.dir(usize::try_from(self.u32_at(e.at + 8)?).ok()?)
    }

    fn walk(&self) -> Option<Walk> {
        let ifd0 = self.dir(usize::try_from(self.u32_at(4)?).ok()?)?;
        let exif = self.sub_dir(&ifd0, EXIF_IFD);
        let gps = self.sub_dir(&ifd0, GPS_IFD);
        let interop = exif.as_ref().and_then(|d| self.sub_dir(d, INTEROP_IFD));
        let ifd1 = match self.u32_at(ifd0.next_at)? {
            0 => None,
            at => self.dir(usize::try_from(at).ok()?),
        };
        Some(Walk {
            ifd0,
            exif,
            gps,
            interop,
            ifd1,
        })
    }

    /// Values of type `ty` in `bytes` converted from this block's byte order to the machine's.
    fn native(&self, ty: u16, bytes: &[u8]) -> Vec<u8> {
        let unit = swap_unit(ty);
        let mut out = bytes.to_vec();
        if unit > 1 && self.little_endian != cfg!(target_endian = "little") {
            out.chunks_exact_mut(unit).for_each(<[u8]>::reverse);
        }
        out
    }
}

/// Writes `v` as a single SHORT (when the entry was a SHORT and `v` fits) or LONG into the
/// 12-byte entry at `e.at` of `out`, whose byte order is `little_endian`.
fn set_uint(out: &mut [u8], little_endian: bool, e: &Entry, v: u32) {
    let short = e.ty == SHORT && v <= u32::from(u16::MAX);
    let mut entry = [0u8; 10];
    let (ty, count) = (if short { SHORT } else { LONG }, 1u32);
    if little_endian {
        entry[..2].copy_from_slice(&ty.to_le_bytes());
        entry[2..6].copy_from_slice(&count.to_le_bytes());
        if short {
            entry[6..8].copy_from_slice(&(v as u16).to_le_bytes());
        } else {
            entry[6..10].copy_from_slice(&v.to_le_bytes());
        }
    } else {
        entry[..2].copy_from_slice(&ty.to_be_bytes());
        entry[2..6].copy_from_slice(&count.to_be_bytes());
        if short {
            entry[6..8].copy_from_slice(&(v as u16).to_be_bytes());
        } else {
            entry[6..10].copy_from_slice(&v.to_be_bytes());
        }
    }
    // The tag (2 bytes) stays; type, count and the inline value follow it. `dir` checked that
    // the whole entry lies in the block.
    out[e.at + 2..e.at + 12].copy_from_slice(&entry);
}

/// The EXIF block to write with an output of `width`×`height` pixels: see the module docs.
/// `None` if `exif` is not a TIFF structure with a readable IFD0.
pub fn exif_for_output(exif: &[u8], width: u32, height: u32) -> Option<Vec<u8>> {
    let exif = exif.strip_prefix(EXIF_PREFIX).unwrap_or(exif);
    let tiff = Tiff::parse(exif)?;
    let walk = tiff.walk()?;
    let mut out = exif.to_vec();
    let le = tiff.little_endian;
    for e in &walk.ifd0.entries {
        match e.tag {
            ORIENTATION => set_uint(&mut out, le, e, 1),
            IMAGE_WIDTH => set_uint(&mut out, le, e, width),
            IMAGE_LENGTH => set_uint(&mut out, le, e, height),
            _ => {}
        }
    }
    for e in walk.exif.iter().flat_map(|d| &d.entries) {
        match e.tag {
            PIXEL_X => set_uint(&mut out, le, e, width),
            PIXEL_Y => set_uint(&mut out, le, e, height),
            _ => {}
        }
    }
    if let Some(ifd1) = &walk.ifd1 {
        // Unlink the thumbnail; cut it off when nothing else lies after its start.
        let next = walk.ifd0.next_at;
        out[next..next + 4].fill(0);
        let kept = [
            Some(&walk.ifd0),
            walk.exif.as_ref(),
            walk.gps.as_ref(),
            walk.interop.as_ref(),
        ];
        let kept: Vec<&Dir> = kept.into_iter().flatten().collect();
        // Directories this parser does not follow may hold data anywhere: cut only without them.
        let unknown_pointers = kept.iter().flat_map(|d| &d.entries).any(|e| {
            e.tag == SUB_IFDS || (e.ty == IFD && ![EXIF_IFD, GPS_IFD, INTEROP_IFD].contains(&e.tag))
        });
        let used_end = kept
            .iter()
            .flat_map(|d| {
                std::iter::once(d.span().end).chain(
                    d.entries
                        .iter()
                        .filter_map(|e| e.value.as_ref().map(|v| v.end)),
                )
            })
            .fold(8, usize::max);
        let thumb_start = ifd1
            .get(JPEG_IF_OFFSET)
            .and_then(|e| tiff.u32_at(e.at + 8))
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(usize::MAX);
        if !unknown_pointers && ifd1.at >= used_end && thumb_start >= used_end {
            out.truncate(used_end);
        }
    }
    Some(out)
}

/// The XMP packet to write with an output of `width`×`height` pixels: see the module docs.
/// `None` if it is not UTF-8.
pub fn xmp_for_output(xmp: &[u8], width: u32, height: u32) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(xmp).ok()?;
    let (w, h) = (width.to_string(), height.to_string());
    let mut text = text.to_string();
    for (name, value) in [
        ("tiff:Orientation", "1"),
        ("tiff:ImageWidth", w.as_str()),
        ("tiff:ImageLength", h.as_str()),
        ("exif:PixelXDimension", w.as_str()),
        ("exif:PixelYDimension", h.as_str()),
    ] {
        text = set_xmp_property(&text, name, value);
    }
    Some(text.into_bytes())
}

/// `xml` with every simple value of the property `name` (a qualified name such as
/// `tiff:Orientation`) replaced by `value`, in attribute form (`tiff:Orientation="6"`) and
/// element form (`<tiff:Orientation>6</tiff:Orientation>`).
fn set_xmp_property(xml: &str, name: &str, value: &str) -> String {
    let is_name_char = |c: char| c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.');
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().next_back();
        let after = &rest[i + name.len()..];
        out.push_str(&rest[..i + name.len()]);
        rest = after;
        if after.starts_with(is_name_char) {
            continue; // a longer name
        }
        match before {
            // Element form: the text up to the next tag.
            Some('<') => {
                let Some(body) = after.strip_prefix('>') else {
                    continue;
                };
                let Some(end) = body.find('<') else {
                    continue;
                };
                out.push('>');
                out.push_str(value);
                rest = &body[end..];
            }
            // Attribute form: name = 'v' or "v".
            Some(c) if c.is_whitespace() => {
                let eq = after.trim_start();
                let Some(v) = eq.strip_prefix('=') else {
                    continue;
                };
                let v = v.trim_start();
                let Some(quote) = v.chars().next().filter(|q| matches!(q, '"' | '\'')) else {
                    continue;
                };
                let Some(end) = v[1..].find(quote) else {
                    continue;
                };
                out.push_str(&after[..after.len() - v.len() + 1]);
                out.push_str(value);
                rest = &v[1 + end..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

/// One EXIF entry with its value in the machine's byte order, ready for the `tiff` encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub tag: u16,
    /// TIFF field type (1–12).
    pub ty: u16,
    pub value: Vec<u8>,
}

/// An EXIF block as TIFF tags: see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExifTags {
    /// Tags of the image's own directory (camera, date, copyright, resolution…).
    pub image: Vec<Field>,
    /// The Exif sub-directory (exposure, lens, dates…), without its Interoperability pointer.
    pub exif: Vec<Field>,
    /// The Exif IFD's Interoperability directory.
    pub interop: Vec<Field>,
    /// The GPS sub-directory.
    pub gps: Vec<Field>,
}

/// IFD0 tags that describe how pixels are stored, or that the encoder writes itself: never
/// copied from an EXIF block into a TIFF image's directory.
const STRUCTURAL: &[u16] = &[
    0x00FE, 0x00FF, // NewSubfileType, SubfileType
    0x0100, 0x0101, 0x0102, 0x0103, // ImageWidth, ImageLength, BitsPerSample, Compression
    0x0106, 0x0107, 0x0108, 0x0109,
    0x010A, // Photometric, Threshholding, CellWidth/Length, FillOrder
    0x0111, 0x0115, 0x0116,
    0x0117, // StripOffsets, SamplesPerPixel, RowsPerStrip, StripByteCounts
    0x0118, 0x0119, 0x011C, 0x0122, 0x0123, // Min/MaxSampleValue, PlanarConfig, Gray*
    0x0124, 0x0125, 0x0140, 0x013D, // T4/T6 options, ColorMap, Predictor
    0x0142, 0x0143, 0x0144, 0x0145, 0x014A, // tiles, SubIFDs
    0x0152, 0x0153, 0x0154, 0x0155, // ExtraSamples, SampleFormat, S/MaxSampleValue
    0x015B, 0x0200, 0x0201, 0x0202, // JPEGTables, JPEG (old style)
    0x0203, 0x0205, 0x0206, 0x0207, 0x0208, 0x0209, // more old-style JPEG
    0x0211, 0x0212, 0x0213, 0x0214, // YCbCr*, ReferenceBlackWhite
    0x02BC, 0x8773, // XMP, ICC profile: written from the photo's own
    EXIF_IFD, GPS_IFD, 0xA005, // pointers, rewritten
    0x83BB, 0x8649, // IPTC, Photoshop: not carried elsewhere either
    0x935C, 0xC612, // ImageSourceData, DNGVersion
];

/// Largest value [`ExifTags`] copies: camera tags are far smaller; a TIFF file's own private
/// tags (layers, previews) can be large, and a JPEG's EXIF block is 64 KiB at most anyway.
const MAX_FIELD_BYTES: usize = 1 << 16;

impl ExifTags {
    /// The tags of an EXIF block, or of a TIFF file's first image (its pixel-layout tags left
    /// out); `None` if it does not parse.
    pub fn from_exif(exif: &[u8]) -> Option<Self> {
        let tiff = Tiff::parse(exif)?;
        let walk = tiff.walk()?;
        let fields = |dir: Option<&Dir>, keep: &dyn Fn(u16) -> bool| -> Vec<Field> {
            dir.iter()
                .flat_map(|d| &d.entries)
                .filter(|e| keep(e.tag) && e.ty != IFD)
                .filter_map(|e| {
                    let range = e.value.clone().filter(|r| r.len() <= MAX_FIELD_BYTES)?;
                    Some(Field {
                        tag: e.tag,
                        ty: e.ty,
                        value: tiff.native(e.ty, &tiff.data[range]),
                    })
                })
                .collect()
        };
        Some(ExifTags {
            image: fields(Some(&walk.ifd0), &|t| !STRUCTURAL.contains(&t)),
            exif: fields(walk.exif.as_ref(), &|t| t != INTEROP_IFD && t != MAKER_NOTE),
            interop: fields(walk.interop.as_ref(), &|_| true),
            gps: fields(walk.gps.as_ref(), &|_| true),
        })
    }

    /// No tags worth a block: none, or only the resolution every TIFF writer puts in.
    pub fn is_empty(&self) -> bool {
        const RESOLUTION: [u16; 3] = [0x011A, 0x011B, 0x0128];
        self.image.iter().all(|f| RESOLUTION.contains(&f.tag))
            && self.exif.is_empty()
            && self.gps.is_empty()
    }

    /// Writes the Exif (with its Interoperability directory) and GPS directories through `enc`,
    /// unlinked; returns the pointer tags the image's directory must hold.
    pub fn write_sub_dirs<W: Write + Seek>(
        &self,
        enc: &mut TiffEncoder<W>,
    ) -> TiffResult<Vec<(u16, u32)>> {
        let mut sub = |fields: &[Field], pointers: &[(u16, u32)]| -> TiffResult<Option<u32>> {
            if fields.is_empty() && pointers.is_empty() {
                return Ok(None);
            }
            let mut dir = enc.extra_directory()?;
            write_fields(&mut dir, fields, pointers)?;
            Ok(Some(dir.finish_with_offsets()?.offset))
        };
        let interop = sub(&self.interop, &[])?;
        let mut pointers = Vec::new();
        let interop: Vec<(u16, u32)> = interop.map(|o| (INTEROP_IFD, o)).into_iter().collect();
        if let Some(o) = sub(&self.exif, &interop)? {
            pointers.push((EXIF_IFD, o));
        }
        if let Some(o) = sub(&self.gps, &[])? {
            pointers.push((GPS_IFD, o));
        }
        Ok(pointers)
    }

    /// Adds the image-directory tags and the sub-directory `pointers` to `dir`.
    pub fn write_image_tags<W: Write + Seek>(
        &self,
        dir: &mut DirectoryEncoder<'_, W, TiffKindStandard>,
        pointers: &[(u16, u32)],
    ) -> TiffResult<()> {
        write_fields(dir, &self.image, pointers)
    }

    /// A standalone EXIF block (a TIFF structure in the machine's byte order, as the `tiff`
    /// encoder writes) holding these tags, `None` when there are none.
    pub fn to_exif(&self) -> Option<Vec<u8>> {
        if self.is_empty() {
            return None;
        }
        let mut out = std::io::Cursor::new(Vec::new());
        let written: TiffResult<()> = (|| {
            let mut enc = TiffEncoder::new(&mut out)?;
            let pointers = self.write_sub_dirs(&mut enc)?;
            let mut dir = enc.image_directory()?;
            self.write_image_tags(&mut dir, &pointers)?;
            dir.finish()
        })();
        written.ok()?;
        Some(out.into_inner())
    }
}

/// Writes `fields` (values in the machine's byte order, as the `tiff` encoder writes) and the
/// LONG `pointers` into `dir`.
fn write_fields<W: Write + Seek>(
    dir: &mut DirectoryEncoder<'_, W, TiffKindStandard>,
    fields: &[Field],
    pointers: &[(u16, u32)],
) -> TiffResult<()> {
    let mut entries = Directory::empty();
    for f in fields {
        let Some(ty) = Type::from_u16(f.ty) else {
            continue;
        };
        let entry = dir.write_entry_bytes(ty, &f.value)?;
        entries.extend([(Tag::from_u16_exhaustive(f.tag), entry)]);
    }
    dir.extend_from(&entries);
    for &(tag, offset) in pointers {
        dir.write_tag(Tag::from_u16_exhaustive(tag), offset)?;
    }
    Ok(())
}

/// The EXIF tags of a TIFF file (camera, date, copyright, Exif and GPS directories of its first
/// image), as a standalone EXIF block; `None` when it has none or cannot be read. The file is
/// mapped, not read: only its directories are touched.
pub fn exif_from_tiff_file(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: the map is read-only and dropped before returning. aetool never writes an input
    // (outputs go through a temp file + rename); bytes changed meanwhile by another program can
    // only give wrong tags, which the bounds-checked parser tolerates.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    ExifTags::from_exif(&map)?.to_exif()
}

#[cfg(test)]
pub(crate) mod tests;
