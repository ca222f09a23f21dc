//! Writes the small test images in `fixtures/` (see `fixtures/README.md`).
//!
//! `cargo run --example make_fixtures` regenerates them; the output is deterministic, so a rerun
//! leaves `git status` clean. Files the `image` crate cannot write (palette PNG with tRNS, PNG
//! bomb, JPEG with an EXIF orientation) are assembled byte by byte here; the camera-like EXIF
//! block of `exif_camera.jpg` is written by `kamadak-exif`.

use anyhow::{Context, Result};
use image::codecs::{
    bmp::BmpEncoder, jpeg::JpegEncoder, png::PngEncoder, tiff::TiffEncoder, webp::WebPEncoder,
};
use image::{ExtendedColorType, ImageEncoder};
use std::path::{Path, PathBuf};

/// Default size of the colour fixtures: odd on both axes on purpose.
const W: u32 = 37;
const H: u32 = 29;
/// Size of the gray fixtures and of the EXIF fixture (as stored, before rotation).
const GW: u32 = 45;
const GH: u32 = 31;

fn main() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::create_dir_all(&dir)?;
    let out = |name: &str| -> PathBuf { dir.join(name) };

    let rgb8 = to8(&rgb_pattern(W, H));
    let rgb8_png = encode_png(&rgb8, W, H, ExtendedColorType::Rgb8, None)?;
    write(&out("rgb8.png"), &rgb8_png)?;

    let gray8: Vec<u8> = to8(&gray_pattern(GW, GH));
    write(
        &out("gray8.png"),
        &encode_png(&gray8, GW, GH, ExtendedColorType::L8, None)?,
    )?;
    let gray16 = to16_ne(&gray_pattern(GW, GH));
    write(
        &out("gray16.png"),
        &encode_png(&gray16, GW, GH, ExtendedColorType::L16, None)?,
    )?;

    let rgba8 = to8(&rgba_pattern(W, H));
    write(
        &out("rgba8.png"),
        &encode_png(&rgba8, W, H, ExtendedColorType::Rgba8, None)?,
    )?;

    let rgb16 = to16_ne(&rgb_pattern(W, H));
    write(
        &out("rgb16.png"),
        &encode_png(&rgb16, W, H, ExtendedColorType::Rgb16, None)?,
    )?;

    write(&out("palette_trns.png"), &palette_trns_png(W, H))?;

    write(
        &out("icc.png"),
        &encode_png(&rgb8, W, H, ExtendedColorType::Rgb8, Some(tiny_srgb_icc()))?,
    )?;

    let mut jpg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpg, 90).write_image(
        &rgb8,
        W,
        H,
        ExtendedColorType::Rgb8,
    )?;
    write(&out("rgb.jpg"), &jpg)?;

    write(&out("exif_rot6.jpg"), &exif_rot6_jpeg()?)?;
    write(&out("exif_camera.jpg"), &exif_camera_jpeg()?)?;

    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp).write_image(&rgb8, W, H, ExtendedColorType::Rgb8)?;
    write(&out("rgb.webp"), &webp)?;

    let mut tif = std::io::Cursor::new(Vec::new());
    TiffEncoder::new(&mut tif).write_image(&rgb16, W, H, ExtendedColorType::Rgb16)?;
    write(&out("rgb16.tif"), tif.get_ref())?;

    let mut bmp = Vec::new();
    BmpEncoder::new(&mut bmp).write_image(&rgb8, W, H, ExtendedColorType::Rgb8)?;
    write(&out("rgb.bmp"), &bmp)?;

    // Bad inputs.
    write(&out("empty.png"), &[])?;
    write(&out("truncated.png"), &rgb8_png[..rgb8_png.len() / 2])?;
    write(&out("corrupt.jpg"), &corrupt_jpeg())?;
    write(
        &out("notes.txt"),
        b"These are notes, not a photo.\nThe loader must say so instead of guessing from the name.\n",
    )?;
    write(&out("bomb.png"), &bomb_png())?;

    println!("fixtures written to {}", dir.display());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("{}: write failed", path.display()))
}

// ---------------------------------------------------------------- pixel patterns (in [0, 1])

/// Deterministic per-position noise in `[0, 1)`.
fn hash(x: u32, y: u32, c: u32) -> f32 {
    let mut h = x
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(y.wrapping_mul(0x85EB_CA77))
        .wrapping_add(c.wrapping_mul(0xC2B2_AE3D));
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth gradient plus a little texture, interleaved RGB.
fn rgb_pattern(w: u32, h: u32) -> Vec<f32> {
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let fx = x as f32 / (w - 1) as f32;
            let fy = y as f32 / (h - 1) as f32;
            let tex = 0.5 + 0.5 * (x as f32 * 0.7).sin() * (y as f32 * 0.9).cos();
            v.push(0.85 * fx + 0.1 * hash(x, y, 0) + 0.05 * tex);
            v.push(0.85 * fy + 0.1 * hash(x, y, 1) + 0.05 * tex);
            v.push(0.6 * (1.0 - fx) * (1.0 - fy) + 0.3 * tex + 0.1 * hash(x, y, 2));
        }
    }
    v
}

/// Like [`rgb_pattern`] with an alpha ramp from fully transparent (left) to opaque (right).
fn rgba_pattern(w: u32, h: u32) -> Vec<f32> {
    let rgb = rgb_pattern(w, h);
    let mut v = Vec::with_capacity((w * h * 4) as usize);
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        let x = i as u32 % w;
        v.extend_from_slice(px);
        v.push(x as f32 / (w - 1) as f32);
    }
    v
}

/// Diagonal gradient with fine noise, so the low byte of 16-bit samples carries information.
fn gray_pattern(w: u32, h: u32) -> Vec<f32> {
    let mut v = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let g = 0.6 * x as f32 / (w - 1) as f32 + 0.35 * y as f32 / (h - 1) as f32;
            v.push(g + 0.05 * hash(x, y, 7));
        }
    }
    v
}

fn to8(v: &[f32]) -> Vec<u8> {
    v.iter()
        .map(|&s| (s.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// 16-bit samples in native byte order (what `ImageEncoder::write_image` expects).
fn to16_ne(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&s| ((s.clamp(0.0, 1.0) * 65535.0).round() as u16).to_ne_bytes())
        .collect()
}

fn encode_png(
    buf: &[u8],
    w: u32,
    h: u32,
    color: ExtendedColorType,
    icc: Option<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = PngEncoder::new(&mut out);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc)?;
    }
    enc.write_image(buf, w, h, color)?;
    Ok(out)
}

// ---------------------------------------------------------------- hand-made PNG files

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// zlib stream made of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&adler32(data).to_be_bytes());
    z
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = aetool::testing::crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn png_ihdr(width: u32, height: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    ihdr
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// 8-bit indexed PNG, 4 palette entries, tRNS giving entries 0..3 alphas 255, 128, 0 (entry 3
/// has no tRNS value, so it is opaque). Pixel (x, y) uses index `(x / 5 + y / 5) % 4`.
/// Palette: 0 = (200, 30, 40), 1 = (20, 180, 60), 2 = (10, 20, 230), 3 = (250, 250, 250).
fn palette_trns_png(w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((w + 1) * h) as usize);
    for y in 0..h {
        raw.push(0); // filter: none
        for x in 0..w {
            raw.push(((x / 5 + y / 5) % 4) as u8);
        }
    }
    let mut png = PNG_SIGNATURE.to_vec();
    png_chunk(&mut png, b"IHDR", &png_ihdr(w, h, 8, 3));
    png_chunk(
        &mut png,
        b"PLTE",
        &[200, 30, 40, 20, 180, 60, 10, 20, 230, 250, 250, 250],
    );
    png_chunk(&mut png, b"tRNS", &[255, 128, 0]);
    png_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A PNG whose header claims 100000×100000 RGB (10 gigapixels, 30 GB decoded) while the file
/// holds a few hundred bytes of (stored) pixel data: a loader must refuse it from the header.
fn bomb_png() -> Vec<u8> {
    let mut png = PNG_SIGNATURE.to_vec();
    png_chunk(&mut png, b"IHDR", &png_ihdr(100_000, 100_000, 8, 2));
    png_chunk(&mut png, b"IDAT", &zlib_stored(&[0u8; 256]));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

// ---------------------------------------------------------------- JPEG files

/// 45×31 JPEG (as stored) with an EXIF APP1 segment saying orientation 6 ("rotate 90° clockwise
/// to display"). Stored content: a red block in the top-left 15×10 corner on a blue background;
/// displayed (31×45), the red block is in the top-right corner.
fn exif_rot6_jpeg() -> Result<Vec<u8>> {
    let mut rgb = Vec::with_capacity((GW * GH * 3) as usize);
    for y in 0..GH {
        for x in 0..GW {
            if x < 15 && y < 10 {
                rgb.extend_from_slice(&[230, 20, 20]);
            } else {
                rgb.extend_from_slice(&[20, 40, 200]);
            }
        }
    }
    let mut jpg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpg, 90).write_image(
        &rgb,
        GW,
        GH,
        ExtendedColorType::Rgb8,
    )?;
    assert_eq!(&jpg[..2], &[0xFF, 0xD8], "JPEG must start with SOI");

    // Minimal little-endian TIFF structure: header, IFD0 with the single entry
    // Orientation (tag 0x0112, type SHORT, count 1, value 6), no next IFD.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II");
    tiff.extend_from_slice(&42u16.to_le_bytes());
    tiff.extend_from_slice(&8u32.to_le_bytes()); // offset of IFD0
    tiff.extend_from_slice(&1u16.to_le_bytes()); // entry count
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // tag: Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // type: SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&6u16.to_le_bytes()); // value, left-justified in 4 bytes
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD

    let mut app1 = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16; // length field counts itself
    app1.extend_from_slice(&len.to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);

    // Right after SOI, where EXIF readers expect it.
    let mut out = jpg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpg[2..]);
    Ok(out)
}

/// The XMP packet of `exif_camera.jpg`: rotation and size as stored, as a camera writes them,
/// plus fields only XMP carries (creator, keywords, rating).
const CAMERA_XMP: &str = concat!(
    "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n",
    r#"<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    tiff:Orientation="6"
    exif:PixelXDimension="45"
    exif:PixelYDimension="31"
    xmp:Rating="4">
   <dc:creator><rdf:Seq><rdf:li>Ada Example</rdf:li></rdf:Seq></dc:creator>
   <dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>dusk</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#
);

/// 45×31 JPEG (as stored) like a camera's: the picture of `exif_rot6.jpg`, a big-endian EXIF
/// block written by `kamadak-exif` (make, model, orientation 6, dates, artist, copyright,
/// exposure, lens, pixel size 45×31, a maker note, Interoperability, GPS, and a JPEG thumbnail
/// in IFD1) and an XMP packet, in APP1 segments after JFIF like a camera's.
fn exif_camera_jpeg() -> Result<Vec<u8>> {
    use exif::{Field, In, Rational, Tag, Value};
    let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
    let r = |num, denom| Rational { num, denom };
    let f = |tag, value| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    };
    let fields = [
        f(Tag::Make, ascii("AcmeCam")),
        f(Tag::Model, ascii("AcmeCam X100")),
        f(Tag::Orientation, Value::Short(vec![6])),
        f(Tag::XResolution, Value::Rational(vec![r(300, 1)])),
        f(Tag::YResolution, Value::Rational(vec![r(300, 1)])),
        f(Tag::ResolutionUnit, Value::Short(vec![2])),
        f(Tag::Software, ascii("AcmeCam firmware 1.2")),
        f(Tag::DateTime, ascii("2024:05:06 07:08:09")),
        f(Tag::Artist, ascii("Ada Example")),
        f(Tag::Copyright, ascii("(c) 2024 Ada Example")),
        f(Tag::ExposureTime, Value::Rational(vec![r(1, 250)])),
        f(Tag::FNumber, Value::Rational(vec![r(28, 10)])),
        f(Tag::PhotographicSensitivity, Value::Short(vec![400])),
        f(Tag::DateTimeOriginal, ascii("2024:05:06 07:08:09")),
        f(Tag::FocalLength, Value::Rational(vec![r(35, 1)])),
        f(Tag::LensMake, ascii("Acme")),
        f(Tag::LensModel, ascii("Acme 35mm F2.8")),
        f(Tag::PixelXDimension, Value::Short(vec![GW as u16])),
        f(Tag::PixelYDimension, Value::Short(vec![GH as u16])),
        f(
            Tag::MakerNote,
            Value::Undefined(b"AcmeCam\0\x01\x02maker-private-bytes".to_vec(), 0),
        ),
        f(Tag::InteroperabilityIndex, ascii("R98")),
        f(Tag::GPSVersionID, Value::Byte(vec![2, 3, 0, 0])),
        f(Tag::GPSLatitudeRef, ascii("N")),
        f(
            Tag::GPSLatitude,
            Value::Rational(vec![r(48, 1), r(51, 1), r(2959, 100)]),
        ),
        f(Tag::GPSLongitudeRef, ascii("E")),
        f(
            Tag::GPSLongitude,
            Value::Rational(vec![r(2, 1), r(17, 1), r(4007, 100)]),
        ),
    ];
    let thumb_fields = [Field {
        tag: Tag::Compression,
        ifd_num: In::THUMBNAIL,
        value: Value::Short(vec![6]),
    }];
    // The thumbnail: an 8×6 JPEG of the same picture (red top-left on blue), as stored.
    let thumb_rgb: Vec<u8> = (0..6)
        .flat_map(|y| (0..8).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            if x < 3 && y < 2 {
                [230, 20, 20]
            } else {
                [20, 40, 200]
            }
        })
        .collect();
    let mut thumb = Vec::new();
    JpegEncoder::new_with_quality(&mut thumb, 80).write_image(
        &thumb_rgb,
        8,
        6,
        ExtendedColorType::Rgb8,
    )?;
    let mut writer = exif::experimental::Writer::new();
    fields
        .iter()
        .chain(&thumb_fields)
        .for_each(|f| writer.push_field(f));
    writer.set_jpeg(&thumb, In::THUMBNAIL);
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer.write(&mut tiff, false)?;

    // exif_rot6.jpg less its hand-made EXIF segment (right after SOI).
    let rot6 = exif_rot6_jpeg()?;
    let app1_len = 2 + usize::from(u16::from_be_bytes([rot6[4], rot6[5]]));
    let jpg = [&rot6[..2], &rot6[2 + app1_len..]].concat();
    assert_eq!(&jpg[2..4], &[0xFF, 0xE0], "JFIF APP0 follows SOI");
    let jfif_end = 4 + usize::from(u16::from_be_bytes([jpg[4], jpg[5]]));

    let app1 = |parts: &[&[u8]]| -> Vec<u8> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut s = vec![0xFF, 0xE1];
        s.extend_from_slice(&u16::try_from(2 + len).unwrap().to_be_bytes());
        parts.iter().for_each(|p| s.extend_from_slice(p));
        s
    };
    let mut out = jpg[..jfif_end].to_vec();
    out.extend(app1(&[b"Exif\0\0", tiff.get_ref()]));
    out.extend(app1(&[
        b"http://ns.adobe.com/xap/1.0/\0",
        CAMERA_XMP.as_bytes(),
    ]));
    out.extend_from_slice(&jpg[jfif_end..]);
    Ok(out)
}

/// JPEG signature followed by noise: detected as JPEG, fails to decode.
fn corrupt_jpeg() -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..300u32).map(|i| (hash(i, 3, 9) * 256.0) as u8));
    v
}

// ---------------------------------------------------------------- ICC profile

/// A small but valid ICC v2.1 RGB display profile: sRGB primaries adapted to D50, D65 white
/// point, gamma 2.2 tone curves (shared by the three channels). About 450 bytes.
fn tiny_srgb_icc() -> Vec<u8> {
    fn s15f16(v: f64) -> [u8; 4] {
        ((v * 65536.0).round() as i32).to_be_bytes()
    }
    fn xyz(x: f64, y: f64, z: f64) -> Vec<u8> {
        let mut t = b"XYZ \0\0\0\0".to_vec();
        for v in [x, y, z] {
            t.extend_from_slice(&s15f16(v));
        }
        t
    }
    fn pad4(v: &mut Vec<u8>) {
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
    }
    let name = b"aetool tiny sRGB-like\0";
    let mut desc = b"desc\0\0\0\0".to_vec();
    desc.extend_from_slice(&(name.len() as u32).to_be_bytes());
    desc.extend_from_slice(name);
    desc.extend_from_slice(&[0; 4]); // Unicode language code
    desc.extend_from_slice(&[0; 4]); // Unicode count
    desc.extend_from_slice(&[0; 2]); // ScriptCode code
    desc.push(0); // ScriptCode count
    desc.extend_from_slice(&[0; 67]); // ScriptCode string
    let mut cprt = b"text\0\0\0\0".to_vec();
    cprt.extend_from_slice(b"No copyright, use freely\0");
    let mut trc = b"curv\0\0\0\0".to_vec();
    trc.extend_from_slice(&1u32.to_be_bytes());
    trc.extend_from_slice(&((2.2f64 * 256.0).round() as u16).to_be_bytes()); // u8Fixed8 gamma

    // (signature, data); rTRC/gTRC/bTRC share one data block.
    let blocks: Vec<(&[u8; 4], Vec<u8>)> = vec![
        (b"desc", desc),
        (b"cprt", cprt),
        (b"wtpt", xyz(0.9505, 1.0, 1.0891)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", trc),
    ];
    let tag_count = blocks.len() + 2;
    let mut offset = 128 + 4 + 12 * tag_count;
    let mut table = Vec::new();
    let mut data = Vec::new();
    let mut trc_entry = (0u32, 0u32);
    for (sig, mut block) in blocks {
        let size = block.len() as u32;
        table.extend_from_slice(sig);
        table.extend_from_slice(&(offset as u32).to_be_bytes());
        table.extend_from_slice(&size.to_be_bytes());
        if sig == b"rTRC" {
            trc_entry = (offset as u32, size);
        }
        pad4(&mut block);
        offset += block.len();
        data.extend_from_slice(&block);
    }
    for sig in [b"gTRC", b"bTRC"] {
        table.extend_from_slice(sig);
        table.extend_from_slice(&trc_entry.0.to_be_bytes());
        table.extend_from_slice(&trc_entry.1.to_be_bytes());
    }
    let total = offset as u32;

    let mut p = Vec::with_capacity(offset);
    p.extend_from_slice(&total.to_be_bytes()); // profile size
    p.extend_from_slice(&[0; 4]); // preferred CMM
    p.extend_from_slice(&[0x02, 0x10, 0, 0]); // version 2.1
    p.extend_from_slice(b"mntr"); // device class: display
    p.extend_from_slice(b"RGB "); // data colour space
    p.extend_from_slice(b"XYZ "); // profile connection space
    for v in [2024u16, 1, 1, 0, 0, 0] {
        p.extend_from_slice(&v.to_be_bytes()); // creation date/time
    }
    p.extend_from_slice(b"acsp");
    p.extend_from_slice(&[0; 4]); // primary platform
    p.extend_from_slice(&[0; 4]); // flags
    p.extend_from_slice(&[0; 4]); // device manufacturer
    p.extend_from_slice(&[0; 4]); // device model
    p.extend_from_slice(&[0; 8]); // device attributes
    p.extend_from_slice(&[0; 4]); // rendering intent: perceptual
    p.extend_from_slice(&s15f16(0.9642)); // PCS illuminant (D50)
    p.extend_from_slice(&s15f16(1.0));
    p.extend_from_slice(&s15f16(0.8249));
    p.extend_from_slice(&[0; 4]); // creator
    p.extend_from_slice(&[0; 16]); // profile ID (not computed, allowed in v2)
    p.extend_from_slice(&[0; 28]); // reserved
    assert_eq!(p.len(), 128);
    p.extend_from_slice(&(tag_count as u32).to_be_bytes());
    p.extend_from_slice(&table);
    p.extend_from_slice(&data);
    assert_eq!(p.len(), total as usize);
    p
}
