//! EXIF patching and conversion, checked with an independent reader (`kamadak-exif`), which
//! also writes the camera-like blocks they start from.

use super::*;
use exif::{Field as XField, In, Rational, Reader, Tag as XTag, Value};

/// Maker-note bytes: opaque to everyone but the camera maker; must come back byte for byte.
pub(crate) const MAKER_NOTE_BYTES: &[u8] = b"Nikon\0\x02\x10\0\0MM\0*\0\0\0\x08secret-maker-data";

/// A small JPEG standing in for an EXIF thumbnail (only its bytes matter here).
const THUMBNAIL: &[u8] = b"\xFF\xD8\xFF\xDBthumbnail bytes\xFF\xD9";

/// An EXIF block like a camera's: IFD0 (make, model, orientation 6, resolution, date, artist,
/// copyright), Exif IFD (exposure, date, lens, pixel size `w`×`h` as SHORTs, maker note,
/// Interoperability), GPS IFD, and IFD1 with a JPEG thumbnail at the end.
pub(crate) fn camera_exif(little_endian: bool, w: u16, h: u16) -> Vec<u8> {
    let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
    let r = |num, denom| Rational { num, denom };
    let f = |tag, ifd_num, value| XField {
        tag,
        ifd_num,
        value,
    };
    let fields = [
        f(XTag::Make, In::PRIMARY, ascii("AcmeCam")),
        f(XTag::Model, In::PRIMARY, ascii("AcmeCam X100")),
        f(XTag::Orientation, In::PRIMARY, Value::Short(vec![6])),
        f(
            XTag::XResolution,
            In::PRIMARY,
            Value::Rational(vec![r(300, 1)]),
        ),
        f(
            XTag::YResolution,
            In::PRIMARY,
            Value::Rational(vec![r(300, 1)]),
        ),
        f(XTag::ResolutionUnit, In::PRIMARY, Value::Short(vec![2])),
        f(XTag::DateTime, In::PRIMARY, ascii("2024:05:06 07:08:09")),
        f(XTag::Artist, In::PRIMARY, ascii("Ada Example")),
        f(XTag::Copyright, In::PRIMARY, ascii("(c) 2024 Ada Example")),
        f(
            XTag::ExposureTime,
            In::PRIMARY,
            Value::Rational(vec![r(1, 250)]),
        ),
        f(XTag::FNumber, In::PRIMARY, Value::Rational(vec![r(28, 10)])),
        f(
            XTag::PhotographicSensitivity,
            In::PRIMARY,
            Value::Short(vec![400]),
        ),
        f(
            XTag::DateTimeOriginal,
            In::PRIMARY,
            ascii("2024:05:06 07:08:09"),
        ),
        f(
            XTag::FocalLength,
            In::PRIMARY,
            Value::Rational(vec![r(35, 1)]),
        ),
        f(XTag::LensModel, In::PRIMARY, ascii("Acme 35mm F2.8")),
        f(XTag::PixelXDimension, In::PRIMARY, Value::Short(vec![w])),
        f(XTag::PixelYDimension, In::PRIMARY, Value::Short(vec![h])),
        f(
            XTag::MakerNote,
            In::PRIMARY,
            Value::Undefined(MAKER_NOTE_BYTES.to_vec(), 0),
        ),
        f(XTag::InteroperabilityIndex, In::PRIMARY, ascii("R98")),
        f(
            XTag::GPSVersionID,
            In::PRIMARY,
            Value::Byte(vec![2, 3, 0, 0]),
        ),
        f(XTag::GPSLatitudeRef, In::PRIMARY, ascii("N")),
        f(
            XTag::GPSLatitude,
            In::PRIMARY,
            Value::Rational(vec![r(48, 1), r(51, 1), r(2959, 100)]),
        ),
        f(XTag::GPSLongitudeRef, In::PRIMARY, ascii("E")),
        f(
            XTag::GPSLongitude,
            In::PRIMARY,
            Value::Rational(vec![r(2, 1), r(17, 1), r(4007, 100)]),
        ),
        f(XTag::Compression, In::THUMBNAIL, Value::Short(vec![6])),
    ];
    let mut writer = exif::experimental::Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    writer.set_jpeg(THUMBNAIL, In::THUMBNAIL);
    let mut out = std::io::Cursor::new(Vec::new());
    writer.write(&mut out, little_endian).unwrap();
    out.into_inner()
}

fn read(block: &[u8]) -> exif::Exif {
    Reader::new()
        .read_raw(block.to_vec())
        .expect("block reads back")
}

fn uint(e: &exif::Exif, tag: XTag) -> Option<u32> {
    e.get_field(tag, In::PRIMARY)?.value.get_uint(0)
}

fn text(e: &exif::Exif, tag: XTag) -> String {
    let field = e
        .get_field(tag, In::PRIMARY)
        .unwrap_or_else(|| panic!("no {tag}"));
    match &field.value {
        Value::Ascii(v) => String::from_utf8_lossy(&v[0]).into_owned(),
        other => panic!("{tag} is {other:?}"),
    }
}

/// Every field except those `exif_for_output` changes, as (tag, IFD, value) text.
fn unchanged_fields(e: &exif::Exif) -> Vec<String> {
    let changed = [
        XTag::Orientation,
        XTag::PixelXDimension,
        XTag::PixelYDimension,
        XTag::ImageWidth,
        XTag::ImageLength,
    ];
    let mut v: Vec<String> = e
        .fields()
        .filter(|f| f.ifd_num == In::PRIMARY && !changed.contains(&f.tag))
        .map(|f| format!("{} {:?}", f.tag, f.value))
        .collect();
    v.sort();
    v
}

#[test]
fn patches_orientation_and_size_in_both_byte_orders() {
    for le in [true, false] {
        let block = camera_exif(le, 45, 31);
        let before = read(&block);
        assert_eq!(uint(&before, XTag::Orientation), Some(6));
        assert!(before.get_field(XTag::Compression, In::THUMBNAIL).is_some());

        let out = exif_for_output(&block, 62, 90).expect("patched");
        assert_eq!(&out[..2], &block[..2], "byte order kept");
        let after = read(&out);
        assert_eq!(uint(&after, XTag::Orientation), Some(1));
        assert_eq!(uint(&after, XTag::PixelXDimension), Some(62));
        assert_eq!(uint(&after, XTag::PixelYDimension), Some(90));
        assert_eq!(text(&after, XTag::Make), "AcmeCam");
        assert_eq!(text(&after, XTag::Copyright), "(c) 2024 Ada Example");
        assert_eq!(text(&after, XTag::LensModel), "Acme 35mm F2.8");
        assert_eq!(unchanged_fields(&before), unchanged_fields(&after));
        match &after
            .get_field(XTag::MakerNote, In::PRIMARY)
            .expect("maker note")
            .value
        {
            Value::Undefined(bytes, _) => assert_eq!(bytes, MAKER_NOTE_BYTES),
            other => panic!("maker note is {other:?}"),
        }
        // The thumbnail shows the input (unrotated, unprocessed): gone, and cut off the end.
        assert!(after.fields().all(|f| f.ifd_num == In::PRIMARY));
        assert!(out.len() < block.len() - THUMBNAIL.len());
        assert!(!out.windows(THUMBNAIL.len()).any(|w| w == THUMBNAIL));
        // Patched in place: what is kept has its bytes and offsets.
        let differing = out.iter().zip(&block).filter(|(a, b)| a != b).count();
        assert!(differing <= 12, "{differing} bytes changed");
    }
}

#[test]
fn sizes_beyond_a_short_become_longs() {
    for le in [true, false] {
        let out = exif_for_output(&camera_exif(le, 45, 31), 70_000, 90).unwrap();
        let after = read(&out);
        let x = after.get_field(XTag::PixelXDimension, In::PRIMARY).unwrap();
        assert!(
            matches!(&x.value, Value::Long(v) if v == &[70_000]),
            "{x:?}"
        );
        let y = after.get_field(XTag::PixelYDimension, In::PRIMARY).unwrap();
        assert!(matches!(&y.value, Value::Short(v) if v == &[90]), "{y:?}");
    }
}

#[test]
fn image_size_tags_in_ifd0_are_updated() {
    let fields = [
        XField {
            tag: XTag::ImageWidth,
            ifd_num: In::PRIMARY,
            value: Value::Long(vec![45]),
        },
        XField {
            tag: XTag::ImageLength,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![31]),
        },
    ];
    let mut writer = exif::experimental::Writer::new();
    fields.iter().for_each(|f| writer.push_field(f));
    let mut block = std::io::Cursor::new(Vec::new());
    writer.write(&mut block, false).unwrap();
    let out = exif_for_output(block.get_ref(), 90, 62).unwrap();
    let after = read(&out);
    assert_eq!(uint(&after, XTag::ImageWidth), Some(90));
    assert_eq!(uint(&after, XTag::ImageLength), Some(62));
    // Nothing to remove: the block is the same size.
    assert_eq!(out.len(), block.get_ref().len());
}

#[test]
fn exif_header_is_accepted_and_garbage_is_dropped() {
    let block = camera_exif(true, 45, 31);
    let mut with_header = EXIF_PREFIX.to_vec();
    with_header.extend_from_slice(&block);
    assert_eq!(
        exif_for_output(&with_header, 10, 20),
        exif_for_output(&block, 10, 20)
    );
    assert_eq!(
        Metadata::new(Some(with_header), Some(Vec::new())),
        Metadata {
            exif: Some(block),
            xmp: None
        }
    );
    for bad in [
        &b""[..],
        b"II*\0",
        b"MM\0*\0\0\0\x08",
        b"not exif at all",
        b"II*\0\xff\xff\xff\xff",
    ] {
        assert_eq!(exif_for_output(bad, 1, 1), None, "{bad:?}");
    }
}

/// Cut at every length and with every byte flipped: never a panic, and whatever comes out still
/// reads as a block whose orientation is no longer a rotation.
#[test]
fn truncated_or_corrupt_blocks_never_panic() {
    for le in [true, false] {
        let block = camera_exif(le, 45, 31);
        for n in 0..block.len() {
            let _ = exif_for_output(&block[..n], 3, 4);
            let _ = ExifTags::from_exif(&block[..n]);
        }
        for i in 0..block.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut bad = block.clone();
                bad[i] ^= flip;
                if let Some(out) = exif_for_output(&bad, 3, 4) {
                    if let Ok(e) = Reader::new().read_raw(out) {
                        let o = uint(&e, XTag::Orientation);
                        assert!(
                            o.is_none_or(|o| o == 1),
                            "orientation {o:?} left at byte {i}"
                        );
                    }
                }
                let _ = ExifTags::from_exif(&bad).map(|t| t.to_exif());
            }
        }
    }
}

#[test]
fn tags_convert_to_a_tiff_block_in_native_order() {
    for le in [true, false] {
        let patched = exif_for_output(&camera_exif(le, 45, 31), 62, 90).unwrap();
        let tags = ExifTags::from_exif(&patched).unwrap();
        let tag_ids = |fields: &[Field]| fields.iter().map(|f| f.tag).collect::<Vec<_>>();
        assert!(
            !tag_ids(&tags.image).contains(&ORIENTATION) || {
                let o = tags.image.iter().find(|f| f.tag == ORIENTATION).unwrap();
                o.value[..2] == 1u16.to_ne_bytes()
            }
        );
        assert!(!tag_ids(&tags.exif).contains(&MAKER_NOTE));
        assert!(!tag_ids(&tags.exif).contains(&INTEROP_IFD));
        assert_eq!(tag_ids(&tags.interop), vec![0x0001]);
        assert_eq!(tags.gps.len(), 5);

        let block = tags.to_exif().unwrap();
        assert_eq!(&block[..2], b"II");
        let (before, after) = (read(&patched), read(&block));
        assert_eq!(text(&after, XTag::Model), "AcmeCam X100");
        assert_eq!(text(&after, XTag::DateTimeOriginal), "2024:05:06 07:08:09");
        assert_eq!(uint(&after, XTag::PixelXDimension), Some(62));
        let field = |e: &exif::Exif, tag| {
            e.get_field(tag, In::PRIMARY)
                .map(|f| format!("{:?}", f.value))
        };
        for tag in [
            XTag::GPSLatitude,
            XTag::GPSLongitude,
            XTag::GPSVersionID,
            XTag::ExposureTime,
            XTag::XResolution,
            XTag::PhotographicSensitivity,
            XTag::InteroperabilityIndex,
        ] {
            assert_eq!(field(&before, tag), field(&after, tag), "{tag}");
        }
        assert!(field(&after, XTag::MakerNote).is_none());
    }
}

#[test]
fn xmp_properties_are_rewritten_in_both_forms() {
    let xmp = r#"<x:xmpmeta><rdf:RDF><rdf:Description rdf:about=""
    tiff:Orientation="6" tiff:OrientationNote="6" exif:PixelXDimension = '45'
    exif:PixelYDimension="31" xmp:Rating="4">
   <tiff:ImageWidth>45</tiff:ImageWidth>
   <tiff:ImageLength>31</tiff:ImageLength>
   <dc:title>tiff:Orientation="6" in text</dc:title>
  </rdf:Description></rdf:RDF></x:xmpmeta>"#;
    let out = String::from_utf8(xmp_for_output(xmp.as_bytes(), 62, 90).unwrap()).unwrap();
    assert!(out.contains(r#" tiff:Orientation="1" "#), "{out}");
    assert!(out.contains(r#"tiff:OrientationNote="6""#), "{out}");
    assert!(out.contains("exif:PixelXDimension = '62'"), "{out}");
    assert!(out.contains(r#"exif:PixelYDimension="90""#), "{out}");
    assert!(
        out.contains("<tiff:ImageWidth>62</tiff:ImageWidth>"),
        "{out}"
    );
    assert!(
        out.contains("<tiff:ImageLength>90</tiff:ImageLength>"),
        "{out}"
    );
    assert!(out.contains(r#"xmp:Rating="4""#), "{out}");

    assert_eq!(xmp_for_output(&[0xFF, 0xFE, 0x3C, 0x00], 1, 1), None);
    // Incomplete markup is left as it is.
    for partial in [
        "<tiff:Orientation>6",
        " tiff:Orientation=",
        " tiff:Orientation=\"6",
    ] {
        let out = xmp_for_output(partial.as_bytes(), 1, 1).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), partial);
    }
}
