//! TIFF rows through the `tiff` crate, a strip at a time: the crate undoes the compression and
//! predictor (and inverts WhiteIsZero) per strip exactly as it does for a whole image. Only the
//! layouts `image` takes as they are stream: interleaved 8- or 16-bit unsigned gray, gray +
//! alpha, RGB or RGBA in strips; tiled, planar, CMYK, 1-bit, float and larger strips than
//! [`MAX_CHUNK_BYTES`] are decoded whole.

use super::{RowDecoder, MAX_CHUNK_BYTES};
use crate::photo::{Depth, Layout, Samples, Storage};
use anyhow::{bail, Result};
use std::fs::File;
use std::io::{BufReader, Seek};
use tiff::decoder::{ChunkType, Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

/// Most bytes of one tag value (strip offsets, ICC profile, XMP).
const IFD_VALUE_BYTES: usize = 16 << 20;

pub(super) struct TiffRows {
    decoder: Decoder<BufReader<File>>,
    shape: (usize, usize, Storage),
    next_strip: u32,
    /// The strip being handed out, and how many of its samples were.
    strip: Samples,
    at: usize,
}

impl TiffRows {
    /// A strip reader on `file` from its start; `None` for the layouts the module docs list.
    pub(super) fn open(file: &File) -> Result<Option<TiffRows>> {
        let mut file = file.try_clone()?;
        file.rewind()?;
        let mut limits = tiff::decoder::Limits::default();
        limits.decoding_buffer_size = MAX_CHUNK_BYTES;
        limits.ifd_value_size = IFD_VALUE_BYTES;
        let mut decoder = Decoder::new(BufReader::new(file))
            .map_err(tiff_error)?
            .with_limits(limits);
        let storage = |gray, alpha, bits| {
            let depth = match bits {
                8 => Depth::U8,
                16 => Depth::U16,
                _ => return None,
            };
            Some(Storage {
                layout: Layout { gray, alpha },
                depth,
            })
        };
        let storage = match decoder.colortype().map_err(tiff_error)? {
            ColorType::Gray(b) => storage(true, false, b),
            ColorType::GrayA(b) => storage(true, true, b),
            ColorType::RGB(b) => storage(false, false, b),
            ColorType::RGBA(b) => storage(false, true, b),
            _ => None,
        };
        let unsigned = decoder
            .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
            .map_err(tiff_error)?
            .is_none_or(|formats| formats.iter().all(|&f| f == 1));
        let planar = decoder
            .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
            .map_err(tiff_error)?
            == Some(2);
        let (w, h) = decoder.dimensions().map_err(tiff_error)?;
        let (_, strip_rows) = decoder.chunk_dimensions();
        let Some(storage) = storage.filter(|_| unsigned && !planar) else {
            return Ok(None);
        };
        let strip_bytes = w as usize * strip_rows as usize * storage.bytes_per_pixel();
        if decoder.get_chunk_type() != ChunkType::Strip || strip_bytes > MAX_CHUNK_BYTES {
            return Ok(None);
        }
        Ok(Some(TiffRows {
            decoder,
            shape: (w as usize, h as usize, storage),
            next_strip: 0,
            strip: Samples::U8(Vec::new()),
            at: 0,
        }))
    }
}

impl RowDecoder for TiffRows {
    fn shape(&self) -> (usize, usize, Storage) {
        self.shape
    }

    fn next_row(&mut self, out: &mut Samples) -> Result<()> {
        let (w, _, storage) = self.shape;
        let row = w * storage.layout.channels();
        let held = match &self.strip {
            Samples::U8(s) => s.len(),
            Samples::U16(s) => s.len(),
            Samples::F32(s) => s.len(),
        };
        if self.at + row > held {
            self.strip = match self
                .decoder
                .read_chunk(self.next_strip)
                .map_err(tiff_error)?
            {
                DecodingResult::U8(v) => Samples::U8(v),
                DecodingResult::U16(v) => Samples::U16(v),
                _ => bail!("TIFF strip {} is not 8- or 16-bit", self.next_strip),
            };
            self.next_strip += 1;
            self.at = 0;
        }
        let span = self.at..self.at + row;
        match (&self.strip, out) {
            (Samples::U8(s), Samples::U8(o)) if span.end <= s.len() => {
                o.extend_from_slice(&s[span])
            }
            (Samples::U16(s), Samples::U16(o)) if span.end <= s.len() => {
                o.extend_from_slice(&s[span])
            }
            _ => bail!(
                "truncated or corrupt TIFF: strip {} does not hold its rows",
                self.next_strip - 1
            ),
        }
        self.at += row;
        Ok(())
    }
}

/// One line naming the format and the cause, as a whole decode says it.
fn tiff_error(e: tiff::TiffError) -> anyhow::Error {
    let eof = matches!(&e, tiff::TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof);
    crate::photo::decode::corrupt("TIFF", eof, &e.to_string())
}
