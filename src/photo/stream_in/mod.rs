//! Inputs decoded on demand: a PNG or TIFF whose decoded samples would be large is read row by
//! row through its own codec crate (`png.rs`: `png`'s row reader; `tiff.rs`: `tiff`'s strips)
//! into a sliding window of rows ([`Streamed::window`]). Rows before the window are dropped; a
//! request for rows above it decodes the file again from the top (the passes of the restore
//! step read top to bottom, so this happens once per pass: colorize reads the photo three times,
//! denoise twice). The samples are exactly those `image` decodes (same layout, same values; the
//! tests compare them), so a streamed photo restores to the same output.
//!
//! [`Streamed::new`] decodes the whole file once, keeping no rows, so a truncated or corrupt
//! file is refused before any work, as a whole decode would refuse it.

mod png;
mod tiff;

use super::input::Window;
use super::{Header, Photo, Samples, Storage};
use anyhow::{bail, Result};
use image::ImageFormat;
use std::fs::File;
use std::ops::Range;

/// A decoder handing out a photo's rows, top to bottom, in the photo's storage.
trait RowDecoder: Send {
    /// Width, height and storage of the rows it decodes.
    fn shape(&self) -> (usize, usize, Storage);

    /// Appends the next row's samples to `out` (of the storage's sample type). Errors are one
    /// line naming the format and the cause.
    fn next_row(&mut self, out: &mut Samples) -> Result<()>;
}

/// Opens a row decoder on `file` (read from its start), if the format and this file's layout
/// can be decoded a row at a time — PNG without interlacing; TIFF in strips of at most
/// [`MAX_CHUNK_BYTES`], samples interleaved, 8- or 16-bit gray, gray + alpha, RGB or RGBA — and
/// it sees the photo as `header` (what `image` decodes) describes it.
fn open(format: ImageFormat, file: &File, header: &Header) -> Result<Option<Box<dyn RowDecoder>>> {
    let decoder: Option<Box<dyn RowDecoder>> = match format {
        ImageFormat::Png => png::PngRows::open(file)?.map(|d| Box::new(d) as _),
        ImageFormat::Tiff => tiff::TiffRows::open(file)?.map(|d| Box::new(d) as _),
        _ => None,
    };
    let shape = (header.width, header.height, header.storage);
    Ok(decoder.filter(|d| d.shape() == shape))
}

/// Most bytes of one TIFF strip decoded at a time (larger strips: the file is decoded whole).
const MAX_CHUNK_BYTES: usize = 64 << 20;

/// A photo decoded a window of rows at a time. See the module docs.
pub struct Streamed {
    header: Header,
    file: File,
    format: ImageFormat,
    decoder: Option<Box<dyn RowDecoder>>,
    /// The photo's rows `y0..y0 + window.height`, decoded; the decoder's next row follows them.
    y0: usize,
    window: Photo,
}

impl Streamed {
    /// Streams `file` (of `format`), which `header` describes as `image` decodes it, if it can
    /// be decoded a row at a time (else `None`: decode it whole). Decodes it once to the end to
    /// refuse a damaged file now.
    pub(super) fn new(header: Header, file: File, format: ImageFormat) -> Result<Option<Streamed>> {
        // `None` also for a layout the two decoders see differently: leave it to `image`.
        let Some(decoder) = open(format, &file, &header)? else {
            return Ok(None);
        };
        let mut meta = header.meta.clone();
        (meta.icc, meta.metadata) = (None, Default::default());
        let window = Photo::new(header.width, 0, header.storage, meta)?;
        let mut streamed = Streamed {
            header,
            file,
            format,
            decoder: Some(decoder),
            y0: 0,
            window,
        };
        let last = streamed.header.height - 1;
        streamed.window(last..last + 1)?;
        Ok(Some(streamed))
    }

    /// What the photo is, before its pixels.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// A window holding at least `rows` (clamped to the photo). See [`super::Input::window`].
    pub(super) fn window(&mut self, rows: Range<usize>) -> Result<Window<'_>> {
        let height = self.header.height;
        let lo = rows.start.min(height - 1);
        let hi = rows.end.clamp(lo + 1, height);
        if lo < self.y0 || self.decoder.is_none() {
            self.restart()?;
        }
        let next = |s: &Self| s.y0 + s.window.height;
        self.drop_rows(lo.min(next(self)) - self.y0);
        while next(self) < hi {
            self.decode_row()?;
            if self.y0 < lo {
                self.drop_rows(1);
            }
        }
        Ok(Window {
            y0: self.y0,
            rows: &self.window,
            height,
        })
    }

    /// Back to the top of the file, holding no rows.
    fn restart(&mut self) -> Result<()> {
        self.drop_rows(self.window.height);
        self.y0 = 0;
        self.decoder = None;
        match open(self.format, &self.file, &self.header)? {
            Some(d) => {
                self.decoder = Some(d);
                Ok(())
            }
            None => bail!("the file changed while it was being read"),
        }
    }

    /// Decodes the next row into the window.
    fn decode_row(&mut self) -> Result<()> {
        let decoder = self.decoder.as_mut().expect("restarted before decoding");
        if let Err(e) = decoder.next_row(&mut self.window.raster.samples) {
            // Its state is unknown: the next request starts again from the top.
            self.decoder = None;
            self.drop_rows(self.window.height);
            return Err(e);
        }
        self.window.height += 1;
        Ok(())
    }

    /// Drops the window's first `n` rows.
    fn drop_rows(&mut self, n: usize) {
        let k = n * self.header.width * self.header.storage.layout.channels();
        match &mut self.window.raster.samples {
            Samples::U8(s) => drop(s.drain(..k)),
            Samples::U16(s) => drop(s.drain(..k)),
            Samples::F32(s) => drop(s.drain(..k)),
        }
        self.window.height -= n;
        self.y0 += n;
    }
}

#[cfg(test)]
mod tests;
