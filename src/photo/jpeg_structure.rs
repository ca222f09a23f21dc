//! A JPEG's marker structure, walked before decoding: segments from SOI, entropy-coded data
//! after each SOS (stuffed `FF 00` bytes and restart markers skipped), until the EOI marker.
//! - Is it complete? The decoder fills a truncated scan with flat grey and says nothing; a
//!   file that ends before EOI is truncated, whether baseline or progressive (many scans).
//! - How hard was it compressed? The quantisation table of the first component (luma in
//!   colour files) is read from its DQT segment and matched to the IJG quality scale (the one
//!   libjpeg, Pillow, ImageMagick and most cameras' "quality" settings follow), so the blind
//!   denoiser knows how strong the block artefacts can be.
//!
//! Bytes after EOI (camera trailers, a second MPF image) are not read.

use std::io::{BufReader, ErrorKind, Read};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DQT: u8 = 0xDB;
/// Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic).
const SOF: [u8; 13] = [
    0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF,
];

/// The luminance table of ITU-T T.81 Annex K (K.1) in zigzag order, as DQT segments store
/// tables; the IJG quality scale multiplies it.
const ANNEX_K_LUMA: [u16; 64] = [
    16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37,
    29, 40, 58, 51, 61, 60, 57, 51, 56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81,
    87, 95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99,
];

/// What the walk learnt of a complete JPEG.
#[derive(Debug, PartialEq, Eq)]
pub struct Structure {
    /// The IJG quality (1–100) whose scaled Annex K table best matches the first component's
    /// quantisation table; `None` when the file has no such table.
    pub quality: Option<u8>,
}

/// What is wrong with the file, as the end of a decoder message.
#[derive(Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// The data stops before the end-of-image marker.
    EndsEarly,
    /// Not a JPEG marker structure at all.
    BadStructure(&'static str),
}

/// A byte reader that turns end of file into [`Incomplete::EndsEarly`].
struct Bytes<R> {
    inner: BufReader<R>,
}

impl<R: Read> Bytes<R> {
    fn byte(&mut self) -> Result<u8, Incomplete> {
        let mut b = [0u8];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Err(Incomplete::EndsEarly),
                Ok(_) => return Ok(b[0]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Err(Incomplete::EndsEarly),
            }
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), Incomplete> {
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|_| Incomplete::EndsEarly)?;
        if copied < n {
            return Err(Incomplete::EndsEarly);
        }
        Ok(())
    }

    /// The marker code after an `FF` (fill bytes `FF FF …` skipped).
    fn marker_code(&mut self) -> Result<u8, Incomplete> {
        loop {
            match self.byte()? {
                0xFF => continue,
                code => return Ok(code),
            }
        }
    }
}

/// Checks that `reader` holds a JPEG marker structure that reaches its end-of-image marker,
/// and reads its quality on the way.
pub fn check(reader: impl Read) -> Result<Structure, Incomplete> {
    let mut r = Bytes {
        inner: BufReader::with_capacity(64 * 1024, reader),
    };
    if r.byte()? != 0xFF || r.byte()? != SOI {
        return Err(Incomplete::BadStructure("no start-of-image marker"));
    }
    let mut tables: [Option<[u16; 64]>; 4] = [None; 4];
    let mut first_table = None;
    let mut code = next_marker(&mut r)?;
    loop {
        match code {
            EOI => {
                let table = first_table.and_then(|t: u8| tables[usize::from(t & 3)]);
                return Ok(Structure {
                    quality: table.map(|t| ijg_quality(&t)),
                });
            }
            // Markers without a length: TEM, RST0–7, a stray SOI.
            0x01 | 0xD0..=0xD8 => code = next_marker(&mut r)?,
            _ => {
                let len = u16::from_be_bytes([r.byte()?, r.byte()?]);
                if len < 2 {
                    return Err(Incomplete::BadStructure("bad segment length"));
                }
                let mut rest = u64::from(len) - 2;
                if code == DQT {
                    rest = read_tables(&mut r, rest, &mut tables)?;
                } else if SOF.contains(&code) && first_table.is_none() && rest >= 9 {
                    // P, Y, X, Nf, then (C, H/V, Tq) per component: the first one's Tq.
                    r.skip(8)?;
                    first_table = Some(r.byte()?);
                    rest -= 9;
                }
                r.skip(rest)?;
                code = if code == SOS {
                    end_of_scan(&mut r)?
                } else {
                    next_marker(&mut r)?
                };
            }
        }
    }
}

/// The quality a JPEG file's tables match, as [`check`] reads it (`None` for a damaged file).
pub fn quality(file: &[u8]) -> Option<u8> {
    check(file).ok()?.quality
}

/// Reads the tables of a DQT segment of `len` bytes into `tables` (by table id, in zigzag
/// order); returns the bytes of the segment left unread.
fn read_tables<R: Read>(
    r: &mut Bytes<R>,
    mut len: u64,
    tables: &mut [Option<[u16; 64]>; 4],
) -> Result<u64, Incomplete> {
    while len > 0 {
        let pq_tq = r.byte()?;
        let wide = pq_tq >> 4 != 0;
        let size = if wide { 129 } else { 65 };
        if len < size {
            return Err(Incomplete::BadStructure("bad quantisation table"));
        }
        let mut table = [0u16; 64];
        for v in &mut table {
            *v = if wide {
                u16::from_be_bytes([r.byte()?, r.byte()?])
            } else {
                u16::from(r.byte()?)
            };
        }
        tables[usize::from(pq_tq & 3)] = Some(table);
        len -= size;
    }
    Ok(len)
}

/// The IJG quality whose table is closest to `table`: libjpeg scales Annex K by `s` percent,
/// `s = 5000 / q` below quality 50 and `200 − 2q` from 50 up, then clamps entries to 1–255, so
/// `s` is read from the entries that were not clamped (all of them if every one was).
fn ijg_quality(table: &[u16; 64]) -> u8 {
    let pairs = || {
        table
            .iter()
            .zip(ANNEX_K_LUMA)
            .map(|(&t, b)| (f64::from(t), f64::from(b)))
    };
    let free = |&(t, _): &(f64, f64)| t > 1.0 && t < 255.0;
    let any_free = pairs().any(|p| free(&p));
    let (t, b) = pairs()
        .filter(|p| !any_free || free(p))
        .fold((0.0, 0.0), |(t, b), p| (t + p.0, b + p.1));
    let scale = 100.0 * t / b;
    let q = if scale <= 100.0 {
        (200.0 - scale) / 2.0
    } else {
        5000.0 / scale
    };
    q.round().clamp(1.0, 100.0) as u8
}

/// The next marker's code. Stray bytes before it are skipped, as libjpeg does (with a warning)
/// and the decoder does: such files display fine.
fn next_marker<R: Read>(r: &mut Bytes<R>) -> Result<u8, Incomplete> {
    while r.byte()? != 0xFF {}
    r.marker_code()
}

/// Skips entropy-coded data; returns the code of the marker that ends it.
fn end_of_scan<R: Read>(r: &mut Bytes<R>) -> Result<u8, Incomplete> {
    loop {
        if r.byte()? != 0xFF {
            continue;
        }
        match r.marker_code()? {
            0x00 | 0xD0..=0xD7 => continue, // stuffed zero, restart marker
            code => return Ok(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn complete_files_pass_and_every_truncation_is_caught() {
        for name in ["rgb.jpg", "exif_rot6.jpg"] {
            let full = fixture(name);
            assert!(check(&full[..]).is_ok(), "{name}");
            // Trailing data after EOI (camera trailers) is fine.
            let mut trailer = full.clone();
            trailer.extend_from_slice(b"\0\0SAMSUNG TRAILER\xFF\xD8");
            assert!(check(&trailer[..]).is_ok(), "{name} + trailer");
            for cut in 0..full.len() {
                assert!(check(&full[..cut]).is_err(), "{name} cut at {cut}");
            }
        }
    }

    #[test]
    fn the_quality_is_read_from_the_luma_table() {
        let pixels: Vec<u8> = (0..48 * 32 * 3).map(|i| (i * 7 % 251) as u8).collect();
        for q in [2u8, 5, 10, 25, 40, 50, 60, 75, 90, 95, 98] {
            let mut buf = Vec::new();
            jpeg_encoder::Encoder::new(&mut buf, q)
                .encode(&pixels, 48, 32, jpeg_encoder::ColorType::Rgb)
                .unwrap();
            let read = check(&buf[..]).unwrap().quality.unwrap();
            assert!(read.abs_diff(q) <= 1, "encoded at {q}, read {read}");
        }
        // A file without a DQT segment (impossible to decode, but walkable) has no quality.
        assert_eq!(
            check(&b"\xFF\xD8\xFF\xD9"[..]),
            Ok(Structure { quality: None })
        );
    }

    #[test]
    fn non_jpeg_structures_are_refused() {
        assert_eq!(
            check(&b"\x89PNG"[..]),
            Err(Incomplete::BadStructure("no start-of-image marker"))
        );
        assert!(check(&fixture("corrupt.jpg")[..]).is_err());
        assert_eq!(
            check(&b"\xFF\xD8\xFF\xE0\x00\x01"[..]),
            Err(Incomplete::BadStructure("bad segment length"))
        );
    }
}
