//! PNG rows through the `png` crate's row reader, with the transformation `image` asks for
//! (`EXPAND`: palette and low bit depths to 8 bits, `tRNS` to an alpha channel), 16-bit samples
//! turned from big-endian to native as `image` does.

use super::RowDecoder;
use crate::photo::{Depth, Layout, Samples, Storage};
use anyhow::{anyhow, bail, Result};
use std::fs::File;
use std::io::{BufReader, Seek};

/// The `png` crate's allocation cap (row buffers and chunks; text and ICC chunks, read already
/// by the header pass, are skipped).
const PNG_LIMIT_BYTES: usize = 64 << 20;

pub(super) struct PngRows {
    reader: png::Reader<BufReader<File>>,
    shape: (usize, usize, Storage),
    /// Rows not decoded yet.
    left: usize,
}

impl PngRows {
    /// A row reader on `file` from its start; `None` for interlaced PNGs (their rows come in
    /// seven passes) and layouts `image` does not decode.
    pub(super) fn open(file: &File) -> Result<Option<PngRows>> {
        let mut file = file.try_clone()?;
        file.rewind()?;
        let limits = png::Limits {
            bytes: PNG_LIMIT_BYTES,
        };
        let mut decoder = png::Decoder::new_with_limits(BufReader::new(file), limits);
        decoder.set_ignore_text_chunk(true);
        decoder.set_ignore_iccp_chunk(true);
        decoder.set_transformations(png::Transformations::EXPAND);
        let reader = decoder.read_info().map_err(png_error)?;
        if reader.info().interlaced {
            return Ok(None);
        }
        use png::{BitDepth as B, ColorType as C};
        let (color, bits) = reader.output_color_type();
        let depth = match bits {
            B::Eight => Depth::U8,
            B::Sixteen => Depth::U16,
            _ => return Ok(None),
        };
        if color == C::Indexed {
            return Ok(None);
        }
        let layout = Layout {
            gray: matches!(color, C::Grayscale | C::GrayscaleAlpha),
            alpha: matches!(color, C::GrayscaleAlpha | C::Rgba),
        };
        let (w, h) = reader.info().size();
        Ok(Some(PngRows {
            reader,
            shape: (w as usize, h as usize, Storage { layout, depth }),
            left: h as usize,
        }))
    }
}

impl RowDecoder for PngRows {
    fn shape(&self) -> (usize, usize, Storage) {
        self.shape
    }

    fn next_row(&mut self, out: &mut Samples) -> Result<()> {
        if self.left == 0 {
            bail!("PNG has no more rows");
        }
        let row = self
            .reader
            .next_row()
            .map_err(png_error)?
            .ok_or_else(|| anyhow!("truncated or corrupt PNG: file ends early"))?;
        match out {
            Samples::U8(s) => s.extend_from_slice(row.data()),
            Samples::U16(s) => s.extend(
                row.data()
                    .chunks_exact(2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]])),
            ),
            Samples::F32(_) => bail!("PNG has no float samples"),
        }
        self.left -= 1;
        if self.left == 0 {
            // The end of the image data, as `image` reads it (checksums included).
            self.reader.next_row().map_err(png_error)?;
        }
        Ok(())
    }
}

/// One line naming the format and the cause, as a whole decode says it.
fn png_error(e: png::DecodingError) -> anyhow::Error {
    let eof = matches!(&e, png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof);
    crate::photo::decode::corrupt("PNG", eof, &e.to_string())
}
