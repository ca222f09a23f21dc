//! JPEG through `image`'s encoder, streamed. Its `encode_image` reads the image through
//! `GenericImageView::get_pixel` one 8×8 block at a time, block rows top to bottom, each pixel
//! once (a behaviour its documentation promises), so a view that holds one block row — 8 rows,
//! refilled from the bands as the encoder moves down — gives the same bytes as the whole image,
//! and the file is written as it is encoded. XMP, which the encoder does not write, is spliced
//! into the stream after the leading APP0/APP1 segments (JFIF, EXIF), where it has always gone.

use super::rows::Rows;
use super::{Extras, JPEG_QUALITY};
use crate::photo::metadata::EXIF_PREFIX;
use anyhow::Result;
use image::codecs::jpeg::JpegEncoder;
use image::{GenericImageView, ImageEncoder, Luma, Pixel, PixelWithColorType, Rgb};
use std::cell::RefCell;
use std::io::{self, Write};
use std::marker::PhantomData;

/// Largest payload of a JPEG marker segment (its 2-byte length counts itself).
const SEGMENT_MAX: usize = 65533;

/// The APP1 identifier before an XMP packet in JPEG.
const XMP_NAMESPACE: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// Rows of one JPEG block row.
const BLOCK: u32 = 8;

/// Writes the rows (8-bit gray or RGB) as JPEG at [`JPEG_QUALITY`] with the ICC profile, EXIF
/// (if it fits one segment) and XMP (likewise).
pub(super) fn encode_jpeg<W: Write>(
    out: W,
    rows: &mut Rows<'_>,
    (width, height): (u32, u32),
    extras: Extras<'_>,
) -> Result<()> {
    let mut out = XmpSplice::new(out, extras.xmp.and_then(xmp_segment));
    let mut encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    if let Some(profile) = extras.icc {
        encoder.set_icc_profile(profile.to_vec())?;
    }
    // One APP1 segment holds at most 65533 bytes with its `Exif\0\0` header.
    if let Some(exif) = extras
        .exif
        .filter(|e| e.len() + EXIF_PREFIX.len() <= SEGMENT_MAX)
    {
        encoder.set_exif_metadata(exif.to_vec())?;
    }
    let gray = rows.storage().layout.gray;
    let block = RefCell::new(BlockRow {
        rows,
        samples: Vec::new(),
        y0: None,
        error: None,
    });
    let encoded = if gray {
        encoder.encode_image(&View::<Luma<u8>>::new(width, height, &block))
    } else {
        encoder.encode_image(&View::<Rgb<u8>>::new(width, height, &block))
    };
    // A failed band explains a failed encode best.
    if let Some(e) = block.into_inner().error {
        return Err(e);
    }
    encoded?;
    out.finish()?;
    Ok(())
}

/// The block row the encoder is reading.
struct BlockRow<'r, 'a> {
    rows: &'r mut Rows<'a>,
    /// Its rows' samples, and its first row (`None` before the first).
    samples: Vec<u8>,
    y0: Option<u32>,
    /// Why its rows could not be read; the encoder is then given black and fails afterwards.
    error: Option<anyhow::Error>,
}

impl BlockRow<'_, '_> {
    /// The samples of pixel (x, y), `channels` of them; moves down to y's block row first.
    fn pixel(&mut self, x: u32, y: u32, channels: usize) -> &[u8] {
        let y0 = y / BLOCK * BLOCK;
        if self.y0 != Some(y0) && self.error.is_none() {
            self.y0 = Some(y0);
            let n = self.rows.left().min(BLOCK as usize);
            if let Err(e) = self.rows.read(n, &mut self.samples) {
                self.error = Some(e);
            }
        }
        let at = ((y - y0) as usize * self.rows.row_len()) + x as usize * channels;
        match self.samples.get(at..at + channels) {
            Some(px) if self.error.is_none() => px,
            _ => &[0; 3][..channels],
        }
    }
}

/// The photo as `image` sees it: pixels of type `P` read from the current block row.
struct View<'b, 'r, 'a, P> {
    width: u32,
    height: u32,
    block: &'b RefCell<BlockRow<'r, 'a>>,
    pixel: PhantomData<P>,
}

impl<'b, 'r, 'a, P> View<'b, 'r, 'a, P> {
    fn new(width: u32, height: u32, block: &'b RefCell<BlockRow<'r, 'a>>) -> Self {
        View {
            width,
            height,
            block,
            pixel: PhantomData,
        }
    }
}

impl<P: Pixel<Subpixel = u8> + PixelWithColorType> GenericImageView for View<'_, '_, '_, P> {
    type Pixel = P;

    fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn get_pixel(&self, x: u32, y: u32) -> P {
        let channels = usize::from(P::CHANNEL_COUNT);
        *P::from_slice(self.block.borrow_mut().pixel(x, y, channels))
    }
}

/// The APP1 segment (marker, length, namespace, packet) of an XMP packet, if it fits one.
fn xmp_segment(xmp: &[u8]) -> Option<Vec<u8>> {
    let payload = XMP_NAMESPACE.len() + xmp.len();
    if payload > SEGMENT_MAX {
        return None;
    }
    let mut segment = Vec::with_capacity(4 + payload);
    segment.extend_from_slice(&[0xFF, 0xE1]);
    segment.extend_from_slice(&((payload + 2) as u16).to_be_bytes());
    segment.extend_from_slice(XMP_NAMESPACE);
    segment.extend_from_slice(xmp);
    Some(segment)
}

/// Where the leading APP0/APP1 segments of the JPEG starting `head` end: `None` while `head` is
/// too short to tell, unless `complete` (then: as far as it goes).
fn after_app_segments(head: &[u8], complete: bool) -> Option<usize> {
    let mut at = 2;
    loop {
        match head.get(at..at + 4) {
            Some(&[0xFF, 0xE0 | 0xE1, hi, lo]) => {
                at += 2 + usize::from(u16::from_be_bytes([hi, lo]))
            }
            Some(_) => return Some(at),
            None if complete => return Some(at.min(head.len())),
            None => return None,
        }
    }
}

/// Passes a JPEG stream through to `inner`, inserting `segment` after the stream's leading
/// APP0/APP1 segments: the start of the stream is held until that place is known. A stream
/// that does not start with SOI gets no segment.
struct XmpSplice<W: Write> {
    inner: W,
    segment: Option<Vec<u8>>,
    head: Vec<u8>,
}

impl<W: Write> XmpSplice<W> {
    fn new(inner: W, segment: Option<Vec<u8>>) -> Self {
        XmpSplice {
            inner,
            segment,
            head: Vec::new(),
        }
    }

    /// Writes what is held, with the segment at `at` (or without it).
    fn release(&mut self, at: Option<usize>) -> io::Result<()> {
        let head = std::mem::take(&mut self.head);
        let segment = self.segment.take();
        match (at, segment) {
            (Some(at), Some(segment)) => {
                self.inner.write_all(&head[..at])?;
                self.inner.write_all(&segment)?;
                self.inner.write_all(&head[at..])
            }
            _ => self.inner.write_all(&head),
        }
    }

    /// Ends the stream: anything still held is written (with the segment where it goes).
    fn finish(mut self) -> io::Result<()> {
        if self.segment.is_some() {
            let at = self
                .head
                .starts_with(&[0xFF, 0xD8])
                .then(|| after_app_segments(&self.head, true))
                .flatten();
            self.release(at)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Write for XmpSplice<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.segment.is_none() {
            return self.inner.write(buf);
        }
        self.head.extend_from_slice(buf);
        if self.head.len() >= 2 && !self.head.starts_with(&[0xFF, 0xD8]) {
            self.release(None)?;
        } else if let Some(at) = after_app_segments(&self.head, false) {
            self.release(Some(at))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG-like head: SOI, APP0 (4 payload bytes), APP1 (2), then DQT and more.
    const HEAD: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 6, 1, 2, 3, 4, 0xFF, 0xE1, 0, 4, 9, 9, 0xFF, 0xDB, 0, 3, 7,
    ];

    /// `stream` through an [`XmpSplice`] of `segment`, written `chunk` bytes at a time.
    fn spliced(stream: &[u8], segment: Option<Vec<u8>>, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = XmpSplice::new(&mut out, segment);
        for part in stream.chunks(chunk) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap();
        out
    }

    #[test]
    fn xmp_goes_after_the_leading_app0_and_app1_segments() {
        let segment = xmp_segment(b"<x/>").unwrap();
        assert_eq!(&segment[..4], &[0xFF, 0xE1, 0, 2 + 29 + 4]);
        let mut want = HEAD[..16].to_vec();
        want.extend_from_slice(&segment);
        want.extend_from_slice(&HEAD[16..]);
        for chunk in [1, 2, 5, HEAD.len()] {
            assert_eq!(spliced(HEAD, Some(segment.clone()), chunk), want, "{chunk}");
        }
        // Nothing to insert, or no JPEG: the stream as it is.
        assert_eq!(spliced(HEAD, None, 3), HEAD);
        assert_eq!(spliced(&HEAD[2..], Some(segment.clone()), 1), &HEAD[2..]);
        // A stream that ends inside a segment's marker gets the segment before that marker.
        let mut short = HEAD[..10].to_vec();
        short.extend_from_slice(&segment);
        short.extend_from_slice(&HEAD[10..12]);
        assert_eq!(spliced(&HEAD[..12], Some(segment), 1), short);
        // A packet too large for one segment is left out.
        assert!(xmp_segment(&vec![b' '; SEGMENT_MAX]).is_none());
    }
}
