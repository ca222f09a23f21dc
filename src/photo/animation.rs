//! Animated PNG and WebP files decode to their first frame only; this finds them from the first
//! chunks of the file (no decoding) so the run can say so.

use std::io::Read;
use std::path::Path;

/// `Some("PNG")` / `Some("WebP")` when the file at `path` is animated; `None` otherwise or
/// when it cannot be read.
pub fn animated(path: &Path) -> Option<&'static str> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    animated_bytes(&head)
}

fn animated_bytes(b: &[u8]) -> Option<&'static str> {
    if let Some(mut rest) = b.strip_prefix(b"\x89PNG\r\n\x1a\n") {
        // Chunks: length, type, data, CRC. An `acTL` before the first `IDAT` marks an APNG.
        while rest.len() >= 8 {
            let len = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
            match &rest[4..8] {
                b"acTL" => return Some("PNG"),
                b"IDAT" | b"IEND" => return None,
                _ => rest = rest.get(len.checked_add(12)?..)?,
            }
        }
        return None;
    }
    // RIFF <size> WEBP VP8X <size> <flags>: flag 0x02 is "animation".
    if b.len() >= 21 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" && &b[12..16] == b"VP8X" {
        return (b[20] & 0x02 != 0).then_some("WebP");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0; 4]); // CRC, not checked here
        c
    }

    #[test]
    fn finds_apng_and_animated_webp() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0; 13]));
        let mut apng = png.clone();
        apng.extend(chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]));
        apng.extend(chunk(b"IDAT", &[1, 2]));
        png.extend(chunk(b"IDAT", &[1, 2]));
        png.extend(chunk(b"acTL", &[0; 8])); // after IDAT: not an APNG
        assert_eq!(animated_bytes(&apng), Some("PNG"));
        assert_eq!(animated_bytes(&png), None);
        assert_eq!(animated_bytes(&png[..20]), None);

        let webp = |flags: u8| {
            let mut w = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
            w.push(flags);
            w.extend_from_slice(&[0; 9]);
            w
        };
        assert_eq!(animated_bytes(&webp(0x02)), Some("WebP"));
        assert_eq!(animated_bytes(&webp(0x20)), None);
        assert_eq!(animated_bytes(b"RIFF"), None);
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for f in ["rgb8.png", "rgb.webp", "rgb.jpg", "missing.png"] {
            assert_eq!(animated(&fixture.join(f)), None, "{f}");
        }
    }
}
