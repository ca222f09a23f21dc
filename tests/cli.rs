//! End-to-end tests of the `aetool` binary on fixture trees.
//!
//! Weights are made the way a user would, with `aetool finetune --from scratch --steps 0`, once
//! per task per test binary; they are untrained, so these tests check behaviour (files, names,
//! formats, sizes, exit codes, messages), not restoration quality. Images are tiny and training
//! runs a handful of steps on 16-pixel patches, to keep the whole binary fast on two cores.

mod common;

use aetool::testing::Rng;
use assert_cmd::Command;
use common::cli::{aetool_with, run};
use image::{ColorType, GenericImageView, RgbImage};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Compute threads for every command (the CI machine has two cores).
const THREADS: &str = "2";

/// Fixture files that cannot be decoded (see fixtures/README.md).
const BAD: [&str; 4] = ["empty.png", "truncated.png", "corrupt.jpg", "bomb.png"];

/// Fixture files that are good images.
const GOOD: [&str; 13] = [
    "exif_camera.jpg",
    "exif_rot6.jpg",
    "gray16.png",
    "gray8.png",
    "icc.png",
    "palette_trns.png",
    "rgb.bmp",
    "rgb.jpg",
    "rgb.webp",
    "rgb16.png",
    "rgb16.tif",
    "rgb8.png",
    "rgba8.png",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

fn aetool() -> Command {
    aetool_with(THREADS, Duration::from_secs(240))
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no count `{key}` in {v}"))
}

/// Scratch folders live under cargo's per-target temp dir. The shared weights folder is held by
/// a `static`, which is never dropped, so folders left by earlier runs are removed here.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aetool-cli-tests");
        std::fs::create_dir_all(&root).unwrap();
        let stale = SystemTime::now() - Duration::from_secs(3600);
        for entry in std::fs::read_dir(&root).unwrap().flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < stale);
            if old {
                std::fs::remove_dir_all(entry.path()).ok();
            }
        }
        root
    })
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(scratch_root()).unwrap()
}

/// A photo-like test image: a smooth two-colour gradient with a few soft-edged discs and
/// rectangles in other colours.
fn shapes(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut colour = || [rng.unit(), rng.unit(), rng.unit()];
    let (c0, c1) = (colour(), colour());
    let mut rng = Rng(seed ^ 0xD1B5_4A32_D192_ED03 | 1);
    let shapes: Vec<(bool, f32, f32, f32, f32, [f32; 3])> = (0..5)
        .map(|_| {
            let disc = rng.unit() < 0.5;
            let (cx, cy) = (rng.unit() * w as f32, rng.unit() * h as f32);
            let (rx, ry) = (
                4.0 + rng.unit() * w as f32 / 4.0,
                4.0 + rng.unit() * h as f32 / 4.0,
            );
            (disc, cx, cy, rx, ry, [rng.unit(), rng.unit(), rng.unit()])
        })
        .collect();
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let t = (fx / w as f32 + fy / h as f32) / 2.0;
        let mut p: [f32; 3] = std::array::from_fn(|c| c0[c] * (1.0 - t) + c1[c] * t);
        for &(disc, cx, cy, rx, ry, col) in &shapes {
            let (dx, dy) = ((fx - cx) / rx, (fy - cy) / ry);
            let d = if disc {
                (dx * dx + dy * dy).sqrt()
            } else {
                dx.abs().max(dy.abs())
            };
            // Soft edge about 1.5 px wide.
            let a = ((1.0 - d) * rx.min(ry) / 1.5 + 0.5).clamp(0.0, 1.0);
            for c in 0..3 {
                p[c] = p[c] * (1.0 - a) + col[c] * a;
            }
        }
        image::Rgb(p.map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8))
    })
}

/// Writes `n` generated `side`×`side` PNGs into a new folder.
fn photo_folder(n: usize, side: u32, seed: u64) -> tempfile::TempDir {
    let dir = tempdir();
    for i in 0..n {
        shapes(side, side, seed * 100 + i as u64)
            .save(dir.path().join(format!("photo{i}.png")))
            .unwrap();
    }
    dir
}

/// Untrained weights for `task` (`denoise`, `x2`, `x4`, `colorize`), made once per test binary
/// with `aetool finetune --from scratch --steps 0`.
fn weights(task: &str) -> &'static Path {
    type Cell = OnceLock<(tempfile::TempDir, PathBuf)>;
    static DENOISE: Cell = OnceLock::new();
    static X2: Cell = OnceLock::new();
    static X4: Cell = OnceLock::new();
    static COLORIZE: Cell = OnceLock::new();
    // The trainer skips images whose short side is below 2 · patch · scale (its validation crops
    // are twice the patch, at the output resolution): 96 px photos allow --patch 16 for
    // denoise, colorize and x2 (32, 32, 64 px) and --patch 8 for x4 (64 px).
    let (cell, args): (&Cell, &[&str]) = match task {
        "denoise" => (&DENOISE, &["--task", "denoise", "--patch", "16"]),
        "x2" => (&X2, &["--task", "upscale", "-x2", "--patch", "16"]),
        "x4" => (&X4, &["--task", "upscale", "-x4", "--patch", "8"]),
        "colorize" => (&COLORIZE, &["--task", "colorize", "--patch", "16"]),
        _ => panic!("unknown task {task}"),
    };
    &cell
        .get_or_init(|| {
            let photos = photo_folder(2, 96, 1);
            let dir = tempdir();
            let out = dir.path().join(format!("{task}.safetensors"));
            let (code, _, err) = run(aetool()
                .arg("finetune")
                .args(args)
                .args(["--from", "scratch", "--steps", "0", "--quiet", "--dir"])
                .arg(photos.path())
                .arg("-o")
                .arg(&out));
            assert_eq!(code, 0, "finetune --steps 0 for {task} failed:\n{err}");
            assert!(out.is_file(), "{}", out.display());
            (dir, out)
        })
        .1
}

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Every file under `root` (relative path → contents), hidden ones included.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    snapshot(root).into_keys().collect()
}

fn assert_no_temp_files(root: &Path) {
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        assert!(
            !entry
                .file_name()
                .to_string_lossy()
                .starts_with(".aetool-tmp-"),
            "temp file left behind: {}",
            entry.path().display()
        );
    }
}

/// The fixtures plus a nested copy of rgb8.png, a `.DS_Store`, a hidden image and a hidden
/// folder, in `<tmp>/photos`. Returns the relative paths of the good images.
fn mixed_folder(tmp: &Path) -> (PathBuf, Vec<PathBuf>) {
    let photos = tmp.join("photos");
    copy_tree(&fixtures(), &photos);
    std::fs::remove_file(photos.join("README.md")).unwrap();
    let nested = photos.join("nested/deeper");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::copy(fixture("rgb8.png"), nested.join("rgb8.png")).unwrap();
    std::fs::write(photos.join(".DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    std::fs::copy(fixture("rgb8.png"), photos.join(".hidden.png")).unwrap();
    std::fs::create_dir_all(photos.join(".cache")).unwrap();
    std::fs::copy(fixture("gray8.png"), photos.join(".cache/gray8.png")).unwrap();
    let mut good: Vec<PathBuf> = GOOD.iter().map(PathBuf::from).collect();
    good.push(PathBuf::from("nested/deeper/rgb8.png"));
    good.sort();
    (photos, good)
}

/// Lines of `stderr` that mention `needle`.
fn lines_with<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(needle)).collect()
}

/// 1. A folder with good, broken, hidden and non-image files.
#[test]
fn mixed_folder_outputs_errors_and_skips() {
    let tmp = tempdir();
    let (photos, good) = mixed_folder(tmp.path());
    let before = snapshot(&photos);

    let (code, _, err) = run(aetool()
        .arg("denoise")
        .arg(&photos)
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 1, "some files fail, so exit 1:\n{err}");

    // Every good image, the nested one included, has its output in the mirrored tree, and
    // nothing else is there.
    let out = tmp.path().join("photos-denoised");
    let expected: BTreeSet<PathBuf> = good.iter().cloned().collect();
    assert_eq!(files_under(&out), expected, "stderr:\n{err}");
    for rel in &good {
        let (a, b) = (
            image::open(photos.join(rel)).unwrap(),
            image::open(out.join(rel)).unwrap(),
        );
        let (w, h) = a.dimensions();
        // The EXIF orientation (6: a quarter turn) is applied to the output's pixels.
        let want = if rel.ends_with("exif_rot6.jpg") || rel.ends_with("exif_camera.jpg") {
            (h, w)
        } else {
            (w, h)
        };
        assert_eq!(b.dimensions(), want, "{}", rel.display());
    }

    // Each broken file: exactly one stderr line, naming it, with a reason.
    for bad in BAD {
        let lines = lines_with(&err, bad);
        assert_eq!(lines.len(), 1, "{bad}: {lines:?}\nstderr:\n{err}");
        let line = lines[0];
        assert!(line.starts_with("aetool: "), "{line}");
        assert!(
            line.contains(&*photos.join(bad).to_string_lossy()),
            "{line}"
        );
    }
    assert!(lines_with(&err, "empty.png")[0].contains("empty file"));
    assert!(lines_with(&err, "corrupt.jpg")[0].contains("JPEG"));
    assert!(lines_with(&err, "bomb.png")[0].contains("MP limit"));

    // notes.txt and the hidden entries are skipped, not failed; the hidden folder not entered.
    let notes = lines_with(&err, "notes.txt");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("skipping") && notes[0].contains("not a format aetool reads"));
    assert!(lines_with(&err, "gray8.png")
        .iter()
        .all(|l| !l.contains(".cache/")));
    assert!(lines_with(&err, ".DS_Store")[0].contains("skipping"));
    assert!(lines_with(&err, ".hidden.png")[0].contains("skipping"));
    assert!(err.contains("14 done, 4 skipped, 4 failed"), "{err}");

    // Inputs untouched; no temp files anywhere.
    assert_eq!(snapshot(&photos), before, "inputs changed");
    assert_no_temp_files(tmp.path());
}

/// 2. Gray stays gray, 16-bit stays 16-bit, alpha is kept, EXIF rotation is applied.
#[test]
fn output_formats_follow_inputs() {
    let tmp = tempdir();
    let out = tmp.path().join("out");
    let names = [
        "gray8.png",
        "gray16.png",
        "rgb16.png",
        "rgba8.png",
        "exif_rot6.jpg",
    ];
    let (code, _, err) = run(aetool()
        .arg("denoise")
        .args(names.map(fixture))
        .arg("-o")
        .arg(&out)
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    let open = |n: &str| image::open(out.join(n)).unwrap();

    let gray8 = open("gray8.png");
    assert_eq!(gray8.color(), ColorType::L8);
    assert_eq!(gray8.dimensions(), (45, 31));
    assert_eq!(open("gray16.png").color(), ColorType::L16);
    let rgb16 = open("rgb16.png");
    assert_eq!(rgb16.color(), ColorType::Rgb16);
    assert_eq!(rgb16.dimensions(), (37, 29));

    // Alpha is carried through unchanged (the ramp 0 → 255 from left to right).
    let rgba = open("rgba8.png");
    assert_eq!(rgba.color(), ColorType::Rgba8);
    let (src, dst) = (
        image::open(fixture("rgba8.png")).unwrap().to_rgba8(),
        rgba.to_rgba8(),
    );
    assert!(src.pixels().zip(dst.pixels()).all(|(a, b)| a[3] == b[3]));

    // Orientation 6 is applied on load: 45×31 as stored is 31×45 upright, and is written upright.
    let rot = open("exif_rot6.jpg");
    assert_eq!(rot.dimensions(), (31, 45));
    let mut dec = image::ImageReader::open(out.join("exif_rot6.jpg"))
        .unwrap()
        .into_decoder()
        .unwrap();
    use image::ImageDecoder;
    assert_eq!(
        dec.orientation().unwrap(),
        image::metadata::Orientation::NoTransforms,
        "no EXIF rotation may be left in the output"
    );
}

/// 3. A second run skips existing outputs; --overwrite redoes them.
#[test]
fn rerun_skips_existing_outputs_unless_overwrite() {
    let tmp = tempdir();
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(photos.join("sub")).unwrap();
    for (from, to) in [
        ("rgb8.png", "a.png"),
        ("gray8.png", "b.png"),
        ("rgb.jpg", "sub/c.jpg"),
    ] {
        std::fs::copy(fixture(from), photos.join(to)).unwrap();
    }
    let denoise = || {
        let mut cmd = aetool();
        cmd.arg("denoise")
            .arg(&photos)
            .arg("--json")
            .arg("--weights")
            .arg(weights("denoise"));
        cmd
    };
    let (code, stdout, err) = run(&mut denoise());
    assert_eq!(code, 0, "{err}");
    let first = json(&stdout);
    assert_eq!((count(&first, "done"), count(&first, "skipped")), (3, 0));
    let out = tmp.path().join("photos-denoised");
    let outputs = snapshot(&out);
    assert_eq!(outputs.len(), 3);

    let (code, stdout, err) = run(&mut denoise());
    assert_eq!(code, 0, "{err}");
    let second = json(&stdout);
    assert_eq!(count(&second, "done"), 0, "{second}");
    assert_eq!(count(&second, "skipped"), 3, "{second}");
    assert_eq!(count(&second, "failed"), 0, "{second}");
    assert_eq!(lines_with(&err, "output exists").len(), 3, "{err}");
    assert_eq!(snapshot(&out), outputs);

    // --overwrite processes them again (an untrained model is still deterministic).
    let (code, stdout, err) = run(denoise().arg("--overwrite"));
    assert_eq!(code, 0, "{err}");
    let third = json(&stdout);
    assert_eq!((count(&third, "done"), count(&third, "skipped")), (3, 0));
    assert_eq!(
        snapshot(&out),
        outputs,
        "same weights, same inputs, same bytes"
    );
    assert_no_temp_files(tmp.path());
}

/// 4. The --json summary matches the folder's contents.
#[test]
fn json_summary_counts_match_folder() {
    let tmp = tempdir();
    let (photos, good) = mixed_folder(tmp.path());
    let (code, stdout, err) = run(aetool()
        .arg("denoise")
        .arg(&photos)
        .args(["--json", "--quiet", "--weights"])
        .arg(weights("denoise")));
    assert_eq!(code, 1, "{err}");
    let s = json(&stdout);
    assert_eq!(count(&s, "done"), good.len() as u64, "{s}");
    // notes.txt, .DS_Store, .hidden.png and the .cache folder.
    assert_eq!(count(&s, "skipped"), 4, "{s}");
    assert_eq!(count(&s, "failed"), BAD.len() as u64, "{s}");
    assert_eq!(s["interrupted"], Value::Bool(false));

    let out = tmp.path().join("photos-denoised");
    let outputs: BTreeSet<PathBuf> = s["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect();
    let expected: BTreeSet<PathBuf> = good.iter().map(|g| out.join(g)).collect();
    assert_eq!(outputs, expected);
    let failed: BTreeSet<PathBuf> = s["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["error"].as_str().unwrap().is_empty(), "{f}");
            PathBuf::from(f["file"].as_str().unwrap())
        })
        .collect();
    let expected: BTreeSet<PathBuf> = BAD.iter().map(|b| photos.join(b)).collect();
    assert_eq!(failed, expected);
    // --quiet: one line per error and the UNTRAINED warning; no notes or final tally.
    let (warnings, errors): (Vec<&str>, Vec<&str>) = err
        .lines()
        .partition(|l| l.starts_with("aetool: warning: "));
    assert_eq!(errors.len(), BAD.len(), "{err}");
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("UNTRAINED"), "{err}");
}

/// 5. Upscale sizes, `-o FILE`, and a scale mismatch between flags and weights.
#[test]
fn upscale_sizes_output_file_and_scale_mismatch() {
    let tmp = tempdir();
    for (scale, want) in [("x2", (74, 58)), ("x4", (148, 116))] {
        let out = tmp.path().join(scale);
        let file = out.join("big.png");
        let (code, _, err) = run(aetool()
            .args(["upscale", &format!("-{scale}")])
            .arg(fixture("rgb8.png"))
            .arg("-o")
            .arg(&file)
            .arg("--weights")
            .arg(weights(scale)));
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            files_under(&out),
            BTreeSet::from([PathBuf::from("big.png")]),
            "-o FILE writes exactly that file"
        );
        let img = image::open(&file).unwrap();
        assert_eq!(img.dimensions(), want, "{scale}");
        assert_eq!(img.color(), ColorType::Rgb8);
    }

    let x2 = weights("x2");
    let (code, _, err) = run(aetool()
        .args(["upscale", "-x4"])
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(tmp.path().join("never.png"))
        .arg("--weights")
        .arg(x2));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&*x2.to_string_lossy()), "{err}");
    assert!(err.contains("`upscale-x4` weights are needed"), "{err}");
    assert!(!tmp.path().join("never.png").exists());
}

/// `--variant` picks a bundled alternative model; an unknown one is refused before any work,
/// naming the variants that exist, and it cannot be combined with `--weights`.
#[test]
fn variant_selects_bundled_alternative_models() {
    let tmp = tempdir();
    let file = tmp.path().join("clean.png");
    let (code, _, err) = run(aetool()
        .args(["upscale", "-x2", "--variant", "clean"])
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    assert_eq!(image::open(&file).unwrap().dimensions(), (74, 58));

    let never = tmp.path().join("never.png");
    let (code, _, err) = run(aetool()
        .args(["denoise", "--variant", "clean"])
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(&never));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no `clean` variant of denoise (bundled variants of denoise: gaussian, jpeg)"),
        "{err}"
    );
    assert!(!never.exists());

    let (code, _, err) = run(aetool()
        .args(["denoise", "--variant", "jpeg", "--weights"])
        .arg(weights("denoise"))
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(&never));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}

/// 6. Colorize turns a gray photo into an RGB one of the same size.
#[test]
fn colorize_gray_gives_rgb() {
    let tmp = tempdir();
    let file = tmp.path().join("colour.png");
    let (code, _, err) = run(aetool()
        .arg("colorize")
        .arg(fixture("gray8.png"))
        .arg("-o")
        .arg(&file)
        .arg("--weights")
        .arg(weights("colorize")));
    assert_eq!(code, 0, "{err}");
    let img = image::open(&file).unwrap();
    assert_eq!(img.color(), ColorType::Rgb8);
    assert_eq!(img.dimensions(), (45, 31));
}

/// 7. Weights that are not weights, and weights that are not there.
#[test]
fn bad_or_missing_weights_are_fatal() {
    let tmp = tempdir();
    let text = tmp.path().join("weights.txt");
    std::fs::write(&text, "these are not weights\n").unwrap();
    let missing = tmp.path().join("missing.safetensors");
    for (weights, says) in [(&text, "not a safetensors"), (&missing, "cannot open")] {
        let (code, _, err) = run(aetool()
            .arg("denoise")
            .arg(fixture("rgb8.png"))
            .arg("-o")
            .arg(tmp.path().join("out.png"))
            .arg("--weights")
            .arg(weights));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&*weights.to_string_lossy()), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(err.lines().count(), 1, "one error line:\n{err}");
    }
    assert!(!tmp.path().join("out.png").exists());
}

/// 7a. A reader that stops early (`aetool info | head -1`) ends the command quietly, not in a panic.
#[test]
fn closed_stdout_is_not_a_crash() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aetool"))
        .arg("info")
        .arg(weights("denoise"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run aetool");
    drop(child.stdout.take()); // the only read end: every write now fails with EPIPE
    let out = child.wait_with_output().expect("wait for aetool");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// 7a'. `aetool info` says which bundled denoiser serves which photos: the JPEG and Gaussian
///      models' blocks name the photos the default sends them, and no other block claims any.
#[test]
fn info_names_the_photos_the_jpeg_and_gaussian_models_serve() {
    let (code, stdout, err) = run(aetool().arg("info"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = stdout.lines().collect();
    for (variant, serves) in [
        (
            "jpeg",
            "the default's JPEGs below quality 70 (`--variant jpeg`: every photo)",
        ),
        (
            "gaussian",
            "the default's photos other than JPEGs told --sigma N (`--variant gaussian`: every photo)",
        ),
    ] {
        let source = format!("source        bundled:denoise-{variant}");
        let at = lines
            .iter()
            .position(|l| l.trim() == source)
            .unwrap_or_else(|| panic!("no denoise-{variant} block in: {stdout}"));
        assert_eq!(lines[at + 1].trim(), format!("serves        {serves}"));
    }
    assert_eq!(stdout.matches("serves ").count(), 2, "{stdout}");
}

/// 7b. Training flags that make no sense are refused before any work, in one line.
#[test]
fn finetune_refuses_bad_flags() {
    let tmp = photo_folder(2, 64, 7);
    for (flags, says) in [
        (&["--task", "denoise", "--patch", "18"][..], "multiple of 8"),
        (
            &["--task", "colorize", "--batch", "0"][..],
            "--batch must be ≥ 1",
        ),
        (
            &["--task", "upscale", "--estimator-only"][..],
            "--estimator-only trains the noise estimator of --task denoise",
        ),
        (
            &["--task", "denoise", "--estimator-only", "--from", "scratch"][..],
            "needs a trained denoiser",
        ),
        (
            &["--task", "denoise", "--estimator-floor", "30"][..],
            "add that flag",
        ),
        (&["--task", "colorize", "--ema", "1"][..], "below 1"),
        (
            &["--task", "upscale", "--degradation", "jpeg"][..],
            "use it with --task denoise",
        ),
        (
            &["--task", "colorize", "--degradation", "unclipped"][..],
            "use it with --task denoise",
        ),
        (
            &[
                "--task",
                "denoise",
                "--estimator-only",
                "--estimator-floor",
                "5",
            ][..],
            "between 10 and 60 dB",
        ),
    ] {
        let out = tmp.path().join("w.safetensors");
        let (code, _, err) = run(aetool()
            .arg("finetune")
            .args(flags)
            .arg("--dir")
            .arg(tmp.path())
            .arg("-o")
            .arg(&out));
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one error line:\n{err}");
        assert!(!out.exists());
    }
    // `-x` takes an enum: clap itself refuses -x3 (usage error, status 2), naming -x2 and -x4.
    let out = tmp.path().join("w.safetensors");
    let (code, _, err) = run(aetool()
        .args(["finetune", "--task", "upscale", "-x3", "--dir"])
        .arg(tmp.path())
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("[possible values: 2, 4]"), "{err}");
    assert!(!out.exists());
}

/// 7c. `--estimator-only` trains the noise estimator and nothing else: the output's denoiser
/// tensors are the base's, and the checkpoint holds (moved) estimator weights only.
#[test]
fn finetune_estimator_only_keeps_the_denoiser() {
    let photos = photo_folder(2, 96, 3);
    let tmp = tempdir();
    let out = tmp.path().join("est.safetensors");
    let (code, _, err) = run(aetool()
        .args([
            "finetune",
            "--task",
            "denoise",
            "--estimator-only",
            "--from",
        ])
        .arg(weights("denoise"))
        .args([
            "--steps", "3", "--batch", "2", "--patch", "16", "--lr", "1e-2",
        ])
        .args(["--checkpoint-every", "1"])
        .args(["--quiet", "--dir"])
        .arg(photos.path())
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let (base, trained, ckpt) = (
        read(weights("denoise")),
        read(&out),
        read(&tmp.path().join("est.ckpt.safetensors")),
    );
    let base = safetensors::SafeTensors::deserialize(&base).unwrap();
    let trained = safetensors::SafeTensors::deserialize(&trained).unwrap();
    let ckpt = safetensors::SafeTensors::deserialize(&ckpt).unwrap();
    let (mut names, mut base_names) = (trained.names(), base.names());
    names.sort();
    base_names.sort();
    assert_eq!(names, base_names);
    for name in trained.names() {
        if !name.starts_with("estimator.") {
            let (a, b) = (base.tensor(name).unwrap(), trained.tensor(name).unwrap());
            assert!(a.data() == b.data(), "{name} changed");
        }
    }
    let saved: Vec<&str> = ckpt
        .names()
        .into_iter()
        .filter_map(|n| n.strip_prefix("model."))
        .collect();
    assert!(!saved.is_empty());
    assert!(
        saved.iter().all(|n| n.starts_with("estimator.")),
        "{saved:?}"
    );
    assert!(
        saved.iter().any(|n| base.tensor(n).unwrap().data()
            != ckpt.tensor(&format!("model.{n}")).unwrap().data()),
        "the estimator did not move"
    );
}

/// 8. An output folder that cannot be written: per-file errors naming the output, exit 1.
#[test]
fn unwritable_output_fails_per_file() {
    let tmp = tempdir();
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::copy(fixture("rgb8.png"), photos.join("a.png")).unwrap();
    std::fs::copy(fixture("gray8.png"), photos.join("b.png")).unwrap();
    let before = snapshot(&photos);

    let check = |out_dir: &Path, what: &str| {
        let (code, stdout, err) = run(aetool()
            .arg("denoise")
            .arg(&photos)
            .arg("-o")
            .arg(out_dir)
            .arg("--json")
            .arg("--weights")
            .arg(weights("denoise")));
        assert_eq!(code, 1, "{what}:\n{err}");
        let s = json(&stdout);
        assert_eq!(
            (count(&s, "done"), count(&s, "failed")),
            (0, 2),
            "{what}: {s}"
        );
        for name in ["a.png", "b.png"] {
            let output = out_dir.join(name);
            let lines = lines_with(&err, &output.to_string_lossy());
            assert_eq!(lines.len(), 1, "{what}: {name}:\n{err}");
            assert!(lines[0].contains("cannot write output"), "{}", lines[0]);
        }
        assert_eq!(snapshot(&photos), before);
    };

    // A folder under a regular file can never be created, whoever runs the test.
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    check(&blocker.join("out"), "-o under a file");

    // A read-only folder (not read-only for root: then this half is skipped).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = tmp.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        let probe = locked.join("probe");
        if std::fs::write(&probe, b"x").is_ok() {
            std::fs::remove_file(&probe).unwrap();
            eprintln!("running as a user who can write to a 0o555 folder; read-only case skipped");
        } else {
            check(&locked, "read-only -o folder");
            assert!(files_under(&locked).is_empty());
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_no_temp_files(tmp.path());
}

/// 9. Two shards into one folder make exactly what one unsharded run makes.
#[test]
fn shards_split_the_work_disjointly() {
    let tmp = tempdir();
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(photos.join("sub")).unwrap();
    for (i, rel) in ["a.png", "b.png", "sub/c.png", "sub/d.png", "e.png"]
        .iter()
        .enumerate()
    {
        shapes(24, 20, 50 + i as u64)
            .save(photos.join(rel))
            .unwrap();
    }
    let denoise = |out: &Path, shard: Option<&str>| {
        let mut cmd = aetool();
        cmd.arg("denoise")
            .arg(&photos)
            .arg("-o")
            .arg(out)
            .args(["--json", "--weights"])
            .arg(weights("denoise"));
        if let Some(s) = shard {
            cmd.args(["--shard", s]);
        }
        let (code, stdout, err) = run(&mut cmd);
        assert_eq!(code, 0, "{shard:?}: {err}");
        let s = json(&stdout);
        assert_eq!(count(&s, "failed"), 0);
        s["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect::<BTreeSet<_>>()
    };
    let sharded = tmp.path().join("sharded");
    let whole = tmp.path().join("whole");
    let part0 = denoise(&sharded, Some("0/2"));
    let part1 = denoise(&sharded, Some("1/2"));
    let all = denoise(&whole, None);
    assert_eq!((part0.len(), part1.len(), all.len()), (3, 2, 5));
    assert!(part0.is_disjoint(&part1), "{part0:?} {part1:?}");
    // Same files, and the same bytes: sharding changes who does the work, not the result.
    assert_eq!(snapshot(&sharded), snapshot(&whole));
    assert_eq!(files_under(&whole).len(), 5);
}

/// Asserts that two safetensors files with the same tensor names differ in some tensor's values.
fn assert_tensors_differ(a: &Path, b: &Path) {
    let (da, db) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let (ta, tb) = (
        safetensors::SafeTensors::deserialize(&da).unwrap(),
        safetensors::SafeTensors::deserialize(&db).unwrap(),
    );
    let differ = ta
        .names()
        .into_iter()
        .any(|n| ta.tensor(n).unwrap().data() != tb.tensor(n).unwrap().data());
    assert!(
        differ,
        "{} and {} hold the same tensors",
        a.display(),
        b.display()
    );
}

/// Asserts that two safetensors files hold the same tensors, bit for bit (metadata ignored).
/// On a mismatch, names the first differing tensor and the largest difference.
fn assert_same_tensors(a: &Path, b: &Path, context: &str) {
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    let (mut na, mut nb) = (a.names(), b.names());
    na.sort();
    nb.sort();
    assert_eq!(na, nb, "{context}: tensor names differ");
    for name in na {
        let (x, y) = (a.tensor(name).unwrap(), b.tensor(name).unwrap());
        assert_eq!(x.dtype(), y.dtype(), "{context}: {name}");
        assert_eq!(x.shape(), y.shape(), "{context}: {name}");
        if x.data() != y.data() {
            let f32s = |d: &[u8]| -> Vec<f32> {
                d.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            let max_diff = f32s(x.data())
                .iter()
                .zip(f32s(y.data()))
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            // The fused conv's backward sums weight/bias gradients in per-thread partials, whose
            // grouping follows rayon's scheduling: resumed and straight runs agree to float
            // rounding of that sum (seen: 5e-10), not always bit for bit.
            assert!(
                max_diff <= 1e-6,
                "{context}: tensor {name} differs (largest difference {max_diff:e})"
            );
        }
    }
}

/// 10. Training lowers the loss, writes usable weights, and a resumed run equals a straight one.
#[test]
fn finetune_learns_writes_weights_and_resumes_exactly() {
    let photos = photo_folder(4, 96, 7);
    let tmp = tempdir();
    let finetune_args = |out: &Path, steps: &str| -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = [
            "finetune",
            "--task",
            "denoise",
            // Gaussian noise only: the realistic mixture's batch-to-batch spread would hide the
            // loss going down over six steps of two crops.
            "--degradation",
            "classic",
            "--from",
            "scratch",
            "--batch",
            "2",
            "--patch",
            "16",
            "--val-every",
            "3",
            "--checkpoint-every",
            "3",
            "--json",
            "--steps",
            steps,
            "--dir",
        ]
        .iter()
        .map(Into::into)
        .collect();
        args.extend([photos.path().into(), "-o".into(), out.into()]);
        args
    };
    let finetune = |out: &Path, steps: &str| {
        let mut cmd = aetool();
        cmd.args(finetune_args(out, steps));
        cmd
    };

    // One step, then six: same seed, so the same first batch; the validation crops are fixed.
    let one = tmp.path().join("one.safetensors");
    let (code, stdout, err) = run(&mut finetune(&one, "1"));
    assert_eq!(code, 0, "{err}");
    let r1 = json(&stdout);
    let a = tmp.path().join("a.safetensors");
    let (code, stdout, err) = run(&mut finetune(&a, "6"));
    assert_eq!(code, 0, "{err}");
    let r6 = json(&stdout);
    assert_eq!(r6["steps"], 6);
    assert_eq!(r6["interrupted"], false);
    let loss = |r: &Value| r["final_loss"].as_f64().unwrap();
    let psnr = |r: &Value| r["val_psnr"].as_f64().unwrap();
    assert!(loss(&r6) < loss(&r1), "loss {} → {}", loss(&r1), loss(&r6));
    assert!(
        psnr(&r6) > psnr(&r1),
        "val PSNR {} → {}",
        psnr(&r1),
        psnr(&r6)
    );
    assert!(r6["val_baseline_psnr"].as_f64().unwrap() > 0.0);
    // The base (here: the random start) is measured before step 1 and compared at every
    // validation; the written weights are the best validated ones.
    let base = r6["base_val_psnr"].as_f64().unwrap();
    assert!(psnr(&r6) >= base, "best {} < base {base}", psnr(&r6));
    assert!(
        err.contains("step 0 (base scratch): validation PSNR"),
        "{err}"
    );
    assert!(err.contains("base model"), "{err}");
    assert!(
        err.contains("step 3: loss") && err.contains("step 6: loss"),
        "{err}"
    );
    assert!(tmp.path().join("a.ckpt.safetensors").is_file());

    // The weights load for inference and `info` tells they are trained.
    let (code, _, err) = run(aetool()
        .arg("denoise")
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(tmp.path().join("restored.png"))
        .arg("--weights")
        .arg(&a));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("UNTRAINED"), "{err}");
    assert_eq!(
        image::open(tmp.path().join("restored.png"))
            .unwrap()
            .dimensions(),
        (37, 29)
    );
    let (code, stdout, _) = run(aetool().arg("info").arg(&a));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("6 steps") && !stdout.contains("UNTRAINED"),
        "{stdout}"
    );

    // Resume. A Ctrl-C stops training after the current step and saves a checkpoint there;
    // `--resume` with the same flags must then end with exactly the tensors of the straight run
    // A (same batches, same learning rates). With `--ema` the checkpoint carries the moving
    // average too, and the written weights are the average's: they differ from A's.
    // (`--steps 3` then `--resume --steps 6` is a different run, see below.)
    #[cfg(unix)]
    for ema in [None, Some("0.5")] {
        let with_ema = |mut args: Vec<std::ffi::OsString>| {
            if let Some(d) = ema {
                args.extend(["--ema".into(), d.into()]);
            }
            args
        };
        let straight = match ema {
            None => a.clone(),
            Some(_) => {
                let e = tmp.path().join("e.safetensors");
                let (code, _, err) = run(aetool().args(with_ema(finetune_args(&e, "6"))));
                assert_eq!(code, 0, "{err}");
                assert_tensors_differ(&a, &e);
                e
            }
        };
        let b = tmp.path().join("b.safetensors");
        std::fs::remove_file(&b).ok();
        let stopped_at = interrupt_training(&b, || with_ema(finetune_args(&b, "6")));
        let (code, stdout, err) = run(aetool()
            .args(with_ema(finetune_args(&b, "6")))
            .arg("--resume"));
        assert_eq!(code, 0, "{err}");
        assert_eq!(json(&stdout)["steps"], 6);
        assert_same_tensors(
            &straight,
            &b,
            &format!(
                "--ema {ema:?}: interrupted at step {stopped_at}, resumed to 6, vs 6 straight"
            ),
        );
    }

    // Same seed, same flags: a second straight run gives the same tensors (scratch init
    // included).
    let a2 = tmp.path().join("a2.safetensors");
    let (code, _, err) = run(&mut finetune(&a2, "6"));
    assert_eq!(code, 0, "{err}");
    assert_same_tensors(&a, &a2, "two identical 6-step runs");

    // Extending a finished run with a larger --steps is accepted and counts steps on (9 → 10
    // also changes the derived warmup, 0 → 1 step, which must not count as other settings).
    let c = tmp.path().join("c.safetensors");
    let (code, _, err) = run(&mut finetune(&c, "9"));
    assert_eq!(code, 0, "{err}");
    let (code, stdout, err) = run(finetune(&c, "10").arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&stdout)["steps"], 10);
    // A resume with other settings is refused, naming the checkpoint.
    let (code, _, err) = run(finetune(&c, "10").args(["--resume", "--lr", "0.01"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("c.ckpt.safetensors") && err.contains("different settings"),
        "{err}"
    );
}

/// Runs `finetune` with `args` (writing `out`) and sends it a Ctrl-C as soon as training
/// starts; returns the step the saved checkpoint holds. The run stops after step 1 or a little
/// later; the step does not matter.
#[cfg(unix)]
fn interrupt_training(out: &Path, args: impl Fn() -> Vec<std::ffi::OsString>) -> u64 {
    use std::io::BufRead;
    let ckpt = out.with_file_name(format!(
        "{}.ckpt.safetensors",
        out.file_stem().unwrap().to_string_lossy()
    ));
    for _attempt in 0..3 {
        std::fs::remove_file(&ckpt).ok();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aetool"))
            .args(args())
            .env("RAYON_NUM_THREADS", THREADS)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut log = String::new();
        while stderr.read_line(&mut log).unwrap() > 0 {
            if log.contains("aetool: training ") {
                // The Ctrl-C handler is installed before the command runs.
                let kill = std::process::Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(kill.success());
                break;
            }
        }
        std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
        let done = child.wait_with_output().unwrap();
        match done.status.code() {
            Some(130) => {
                let r = json(&String::from_utf8_lossy(&done.stdout));
                assert_eq!(r["interrupted"], true, "{log}");
                assert!(!out.exists(), "no weights are written on interrupt");
                assert!(log.contains("continue with --resume"), "{log}");
                let stopped_at = r["steps"].as_u64().unwrap();
                eprintln!("finetune interrupted after step {stopped_at}");
                assert!((1..=6).contains(&stopped_at), "{stopped_at}");
                return stopped_at;
            }
            // Finished before the signal arrived (a very busy machine): try again.
            Some(0) => std::fs::remove_file(out).unwrap(),
            other => panic!("interrupted finetune exited with {other:?}:\n{log}"),
        }
    }
    panic!("the interrupt never landed during training")
}

/// 11. `aetool info FILE` describes untrained weights.
#[test]
fn info_describes_weights_file() {
    for (task, name) in [
        ("denoise", "denoise"),
        ("x4", "upscale-x4"),
        ("colorize", "colorize"),
    ] {
        let w = weights(task);
        let (code, stdout, err) = run(aetool().arg("info").arg(w));
        assert_eq!(code, 0, "{err}");
        let first = stdout.lines().next().unwrap_or_default();
        assert_eq!(first, name, "{stdout}");
        assert!(stdout.contains(&*w.to_string_lossy()), "{stdout}");
        let params: u64 = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("parameters"))
            .unwrap_or_else(|| panic!("no parameters line:\n{stdout}"))
            .trim()
            .parse()
            .unwrap();
        assert!(params > 1000, "{stdout}");
        assert!(stdout.contains("UNTRAINED"), "{stdout}");
    }
    let (code, _, err) = run(aetool().arg("info").arg("no-such-weights.safetensors"));
    assert_eq!(code, 2);
    assert!(err.contains("no-such-weights.safetensors"), "{err}");
}

/// 12. `aetool eval` prints PSNR next to the baseline.
#[test]
fn eval_reports_psnr_and_baseline() {
    let photos = photo_folder(2, 64, 3);
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "denoise", "--sigma", "25"])
        .arg(photos.path())
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    let line = stdout
        .lines()
        .find(|l| l.contains("PSNR"))
        .unwrap_or_else(|| panic!("no PSNR line:\n{stdout}"));
    assert!(
        line.contains("2 images") && line.contains("sigma 25"),
        "{line}"
    );
    // "PSNR x dB (baseline y)": the baseline is the noisy input, about 20 dB at σ 25.
    let number_after = |key: &str| -> f64 {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        rest.trim_start()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
    };
    let (psnr, baseline) = (number_after("PSNR"), number_after("(baseline"));
    assert!(psnr.is_finite() && psnr > 0.0, "{line}");
    assert!((18.0..24.0).contains(&baseline), "{line}");
}

/// The eval summary line holding `needle` (panics with the whole output if none).
fn eval_line<'a>(stdout: &'a str, needle: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stdout}"))
}

/// The number right after `key` in `line` ("PSNR 23.10 dB" → 23.1).
fn number_after(line: &str, key: &str) -> f64 {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line}"));
    line[at + key.len()..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
}

/// 12b. Real noise: a folder of `noisy/` + `clean/` pairs is scored pair by pair, the model
/// blind; `--sigma 0 --blind` on clean photos measures what the model does to them.
#[test]
fn eval_real_noise_pairs_and_blind_pass_through() {
    let pairs = tempdir();
    let (noisy, clean) = (pairs.path().join("noisy"), pairs.path().join("clean"));
    std::fs::create_dir_all(&noisy).unwrap();
    std::fs::create_dir_all(&clean).unwrap();
    let mut rng = Rng(7);
    for i in 0..2 {
        let img = shapes(48, 40, 40 + i);
        img.save(clean.join(format!("p{i}.png"))).unwrap();
        let mut grainy = img.clone();
        for v in grainy.iter_mut() {
            *v = (*v as f32 + (rng.unit() - 0.5) * 40.0).clamp(0.0, 255.0) as u8;
        }
        grainy.save(noisy.join(format!("p{i}.png"))).unwrap();
    }
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "denoise"])
        .arg(pairs.path())
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    let line = eval_line(&stdout, "real noise");
    assert!(line.contains("2 images"), "{line}");
    // Uniform noise of ±20: about 24 dB.
    let baseline = number_after(line, "(baseline");
    assert!((20.0..30.0).contains(&baseline), "{line}");

    // Fixed levels on the same pairs.
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "denoise", "--sigma", "5,10"])
        .arg(pairs.path())
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    eval_line(&stdout, "real noise sigma 5:");
    eval_line(&stdout, "real noise sigma 10:");

    // σ 0, blind: the input is the clean photo, the baseline infinite.
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "denoise", "--sigma", "0", "--blind"])
        .arg(&clean)
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    let line = eval_line(&stdout, "sigma 0 blind:");
    assert!(line.contains("(baseline ∞)"), "{line}");
    // Untrained weights may return the photo unchanged (∞) or nearly so.
    assert!(
        line.contains("PSNR ∞ dB") || number_after(line, "PSNR") > 20.0,
        "{line}"
    );
}

/// 12c. JPEG protocols: denoise on JPEGs of the clean photos (lower quality, lower baseline),
/// upscale from a JPEG low-resolution copy.
#[test]
fn eval_jpeg_protocols() {
    let photos = photo_folder(2, 64, 5);
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "denoise", "--jpeg", "10,40"])
        .arg(photos.path())
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    let (q10, q40) = (
        eval_line(&stdout, "jpeg q10:"),
        eval_line(&stdout, "jpeg q40:"),
    );
    assert!(q10.contains("2 images"), "{q10}");
    assert!(
        number_after(q10, "(baseline") < number_after(q40, "(baseline"),
        "{q10}\n{q40}"
    );

    // `--save` writes the pictures behind each figure, `--compare` output included.
    let saved = tempdir();
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "upscale", "-x2", "--jpeg", "50"])
        .arg(photos.path())
        .arg("--weights")
        .arg(weights("x2"))
        .args(["--compare", "bundled:clean", "--save"])
        .arg(saved.path()));
    assert_eq!(code, 0, "{err}");
    let line = eval_line(&stdout, "x2 jpeg q50:");
    assert!(
        line.contains("2 images") && line.contains("(baseline"),
        "{line}"
    );
    assert!(
        line.contains("previous: bundled:upscale-x2-clean"),
        "{line}"
    );
    let pictures = files_under(saved.path());
    assert_eq!(pictures.len(), 6, "{pictures:?}");
    for p in &pictures {
        let name = p.to_string_lossy();
        assert!(name.starts_with("x2-jpeg-q50/"), "{name}");
        let want = if name.ends_with(".input.png") { 32 } else { 64 };
        let img = image::open(saved.path().join(p)).unwrap();
        assert_eq!(img.dimensions(), (want, want), "{name}");
    }

    // Colorize has no JPEG protocol: a usage error that says so.
    let (code, _, err) = run(aetool()
        .args(["eval", "--task", "colorize", "--jpeg", "50"])
        .arg(photos.path())
        .arg("--weights")
        .arg(weights("colorize")));
    assert_eq!(code, 2);
    assert!(err.contains("--jpeg applies"), "{err}");
}

/// 12d. Colorize: colour correctness, the grey and sepia baselines, and `--compare` (here the
/// same weights, so `previous` equals the model), in text and JSON.
#[test]
fn eval_colorize_baselines_and_compare() {
    let photos = photo_folder(2, 64, 6);
    let w = weights("colorize");
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "colorize"])
        .arg(photos.path())
        .arg("--weights")
        .arg(w)
        .arg("--compare")
        .arg(w));
    assert_eq!(code, 0, "{err}");
    let line = eval_line(&stdout, "colorize colorize:");
    for part in [
        "2 images",
        "colourfulness",
        "colour correctness",
        "| grey: PSNR",
        "| sepia: PSNR",
        "| previous: PSNR",
        "; previous: ",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    assert_eq!(
        number_after(line, "| grey: PSNR"),
        number_after(line, "(baseline")
    );
    assert_eq!(
        number_after(line, "| previous: PSNR"),
        number_after(line, "PSNR")
    );

    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "colorize", "--json", "--per-image"])
        .arg(photos.path())
        .arg("--weights")
        .arg(w)
        .arg("--compare")
        .arg(w));
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let m = &doc["means"][0];
    assert_eq!(m["setting"], "colorize");
    assert_eq!(m["images"], 2);
    let s = &m["scores"];
    for key in ["psnr", "colourfulness_ratio", "colour_correctness"] {
        assert!(s[key].is_number(), "{key}: {s}");
    }
    for base in ["grey", "sepia", "previous"] {
        assert!(s[base]["psnr"].is_number(), "{base}: {s}");
        assert!(s[base]["colour_correctness"].is_number(), "{base}: {s}");
    }
    assert_eq!(s["grey"]["colour_correctness"], 0.0);
    assert_eq!(s["previous"]["psnr"], s["psnr"]);
    assert!(doc["previous"].is_string(), "{doc}");
    assert_eq!(doc["images"].as_array().map(Vec::len), Some(2));
}

/// 13. Colorize leaves photos that already have colour alone (one note, counted as skipped),
///     unless `--recolor`.
#[test]
fn colorize_skips_colour_photos_unless_recolor() {
    let tmp = tempdir();
    let out = tmp.path().join("out");
    let (code, _, err) = run(aetool()
        .arg("colorize")
        .arg(fixture("rgb8.png"))
        .arg(fixture("gray8.png"))
        .arg("-o")
        .arg(&out)
        .arg("--weights")
        .arg(weights("colorize")));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("rgb8.png: already in colour"), "{err}");
    assert!(err.contains("1 done, 1 skipped"), "{err}");
    assert!(!out.join("rgb8.png").exists() && out.join("gray8.png").is_file());
    let (code, _, err) = run(aetool()
        .arg("colorize")
        .arg("--recolor")
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(out.join("recoloured.png"))
        .arg("--weights")
        .arg(weights("colorize")));
    assert_eq!(code, 0, "{err}");
    assert!(out.join("recoloured.png").is_file(), "{err}");
}

/// 13b. `--saturation` is checked (its scaling is tested in `restore.rs`,
///      `outputs_have_the_task_geometry`), and eval takes it for colorize only.
#[test]
fn colorize_saturation_is_checked() {
    let tmp = tempdir();
    let colorize = |saturation: &str, out: &str| {
        let (code, _, err) = run(aetool()
            .args(["colorize", "--saturation", saturation])
            .arg(fixture("gray8.png"))
            .arg("-o")
            .arg(tmp.path().join(out))
            .arg("--weights")
            .arg(weights("colorize")));
        (code, err)
    };
    let (code, err) = colorize("0.5", "gentle.png");
    assert_eq!(code, 0, "{err}");
    assert!(tmp.path().join("gentle.png").is_file());
    let (code, err) = colorize("5", "loud.png");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--saturation 5"), "{err}");
    assert!(!tmp.path().join("loud.png").exists());
    let (code, _, err) = run(aetool()
        .args(["eval", "--task", "denoise", "--saturation", "0.5"])
        .arg(tmp.path()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--task colorize only"), "{err}");
    // Eval's figures say which saturation made them.
    let photos = photo_folder(2, 64, 6);
    let eval = |json: bool| {
        let (code, stdout, err) = run(aetool()
            .args(["eval", "--task", "colorize", "--saturation", "0.8"])
            .args(json.then_some("--json"))
            .arg(photos.path())
            .arg("--weights")
            .arg(weights("colorize")));
        assert_eq!(code, 0, "{err}");
        stdout
    };
    let text = eval(false);
    assert!(
        eval_line(&text, "colorize colorize:").ends_with("; saturation 0.8]"),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&eval(true)).unwrap();
    assert_eq!(doc["saturation"], 0.8);
}

/// 14. The blind denoiser's level comes from the estimator in the weights; `--strength` scales
///     it, within a checked range.
#[test]
fn denoise_strength_scales_the_estimate() {
    let tmp = tempdir();
    let level = |strength: &str| -> f64 {
        let out = tmp.path().join(format!("s{strength}.png"));
        let (code, _, err) = run(aetool()
            .args(["denoise", "--strength", strength])
            .arg(fixture("rgb8.png"))
            .arg("-o")
            .arg(&out)
            .arg("--weights")
            .arg(weights("denoise")));
        assert_eq!(code, 0, "{err}");
        noise_level(&err)
    };
    let (one, two) = (level("1"), level("2"));
    assert!(
        (two - (2.0 * one).min(50.0)).abs() < 0.11,
        "σ {one} at strength 1, {two} at 2"
    );
    let (code, _, err) = run(aetool()
        .args(["denoise", "--strength", "9"])
        .arg(fixture("rgb8.png"))
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--strength 9"), "{err}");
}

/// The level in the "noise level σ N" note of a denoise run's stderr.
fn noise_level(err: &str) -> f64 {
    let line = err
        .lines()
        .find(|l| l.contains("noise level σ"))
        .unwrap_or_else(|| panic!("no noise level in: {err}"));
    let after = line.split_once('σ').unwrap().1.trim();
    after.split(' ').next().unwrap().parse().unwrap()
}

/// 14b. A coarse JPEG goes to the JPEG-artefact model and its blind level is raised by the
///      quality its tables say (the estimator reads block artefacts low): above what the same
///      model reads from the same pixels in a PNG. A PNG otherwise gets the camera-noise
///      model's bare estimate, and `--sigma` wins over both (on a PNG it runs the Gaussian-noise
///      model). Bundled weights: the estimator of
///      the small test weights reads 0 on small photos.
#[test]
fn denoise_raises_the_level_of_a_coarse_jpeg() {
    let tmp = tempdir();
    let small = image::open(fixture("rgb8.png")).unwrap().to_rgb8();
    let mut rgb = image::imageops::resize(&small, 160, 128, image::imageops::FilterType::Lanczos3);
    for (i, p) in rgb.pixels_mut().enumerate() {
        let grain = (i.wrapping_mul(2_654_435_761) >> 7) % 41;
        p.0 =
            p.0.map(|v| (v as usize + grain).saturating_sub(20).min(255) as u8);
    }
    let jpeg = tmp.path().join("q10.jpg");
    let mut file = std::fs::File::create(&jpeg).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut file, 10)
        .encode_image(&rgb)
        .unwrap();
    drop(file);
    let png = tmp.path().join("q10.png");
    image::open(&jpeg).unwrap().to_rgb8().save(&png).unwrap();
    let denoise = |input: &Path, extra: &[&str]| -> String {
        let (code, _, err) = run(aetool()
            .arg("denoise")
            .args(extra)
            .arg(input)
            .arg("-o")
            .arg(tmp.path().join("out").join(input.file_name().unwrap()))
            .arg("--overwrite"));
        assert_eq!(code, 0, "{err}");
        err
    };
    let (from_jpeg, from_png) = (denoise(&jpeg, &[]), denoise(&png, &[]));
    assert!(
        from_jpeg.contains("(JPEG quality 10: the JPEG model, its estimate ×"),
        "{from_jpeg}"
    );
    assert!(!from_png.contains("JPEG quality"), "{from_png}");
    let bare = denoise(&png, &["--variant", "jpeg"]);
    assert!(!bare.contains("JPEG quality"), "{bare}");
    let (j, b, p) = (
        noise_level(&from_jpeg),
        noise_level(&bare),
        noise_level(&from_png),
    );
    assert!(
        p > 0.5 && b > 0.5 && j > 1.5 * b,
        "σ {j} from the JPEG, {b} from its pixels as PNG by the same model ({p} by the default)"
    );
    let fixed = denoise(&jpeg, &["--sigma", "7"]);
    assert_eq!(noise_level(&fixed), 7.0, "{fixed}");
    assert!(
        fixed.contains("(JPEG quality 10: the JPEG model)"),
        "{fixed}"
    );
    // Told the level, a photo that is not a JPEG goes to the Gaussian-noise model.
    let told = denoise(&png, &["--sigma", "7"]);
    assert_eq!(noise_level(&told), 7.0, "{told}");
    assert!(told.contains("(told: the Gaussian-noise model)"), "{told}");
    let told_alone = denoise(&png, &["--sigma", "7", "--variant", "gaussian"]);
    assert!(!told_alone.contains("told:"), "{told_alone}");
    // Asked for the JPEG model itself, the note says only what raised the level.
    let forced = denoise(&jpeg, &["--variant", "jpeg"]);
    assert!(
        forced.contains("(JPEG quality 10: the estimate ×"),
        "{forced}"
    );
}

/// EXIF of an output file, read by `kamadak-exif` from the container (JPEG APP1, PNG eXIf, WebP
/// EXIF chunk, TIFF tags); `None` if it has none.
fn exif_of(path: &Path) -> Option<exif::Exif> {
    let file = std::fs::File::open(path).unwrap();
    exif::Reader::new()
        .read_from_container(&mut std::io::BufReader::new(file))
        .ok()
}

/// XMP packet of an output file, as the `image` decoders find it.
fn xmp_of(path: &Path) -> Option<String> {
    use image::{codecs::tiff::TiffDecoder, ImageDecoder, ImageFormat};
    let reader = image::ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap();
    let mut decoder: Box<dyn ImageDecoder> = if reader.format() == Some(ImageFormat::Tiff) {
        // With limits set, `image` caps TIFF tag values by the image size (see photo/decode.rs).
        Box::new(TiffDecoder::new(reader.into_inner()).unwrap())
    } else {
        Box::new(reader.into_decoder().unwrap())
    };
    let xmp = decoder
        .xmp_metadata()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))?;
    Some(String::from_utf8(xmp).expect("XMP is UTF-8"))
}

/// Checks that `path` carries the camera metadata of `exif_camera.jpg`, adjusted to an upright
/// `w`×`h` output.
fn assert_camera_metadata(path: &Path, (w, h): (u32, u32)) {
    use exif::{In, Tag};
    let name = path.display();
    let e = exif_of(path).unwrap_or_else(|| panic!("{name}: no EXIF"));
    let text = |tag| {
        e.get_field(tag, In::PRIMARY)
            .map(|f| f.display_value().to_string())
            .unwrap_or_else(|| panic!("{name}: no {tag}"))
    };
    let uint = |tag| {
        e.get_field(tag, In::PRIMARY)
            .and_then(|f| f.value.get_uint(0))
    };
    assert_eq!(text(Tag::Make), "\"AcmeCam\"", "{name}");
    assert_eq!(text(Tag::Model), "\"AcmeCam X100\"", "{name}");
    assert_eq!(text(Tag::LensModel), "\"Acme 35mm F2.8\"", "{name}");
    assert_eq!(text(Tag::DateTimeOriginal), "2024-05-06 07:08:09", "{name}");
    assert_eq!(text(Tag::Copyright), "\"(c) 2024 Ada Example\"", "{name}");
    assert_eq!(text(Tag::ExposureTime), "1/250", "{name}");
    assert_eq!(text(Tag::GPSLatitudeRef), "N", "{name}");
    assert!(
        text(Tag::GPSLatitude).starts_with("48 deg 51 min 29.59 sec"),
        "{name}: {}",
        text(Tag::GPSLatitude)
    );
    assert_eq!(uint(Tag::Orientation), Some(1), "{name}: orientation reset");
    assert_eq!(uint(Tag::PixelXDimension), Some(w), "{name}");
    assert_eq!(uint(Tag::PixelYDimension), Some(h), "{name}");
    assert!(
        e.fields().all(|f| f.ifd_num == In::PRIMARY),
        "{name}: the input's thumbnail is not carried over"
    );

    let xmp = xmp_of(path).unwrap_or_else(|| panic!("{name}: no XMP"));
    assert!(
        xmp.contains("<rdf:li>Ada Example</rdf:li>"),
        "{name}: {xmp}"
    );
    assert!(xmp.contains(r#"xmp:Rating="4""#), "{name}: {xmp}");
    assert!(xmp.contains(r#"tiff:Orientation="1""#), "{name}: {xmp}");
    assert!(
        xmp.contains(&format!(r#"exif:PixelXDimension="{w}""#)),
        "{name}: {xmp}"
    );
    assert!(
        xmp.contains(&format!(r#"exif:PixelYDimension="{h}""#)),
        "{name}: {xmp}"
    );

    // Upright as written: nothing left for a viewer to rotate.
    let img = image::open(path).unwrap();
    assert_eq!(img.dimensions(), (w, h), "{name}");
}

/// 15. A camera JPEG's EXIF and XMP are kept in JPEG, PNG, WebP and TIFF outputs.
///
/// Camera, lens, date, GPS and copyright survive; the orientation is reset and the pixel size
/// updated.
#[test]
fn camera_metadata_is_kept_adjusted_in_every_format() {
    let tmp = tempdir();
    let input = fixture("exif_camera.jpg");
    // Stored 45×31 with orientation 6: 31×45 upright, 62×90 after -x2.
    let out = tmp.path().join("denoised");
    let (code, _, err) = run(aetool()
        .arg("denoise")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--weights")
        .arg(weights("denoise")));
    assert_eq!(code, 0, "{err}");
    assert_camera_metadata(&out.join("exif_camera.jpg"), (31, 45));

    for format in ["jpg", "png", "webp", "tiff"] {
        let out = tmp.path().join(format);
        let (code, _, err) = run(aetool()
            .args(["upscale", "-x2", "--format", format])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .arg("--weights")
            .arg(weights("x2")));
        assert_eq!(code, 0, "{err}");
        let ext = if format == "tiff" { "tif" } else { format };
        let file = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .next()
            .unwrap();
        assert!(
            file.extension().is_some_and(|e| e == ext || e == format),
            "{}",
            file.display()
        );
        assert_camera_metadata(&file, (62, 90));
    }
}

/// 16. `--strip-metadata` writes outputs without EXIF or XMP, in every format.
#[test]
fn strip_metadata_writes_none() {
    let tmp = tempdir();
    for format in ["jpg", "png", "webp", "tiff"] {
        let out = tmp.path().join(format);
        let (code, _, err) = run(aetool()
            .args(["denoise", "--strip-metadata", "--format", format])
            .arg(fixture("exif_camera.jpg"))
            .arg("-o")
            .arg(&out)
            .arg("--weights")
            .arg(weights("denoise")));
        assert_eq!(code, 0, "{err}");
        let file = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .next()
            .unwrap();
        // (A TIFF file's own tags read as EXIF: no camera tags may be among them.)
        let camera_tags = exif_of(&file).is_some_and(|e| {
            e.fields()
                .any(|f| [exif::Tag::Make, exif::Tag::DateTimeOriginal].contains(&f.tag))
        });
        assert!(!camera_tags, "{}: EXIF written", file.display());
        assert!(xmp_of(&file).is_none(), "{}: XMP written", file.display());
        // Still upright: the rotation was applied to the pixels.
        assert_eq!(image::open(&file).unwrap().dimensions(), (31, 45));
    }
    let (code, _, err) = run(aetool()
        .args(["upscale", "-x2", "--strip-metadata"])
        .arg(fixture("exif_camera.jpg"))
        .arg("-o")
        .arg(tmp.path().join("x2.jpg"))
        .arg("--weights")
        .arg(weights("x2")));
    assert_eq!(code, 0, "{err}");
    assert!(exif_of(&tmp.path().join("x2.jpg")).is_none());
}

/// `--png-compression fast|default|best`: the same pixels at every setting, `best` no larger
/// than `fast`; an unknown setting is a usage error (exit 2) naming the choices.
#[test]
fn png_compression_changes_size_not_pixels() {
    let tmp = tempdir();
    let input = tmp.path().join("photo.png");
    shapes(96, 64, 7).save(&input).unwrap();
    let write = |setting: &str| {
        let out = tmp.path().join(format!("{setting}.png"));
        let (code, _, err) = run(aetool()
            .args(["denoise", "--sigma", "10", "--png-compression", setting])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .arg("--weights")
            .arg(weights("denoise")));
        assert_eq!(code, 0, "{setting}: {err}");
        let size = out.metadata().unwrap().len();
        (size, image::open(&out).unwrap().to_rgb8())
    };
    let (fast_size, fast) = write("fast");
    let (_, default) = write("default");
    let (best_size, best) = write("best");
    assert!(
        fast == default && fast == best,
        "settings decode differently"
    );
    assert!(
        best_size <= fast_size,
        "best {best_size} > fast {fast_size}"
    );

    let (code, _, err) = run(aetool()
        .args(["denoise", "--png-compression", "zip"])
        .arg(&input));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fast") && err.contains("best"), "{err}");
}

/// 16-bit PNGs keep 16-bit precision through denoise: the output is 16-bit and each sample is
/// the model's unquantised output rounded to 16 bits (within one step, for threads summing in
/// another order), so values fall between the steps of an 8-bit round trip.
#[test]
fn sixteen_bit_precision_survives_denoise() {
    use aetool::photo::{Limits, PhotoMeta};
    let loaded = aetool::load_weights(
        &aetool::Source::File(weights("denoise").to_path_buf()),
        aetool::ModelKind::Denoise,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let settings = aetool::RestoreSettings {
        sigma: aetool::Sigma::Fixed(10.0),
        ..Default::default()
    };
    let restorer = aetool::Restorer::new(loaded, candle_core::Device::Cpu, settings);
    let tmp = tempdir();
    for (name, color) in [
        ("rgb16.png", ColorType::Rgb16),
        ("gray16.png", ColorType::L16),
    ] {
        let out = tmp.path().join(name);
        let (code, _, err) = run(aetool()
            .args(["denoise", "--sigma", "10"])
            .arg(fixture(name))
            .arg("-o")
            .arg(&out)
            .arg("--weights")
            .arg(weights("denoise")));
        assert_eq!(code, 0, "{name}: {err}");
        let written = image::open(&out).unwrap();
        assert_eq!(written.color(), color, "{name}");
        let written: Vec<u16> = written.to_rgb16().into_raw();

        let photo = aetool::load_photo(&fixture(name), &Limits::default()).unwrap();
        let (model, _) = restorer
            .restore(&photo, aetool::Target::Float, &mut |_, _| {})
            .unwrap();
        let PhotoMeta { gray, .. } = photo.meta;
        let expected: Vec<f32> = model
            .rgb_f32()
            .chunks_exact(3)
            .flat_map(|p| {
                let mean = (p[0] + p[1] + p[2]) / 3.0;
                if gray {
                    [mean; 3]
                } else {
                    [p[0], p[1], p[2]]
                }
            })
            .map(|v| v.clamp(0.0, 1.0) * 65535.0)
            .collect();
        assert_eq!(written.len(), expected.len(), "{name}");
        for (i, (&w, &e)) in written.iter().zip(&expected).enumerate() {
            assert!(
                (f32::from(w) - e).abs() <= 1.5,
                "{name} sample {i}: {w} vs {e}"
            );
        }
        let off_grid = written.iter().filter(|&&v| v % 257 != 0).count();
        assert!(
            off_grid > written.len() / 2,
            "{name}: {off_grid} samples off the 8-bit grid"
        );
    }
}
