//! Fuzz-style robustness test, CI-sized (issue 13, item 10): the fixture images and a weights
//! file are mutated (truncated, bit-flipped, headers claiming huge sizes or architectures) and
//! pushed through decode → restore (tiny random networks) → encode, and through weights
//! loading. Every case must end in a valid output or a clear one-line error: no panic, no
//! abort, no runaway allocation.
//!
//! Seeded and bounded: `AETOOL_FUZZ_SEED` (default 13), `AETOOL_FUZZ_CASES` (default 120 per
//! target) and `AETOOL_FUZZ_SECONDS` (default 40 per target) reproduce or extend a run; a
//! failure prints the seed, case, file and mutation.

use aetool::models::{ModelKind, ModelSpec};
use aetool::photo::{self, Limits, OutputFormat};
use aetool::testing::{random_net, tiny_spec, weights_bytes, Rng};
use aetool::weights::{self, Loaded, Source};
use aetool::{RestoreSettings, Restorer, Sigma, Target, TileSize};
use candle_core::Device;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Wall-clock budget per target (`AETOOL_FUZZ_SECONDS`, default 40), so the test stays
/// CI-sized on a slow machine.
fn budget() -> Duration {
    Duration::from_secs(env_u64("AETOOL_FUZZ_SECONDS", 40))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Writes a huge width and/or height into the header of a PNG, JPEG or BMP (others: `None`).
fn huge_dimensions(data: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut d = data.to_vec();
    let big = [0xFFFF_FFFFu32, 0x7FFF_FFFF, 100_000, 65_535, 0][rng.below(5)];
    if d.starts_with(b"\x89PNG") && d.len() > 33 {
        let field = 16 + 4 * rng.below(2);
        d[field..field + 4].copy_from_slice(&big.to_be_bytes());
        let crc = aetool::testing::crc32(&d[12..29]);
        d[29..33].copy_from_slice(&crc.to_be_bytes());
        return Some(d);
    }
    if d.starts_with(b"\xFF\xD8") {
        // Start of frame (baseline C0 or progressive C2): FF Cx len(2) precision(1) h(2) w(2).
        let sof = d
            .windows(2)
            .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))?;
        let field = sof + 5 + 2 * rng.below(2);
        d.get_mut(field..field + 2)?
            .copy_from_slice(&(big as u16).to_be_bytes());
        return Some(d);
    }
    if d.starts_with(b"BM") && d.len() > 26 {
        let field = 18 + 4 * rng.below(2);
        d[field..field + 4].copy_from_slice(&big.to_le_bytes());
        return Some(d);
    }
    None
}

/// One random mutation of `data`, and its description.
fn mutate(data: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    match rng.below(5) {
        0 => {
            let cut = rng.below(data.len());
            (data[..cut].to_vec(), format!("truncated at {cut}"))
        }
        1 | 2 => {
            let mut d = data.to_vec();
            let flips = 1 + rng.below(8);
            // Headers are where most decisions are made: flip there more often.
            let span = if rng.below(2) == 0 {
                d.len().min(64)
            } else {
                d.len()
            };
            let mut at = Vec::new();
            for _ in 0..flips {
                let i = rng.below(span);
                d[i] ^= 1 << rng.below(8);
                at.push(i);
            }
            (d, format!("bits flipped at {at:?}"))
        }
        3 => match huge_dimensions(data, rng) {
            Some(d) => (d, "huge dimensions in the header".into()),
            None => (data.to_vec(), "unchanged".into()),
        },
        _ => {
            let mut d = data.to_vec();
            let i = rng.below(d.len());
            let n = 1 + rng.below(16);
            let end = (i + n).min(d.len());
            d[i..end].fill(0xFF);
            (d, format!("bytes {i}..{end} set to FF"))
        }
    }
}

fn restorer(spec: &ModelSpec, tile: TileSize) -> Restorer {
    let (net, _) = random_net(spec, 0.05);
    let loaded = Loaded {
        net,
        estimator: None,
        spec: spec.clone(),
        provenance: serde_json::json!({}),
        origin: "fuzz".into(),
    };
    let settings = RestoreSettings {
        sigma: Sigma::Auto,
        tile,
        tile_pad: None,
        work_size: 64,
        ..RestoreSettings::default()
    };
    Restorer::new(loaded, Device::Cpu, settings)
}

/// A one-line, non-empty error message.
fn assert_clear(err: &anyhow::Error, context: &str) {
    let msg = format!("{err:#}");
    assert!(!msg.trim().is_empty(), "{context}: empty error");
    assert!(!msg.contains('\n'), "{context}: multi-line error: {msg}");
}

/// Counts the fuzz outcomes: a panic fails at once, an error must be one clear line.
#[derive(Default)]
struct Tally {
    ok: usize,
    refused: usize,
}

impl Tally {
    fn record(&mut self, outcome: std::thread::Result<anyhow::Result<()>>, context: &str) {
        match outcome {
            Err(_) => panic!("{context}: panicked (see above)"),
            Ok(Ok(())) => self.ok += 1,
            Ok(Err(e)) => {
                assert_clear(&e, context);
                self.refused += 1;
            }
        }
    }

    /// Prints the counts; the mutations must have given both outcomes.
    fn finish(self, what: &str, done: &str) {
        let Tally { ok, refused } = self;
        eprintln!("fuzz {what}: {ok} {done}, {refused} refused with a clear error");
        assert!(
            ok > 0 && refused > 0,
            "{ok} / {refused}: the mutations should give both"
        );
    }
}

#[test]
fn mutated_images_decode_restore_and_encode_or_fail_clearly() {
    let seed = env_u64("AETOOL_FUZZ_SEED", 13);
    let cases = env_u64("AETOOL_FUZZ_CASES", 120);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let images: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !matches!(name.as_str(), "README.md" | "notes.txt" | "empty.png")
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let restorers = [
        restorer(&tiny_spec(ModelKind::Denoise), TileSize::Fixed(16)),
        restorer(&tiny_spec(ModelKind::UpscaleX2), TileSize::Auto),
        restorer(&tiny_spec(ModelKind::Colorize), TileSize::Whole),
    ];
    // Small limits: a header claiming a big image must be refused, not decoded.
    let limits = Limits {
        max_pixels: 2_000_000,
        ..Limits::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut tally = Tally::default();
    for case in 0..cases {
        if started.elapsed() > budget() {
            eprintln!("fuzz: time budget reached after {case} cases");
            break;
        }
        let (name, data) = &images[rng.below(images.len())];
        let (bytes, how) = mutate(data, &mut rng);
        let context = format!("seed {seed} case {case}: {name}, {how}");
        let input = dir.path().join(format!("in-{name}"));
        std::fs::write(&input, &bytes).unwrap();
        let r = &restorers[rng.below(restorers.len())];
        let outcome = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<()> {
            let photo = photo::load(&input, &limits)?;
            let format = OutputFormat::for_input(photo.meta.format);
            let (out, _) = r.restore(&photo, Target::File(format), &mut |_, _| {})?;
            let dest = dir.path().join(format!("out.{}", format.extension()));
            photo::save(&dest, &out, format, &Default::default())?;
            let back = photo::load(&dest, &Limits::default())?;
            assert_eq!(
                (back.width, back.height),
                (out.width, out.height),
                "{context}"
            );
            Ok(())
        }));
        tally.record(outcome, &context);
        // The same file opened to be streamed (PNG and TIFF are): refused clearly, or read row
        // by row as the whole decode reads it.
        let streamed = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<()> {
            let stream_all = Limits {
                stream_above: 0,
                ..limits
            };
            let mut opened = photo::open(&input, &stream_all)?;
            let mut rows = Vec::new();
            let h = opened.height();
            opened.with_rows(|read| (0..h).for_each(|y| read(y, &mut rows)))?;
            let whole = photo::load(&input, &limits)?;
            assert!(rows == whole.rgb_f32(), "{context}: streamed rows differ");
            Ok(())
        }));
        tally.record(streamed, &context);
    }
    tally.finish("images", "restored");
}

/// `key` of the `config` metadata set to `value`, the header re-serialised.
fn with_config(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let config = header["__metadata__"]["config"]
        .as_str()
        .unwrap()
        .to_string();
    let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
    edit(&mut config);
    header["__metadata__"]["config"] = serde_json::Value::String(config.to_string());
    let mut json = serde_json::to_vec(&header).unwrap();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// A random extreme value for an architecture field.
fn extreme(rng: &mut Rng) -> serde_json::Value {
    let pick = [
        serde_json::json!(0),
        serde_json::json!(u64::MAX),
        serde_json::json!(1u64 << 40),
        serde_json::json!(-1),
        serde_json::json!(3),
        serde_json::json!(1e300),
        serde_json::json!(vec![1; 40]),
        serde_json::json!(vec![u64::MAX, 1]),
        serde_json::json!([]),
        serde_json::json!("x"),
        serde_json::json!(null),
    ];
    pick[rng.below(pick.len())].clone()
}

#[test]
fn mutated_weights_load_or_fail_clearly() {
    let seed = env_u64("AETOOL_FUZZ_SEED", 13);
    let cases = env_u64("AETOOL_FUZZ_CASES", 120);
    let mut rng = Rng(seed ^ 0xD1B5_4A32_D192_ED03 | 1);
    let kinds = [
        ModelKind::Denoise,
        ModelKind::UpscaleX2,
        ModelKind::Colorize,
    ];
    let originals: Vec<Vec<u8>> = kinds
        .iter()
        .map(|&k| weights_bytes(&tiny_spec(k), &serde_json::json!({"steps": 1})))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let photo = photo::load(&fixtures().join("rgb8.png"), &Limits::default()).unwrap();
    let started = Instant::now();
    let mut tally = Tally::default();
    for case in 0..cases {
        if started.elapsed() > budget() {
            eprintln!("fuzz: time budget reached after {case} cases");
            break;
        }
        let k = rng.below(kinds.len());
        let original = &originals[k];
        let (bytes, how) = match rng.below(4) {
            0 => {
                let keys = [
                    "widths",
                    "blocks",
                    "width",
                    "scale",
                    "in_channels",
                    "arch",
                    "task",
                ];
                let key = keys[rng.below(keys.len())];
                let value = extreme(&mut rng);
                let how = format!("config {key} = {value}");
                (with_config(original, |c| c[key] = value), how)
            }
            1 => {
                let mut d = original.clone();
                let huge = [u64::MAX, 1 << 40, 0, 7][rng.below(4)];
                d[..8].copy_from_slice(&huge.to_le_bytes());
                (d, format!("header length {huge}"))
            }
            _ => mutate(original, &mut rng),
        };
        let context = format!("seed {seed} case {case}: {} weights, {how}", kinds[k]);
        std::fs::write(&path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<()> {
            let _ = weights::inspect(&Source::File(path.clone()))?;
            let loaded = weights::load(&Source::File(path.clone()), kinds[k], &Device::Cpu)?;
            let r = Restorer::new(
                loaded,
                Device::Cpu,
                RestoreSettings {
                    work_size: 32,
                    ..Default::default()
                },
            );
            let (out, _) = r.restore(&photo, Target::Float, &mut |_, _| {})?;
            assert!(out.rgb_f32().iter().all(|v| v.is_finite()), "{context}");
            Ok(())
        }));
        tally.record(outcome, &context);
    }
    tally.finish("weights", "loaded and ran");
}
