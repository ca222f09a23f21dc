//! BMP written band by band: the header says everything about the file before the first row
//! (its size and where the pixels start), and BMP stores rows bottom up, so each band's rows are
//! written at their own offsets in the file (the temporary output file, renamed into place only
//! once complete) — the last row of the band first, at the lowest offset. The bytes are those
//! `image`'s `BmpEncoder` writes from the whole image: a 40-byte `BITMAPINFOHEADER` (a 108-byte
//! `BITMAPV4HEADER` with bit fields for RGBA), 24-bit BGR, 32-bit BGRA, or 8-bit gray through a
//! 256-entry grey palette (gray + alpha is written without its alpha, as `image` does), each row
//! padded to a multiple of 4 bytes.

use super::rows::Rows;
use crate::photo::{Depth, Layout, Storage};
use anyhow::{anyhow, bail, Result};
use std::io::{Seek, SeekFrom, Write};

const FILE_HEADER: u32 = 14;
const INFO_HEADER: u32 = 40;
const V4_HEADER: u32 = 108;
/// Entries of the grey palette written before the pixels of a gray image (4 bytes each).
const GREY_PALETTE: u32 = 256;

/// Where each part of a BMP file goes, from the photo's size and storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    width: u32,
    height: u32,
    /// Bytes a pixel takes in the file (1, 3 or 4).
    pixel: u32,
    /// `BITMAPINFOHEADER` or `BITMAPV4HEADER`.
    dib_header: u32,
    /// Palette entries (256 for gray, else 0).
    palette: u32,
    /// Bytes of one row, padding included.
    padded_row: u32,
    /// Offset of the pixels (the bottom row) in the file.
    data_offset: u32,
    file_size: u32,
}

impl Geometry {
    fn new(width: usize, height: usize, storage: Storage) -> Result<Geometry> {
        if storage.depth != Depth::U8 {
            bail!("BMP is written from 8-bit samples, not {storage:?}");
        }
        let Layout { gray, alpha } = storage.layout;
        let (pixel, dib_header, palette) = match (gray, alpha) {
            (true, _) => (1, INFO_HEADER, GREY_PALETTE),
            (false, false) => (3, INFO_HEADER, 0),
            (false, true) => (4, V4_HEADER, 0),
        };
        let too_big = || anyhow!("{width}×{height} BMP is over the format's 4 GB");
        // Sides are stored as i32.
        let side = |v: usize| i32::try_from(v).map(|v| v as u32).map_err(|_| too_big());
        let (width, height) = (side(width)?, side(height)?);
        let padded_row = width
            .checked_mul(pixel)
            .and_then(|v| v.checked_next_multiple_of(4))
            .ok_or_else(too_big)?;
        let data_offset = FILE_HEADER + dib_header + palette * 4;
        let file_size = padded_row
            .checked_mul(height)
            .and_then(|v| v.checked_add(data_offset))
            .ok_or_else(too_big)?;
        Ok(Geometry {
            width,
            height,
            pixel,
            dib_header,
            palette,
            padded_row,
            data_offset,
            file_size,
        })
    }

    /// The headers and the palette: every byte before the pixels.
    fn header_bytes(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(self.data_offset as usize);
        let u32s = |h: &mut Vec<u8>, values: &[u32]| {
            values.iter().for_each(|v| h.extend(v.to_le_bytes()));
        };
        h.extend(b"BM");
        u32s(&mut h, &[self.file_size, 0, self.data_offset]);
        u32s(&mut h, &[self.dib_header, self.width, self.height]);
        h.extend(1u16.to_le_bytes()); // colour planes
        h.extend((self.pixel as u16 * 8).to_le_bytes()); // bits per pixel
        let v4 = self.dib_header == V4_HEADER;
        // Compression (3: bit fields), image size, resolution (none), palette size, all
        // colours important.
        let image_size = self.file_size - self.data_offset;
        u32s(&mut h, &[if v4 { 3 } else { 0 }, image_size, 0, 0]);
        u32s(&mut h, &[self.palette, 0]);
        if v4 {
            // RGBA masks of BGRA pixels, sRGB, then endpoints (3×3) and gamma (3), all 0.
            u32s(
                &mut h,
                &[0xff << 16, 0xff << 8, 0xff, 0xff << 24, 0x7352_4742],
            );
            u32s(&mut h, &[0; 12]);
        }
        for v in 0..self.palette {
            h.extend([v as u8, v as u8, v as u8, 0]);
        }
        h
    }

    /// Offset of the photo's row `y` (rows are stored bottom up).
    fn row_offset(&self, y: usize) -> u64 {
        u64::from(self.data_offset)
            + (u64::from(self.height) - 1 - y as u64) * u64::from(self.padded_row)
    }
}

/// Checks that a `width × height` photo held as `storage` can be written as BMP (8-bit, under
/// 4 GB).
pub(super) fn check(width: usize, height: usize, storage: Storage) -> Result<()> {
    Geometry::new(width, height, storage).map(|_| ())
}

/// Writes the rows (8-bit gray, gray + alpha, RGB or RGBA) as BMP, each band as it comes.
pub(super) fn encode_bmp<W: Write + Seek>(
    mut out: W,
    rows: &mut Rows<'_>,
    (width, height): (u32, u32),
) -> Result<()> {
    let geometry = Geometry::new(width as usize, height as usize, rows.storage())?;
    out.write_all(&geometry.header_bytes())?;
    let channels = rows.storage().layout.channels();
    let mut bytes = Vec::with_capacity(geometry.padded_row as usize);
    while rows.left() > 0 {
        let y0 = height as usize - rows.left();
        let band = rows.next::<u8>(usize::MAX)?;
        let last = y0 + band.len() / (width as usize * channels) - 1;
        out.seek(SeekFrom::Start(geometry.row_offset(last)))?;
        // The band's rows bottom up: the order they lie in the file.
        for row in band.rchunks_exact(width as usize * channels) {
            bytes.clear();
            match geometry.pixel {
                1 => bytes.extend(row.iter().step_by(channels)),
                3 => bytes.extend(row.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]])),
                _ => bytes.extend(row.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0], p[3]])),
            }
            bytes.resize(geometry.padded_row as usize, 0);
            out.write_all(&bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_over_four_gigabytes_are_refused_before_any_byte() {
        let rgb = Storage {
            layout: Layout::RGB,
            depth: Depth::U8,
        };
        let g = Geometry::new(3, 2, rgb).unwrap();
        assert_eq!((g.padded_row, g.data_offset, g.file_size), (12, 54, 78));
        assert_eq!((g.row_offset(0), g.row_offset(1)), (66, 54));
        let e = Geometry::new(40_000, 40_000, rgb).unwrap_err();
        assert!(
            e.to_string().contains("BMP is over the format's 4 GB"),
            "{e}"
        );
        let e = Geometry::new(
            2,
            2,
            Storage {
                depth: Depth::U16,
                ..rgb
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("8-bit"), "{e}");
    }
}
