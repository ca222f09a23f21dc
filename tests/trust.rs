//! Regression tests for issue 13 ("trust with 10,000 photos"), run on the real binary the way
//! the review found each problem: broken training and weights, aborts, truncated JPEGs,
//! signals and leftovers, and the smaller cases. Every case must end in one clear line and the
//! documented exit status, never a panic, an abort, a hang or silent garbage.

mod common;

use aetool::models::{Arch, ModelKind, ModelSpec, Task, UNetConfig};
use aetool::testing::{tiny_spec, write_weights};
use assert_cmd::Command;
use candle_core::Tensor;
use common::cli::{aetool_with, run};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn tempdir() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aetool-trust-tests");
    std::fs::create_dir_all(&root).unwrap();
    tempfile::tempdir_in(root).unwrap()
}

fn aetool() -> Command {
    aetool_with("2", Duration::from_secs(120))
}

/// Asserts a fatal error: status 2, one line on stderr, containing every one of `says`.
fn assert_fatal(res: (i32, String, String), says: &[&str], context: &str) {
    let (code, _, err) = res;
    assert_eq!(code, 2, "{context}: {err}");
    assert_eq!(err.lines().count(), 1, "{context}: one error line:\n{err}");
    for s in says {
        assert!(err.contains(s), "{context}: no {s:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{context}: {err}");
}

/// Untrained test weights of `kind` in `dir`.
fn tiny_weights(dir: &Path, kind: ModelKind) -> PathBuf {
    let path = dir.join(format!("{}.safetensors", kind.name()));
    write_weights(&path, &tiny_spec(kind), &serde_json::json!({"steps": 0}));
    path
}

/// Weights of `spec` whose every value is `value`.
fn filled_weights(path: &Path, spec: &ModelSpec, value: f32) {
    let (_, vm) = aetool::testing::random_net(spec, 0.0);
    let tensors: Vec<(String, Tensor)> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(n, v)| {
            let t = (v.as_tensor().ones_like().unwrap() * value as f64).unwrap();
            (n.clone(), t)
        })
        .collect();
    let bytes = safetensors::serialize(
        tensors.iter().map(|(n, t)| (n.as_str(), t)),
        Some(
            [
                ("config".to_string(), serde_json::to_string(spec).unwrap()),
                ("provenance".to_string(), r#"{"steps": 5}"#.to_string()),
            ]
            .into(),
        ),
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `n` noisy 96×96 PNGs in a new folder `dir/photos`.
fn photos(dir: &Path, n: u32) -> PathBuf {
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for i in 0..n {
        let img = image::RgbImage::from_fn(96, 96, |x, y| {
            let v = (x * 7 + y * 13 + i * 31) % 256;
            image::Rgb([v as u8, (255 - v) as u8, ((x * y) % 256) as u8])
        });
        img.save(photos.join(format!("p{i}.png"))).unwrap();
    }
    photos
}

// ---------------------------------------------------------------------------------------------
// 1. Broken training, broken weights
// ---------------------------------------------------------------------------------------------

#[test]
fn finetune_refuses_learning_rates_and_sizes_that_can_only_fail() {
    let tmp = tempdir();
    let photos = photos(tmp.path(), 2);
    let out = tmp.path().join("w.safetensors");
    for (flags, says) in [
        (&["--lr", "nan"][..], "--lr NaN"),
        (
            &["--lr", "1e30"][..],
            "--lr 1000000000000000000000000000000",
        ),
        (&["--from", "scratch", "--lr", "5"][..], "--lr 5"),
        (&["--lr", "0"][..], "--lr 0"),
        (&["--lr=-0.001"][..], "--lr -0.001"),
        (&["--lr", "inf"][..], "--lr inf"),
        (&["--batch", "100000"][..], "--batch 100000"),
        (&["--patch", "4096"][..], "--patch 4096"),
        (&["--batch", "1000", "--patch", "512"][..], "crop pixels"),
        (&["--steps", "18446744073709551615"][..], "--steps"),
    ] {
        let res = run(aetool()
            .args(["finetune", "--task", "denoise", "--quiet"])
            .args(flags)
            .arg("--dir")
            .arg(&photos)
            .arg("-o")
            .arg(&out));
        assert_fatal(res, &[says], &format!("{flags:?}"));
        assert!(!out.exists());
    }
}

#[test]
fn diverging_training_stops_naming_the_step_and_keeps_the_checkpoint() {
    let tmp = tempdir();
    let photos = photos(tmp.path(), 3);
    // Finite but enormous weights: the first forward pass overflows to infinity and NaN.
    let base = tmp.path().join("huge.safetensors");
    filled_weights(&base, &tiny_spec(ModelKind::Denoise), 1e30);
    let out = tmp.path().join("out.safetensors");
    let ckpt = tmp.path().join("out.ckpt.safetensors");
    std::fs::write(&ckpt, b"an earlier checkpoint").unwrap();
    let res = run(aetool()
        .args(["finetune", "--task", "denoise", "--quiet", "--steps", "4"])
        .args(["--batch", "2", "--patch", "16", "--checkpoint-every", "1"])
        .arg("--from")
        .arg(&base)
        .arg("--dir")
        .arg(&photos)
        .arg("-o")
        .arg(&out));
    assert_fatal(res, &["diverged at step 1", "lower --lr"], "diverging run");
    assert!(!out.exists(), "diverged weights were written");
    assert_eq!(std::fs::read(&ckpt).unwrap(), b"an earlier checkpoint");
}

#[test]
fn weights_with_nan_or_infinity_are_refused_by_every_command() {
    let tmp = tempdir();
    let input = tmp.path().join("in.png");
    std::fs::copy(fixture("rgb8.png"), &input).unwrap();
    for (name, value) in [("nan", f32::NAN), ("inf", f32::INFINITY)] {
        let w = tmp.path().join(format!("{name}.safetensors"));
        filled_weights(&w, &tiny_spec(ModelKind::Denoise), value);
        let ws = w.to_string_lossy().into_owned();
        let says = [ws.as_str(), "NaN or infinite"];
        let out = tmp.path().join("out.png");
        let res = run(aetool()
            .args(["denoise", "--sigma", "10", "--weights"])
            .arg(&w)
            .arg(&input)
            .arg("-o")
            .arg(&out));
        assert_fatal(res, &says, "denoise");
        assert!(!out.exists());
        assert_fatal(run(aetool().arg("info").arg(&w)), &says, "info");
        let res = run(aetool()
            .args(["finetune", "--task", "denoise", "--steps", "1", "--from"])
            .arg(&w)
            .arg("--dir")
            .arg(tmp.path())
            .arg("-o")
            .arg(tmp.path().join("t.safetensors")));
        assert_fatal(res, &says, "finetune --from");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Aborts instead of errors
// ---------------------------------------------------------------------------------------------

/// A complete weights file (tensors included) of a width-1 U-Net with `levels` levels: a few
/// KB that used to ask for 2^(levels-1)-pixel tile alignment (terabytes) or overflow.
fn deep_unet_weights(path: &Path, levels: usize, blocks: usize) {
    let spec = ModelSpec {
        task: Task::Denoise,
        arch: Arch::Unet(UNetConfig {
            in_channels: 4,
            out_channels: 3,
            widths: vec![1; levels],
            blocks,
            residual: true,
        }),
        estimator: None,
    };
    write_weights(path, &spec, &serde_json::json!({"steps": 1}));
}

#[test]
fn absurd_architectures_are_refused_at_load_not_aborted() {
    let tmp = tempdir();
    for (levels, blocks, says) in [
        (12, 1, "levels 12"),
        (40, 1, "levels 40"),
        (64, 1, "levels 64"),
        // Within every single bound, but ±12,734 px of context: a 25,000² tile at least.
        (8, 16, "smallest tile"),
    ] {
        let w = tmp.path().join(format!("deep{levels}.safetensors"));
        deep_unet_weights(&w, levels, blocks);
        let ws = w.to_string_lossy().into_owned();
        assert_fatal(run(aetool().arg("info").arg(&w)), &[&ws, says], "info");
        let res = run(aetool()
            .args(["denoise", "--sigma", "5", "--weights"])
            .arg(&w)
            .arg(fixture("rgb8.png"))
            .arg("-o")
            .arg(tmp.path().join("o.png")));
        assert_fatal(res, &[&ws, says], "denoise");
    }
}

#[test]
fn tile_pad_is_bounded_and_capped_at_the_receptive_radius() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let res = run(aetool()
        .args(["denoise", "--tile-pad", "100000", "--weights"])
        .arg(&w)
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(tmp.path().join("big.png")));
    assert_fatal(res, &["--tile-pad 100000"], "--tile-pad 100000");

    // A 96×64 photo with --tile-pad 2000 is as quick as with the default border, and the same.
    let photo = tmp.path().join("p.png");
    image::RgbImage::from_fn(96, 64, |x, y| image::Rgb([x as u8, y as u8, 7]))
        .save(&photo)
        .unwrap();
    let mut outputs = Vec::new();
    for pad in [None, Some("2000")] {
        let out = tmp
            .path()
            .join(format!("out-{}.png", pad.unwrap_or("default")));
        let started = Instant::now();
        let mut cmd = aetool();
        cmd.args([
            "denoise",
            "--quiet",
            "--sigma",
            "10",
            "--tile",
            "32",
            "--weights",
        ])
        .arg(&w)
        .arg(&photo)
        .arg("-o")
        .arg(&out);
        if let Some(p) = pad {
            cmd.args(["--tile-pad", p]);
        }
        let (code, _, err) = run(&mut cmd);
        assert_eq!(code, 0, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{pad:?} took {:?}",
            started.elapsed()
        );
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn numeric_run_flags_are_bounded() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    for (flags, says) in [
        (
            &["--max-megapixels", "18446744073709551615"][..],
            "--max-megapixels 18446744073709551615",
        ),
        (
            &["--max-megapixels", "18446744073709552"][..],
            "--max-megapixels",
        ),
        (&["--max-megapixels", "0"][..], "--max-megapixels 0"),
        (&["-j", "1000"][..], "--jobs 1000"),
        (&["--tile", "99999999999"][..], "--tile 99999999999"),
        (&["--band-rows", "0"][..], "--band-rows 0"),
    ] {
        let res = run(aetool()
            .arg("denoise")
            .args(flags)
            .arg("--weights")
            .arg(&w)
            .arg(fixture("rgb8.png"))
            .arg("-o")
            .arg(tmp.path().join("o.png")));
        assert_fatal(res, &[says], &format!("{flags:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Truncated JPEGs
// ---------------------------------------------------------------------------------------------

/// A 160×120 photo-like pattern.
fn pattern() -> image::RgbImage {
    image::RgbImage::from_fn(160, 120, |x, y| {
        let v = ((x as f32 / 9.0).sin() * 60.0 + (y as f32 / 7.0).cos() * 60.0 + 128.0) as u8;
        image::Rgb([v, x as u8, (y * 2) as u8])
    })
}

#[test]
fn truncated_baseline_and_progressive_jpegs_are_reported() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let img = pattern();
    let baseline = tmp.path().join("baseline.jpg");
    img.save(&baseline).unwrap();
    let progressive = tmp.path().join("progressive.jpg");
    let mut enc = jpeg_encoder::Encoder::new_file(&progressive, 90).unwrap();
    enc.set_progressive(true);
    enc.encode(img.as_raw(), 160, 120, jpeg_encoder::ColorType::Rgb)
        .unwrap();

    let cuts = tmp.path().join("cuts");
    std::fs::create_dir(&cuts).unwrap();
    let mut cut_files = Vec::new();
    for (name, full) in [("baseline", &baseline), ("progressive", &progressive)] {
        let bytes = std::fs::read(full).unwrap();
        for percent in [25, 50, 75, 90, 99] {
            let cut = cuts.join(format!("{name}-{percent}.jpg"));
            std::fs::write(&cut, &bytes[..bytes.len() * percent / 100]).unwrap();
            cut_files.push(cut);
        }
        // The last two bytes are the end-of-image marker.
        let cut = cuts.join(format!("{name}-no-eoi.jpg"));
        std::fs::write(&cut, &bytes[..bytes.len() - 2]).unwrap();
        cut_files.push(cut);
    }
    let out = tmp.path().join("out");
    let (code, stdout, err) = run(aetool()
        .args(["denoise", "--sigma", "5", "--json", "--weights"])
        .arg(&w)
        .arg(&cuts)
        .arg(&baseline)
        .arg(&progressive)
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 1, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["done"], 2, "{summary}");
    assert_eq!(summary["failed"], cut_files.len(), "{summary}");
    for cut in &cut_files {
        let name = cut.to_string_lossy();
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(&*name)).collect();
        assert_eq!(lines.len(), 1, "{name}:\n{err}");
        assert!(
            lines[0].ends_with("truncated or corrupt JPEG: file ends early"),
            "{}",
            lines[0]
        );
    }
    assert!(out.join("baseline.jpg").is_file() && out.join("progressive.jpg").is_file());
}

// ---------------------------------------------------------------------------------------------
// 6. SIGTERM and leftovers
// ---------------------------------------------------------------------------------------------

/// Sends SIGTERM to `child`.
#[cfg(unix)]
fn sigterm(child: &std::process::Child) {
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
}

/// Waits until `ready()` or `limit` passes.
#[cfg(unix)]
fn wait_for(limit: Duration, ready: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[cfg(unix)]
#[test]
fn sigterm_stops_a_restore_run_after_the_current_file_with_status_143() {
    let tmp = tempdir();
    let inputs = tmp.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let big = image::RgbImage::from_fn(384, 384, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, ((x + y) * 7) as u8])
    });
    for i in 0..12 {
        big.save(inputs.join(format!("p{i:02}.png"))).unwrap();
    }
    let out = tmp.path().join("out");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aetool"))
        .env("RAYON_NUM_THREADS", "2")
        .args(["denoise", "--quiet", "--json", "--sigma", "10"])
        .arg(&inputs)
        .arg("-o")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(60), || {
        std::fs::read_dir(&out).is_ok_and(|d| {
            d.flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
    });
    assert!(started, "no output appeared");
    sigterm(&child);
    let end = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&end.stderr);
    assert_eq!(end.status.code(), Some(143), "{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    let summary: serde_json::Value = serde_json::from_slice(&end.stdout).unwrap();
    assert_eq!(summary["interrupted"], true, "{summary}");
    let done = summary["done"].as_u64().unwrap();
    assert!((1..12).contains(&done), "{summary}");
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
    assert_eq!(
        written.len() as u64,
        done,
        "no temp file or partial output left"
    );
    for e in written {
        let img = image::open(e.path()).unwrap();
        assert_eq!((img.width(), img.height()), (384, 384));
    }
}

#[cfg(unix)]
#[test]
fn sigterm_checkpoints_training_and_exits_143() {
    use std::io::BufRead;
    let tmp = tempdir();
    let photos = photos(tmp.path(), 3);
    let out = tmp.path().join("w.safetensors");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aetool"))
        .env("RAYON_NUM_THREADS", "2")
        .args(["finetune", "--task", "denoise", "--from", "scratch"])
        .args(["--steps", "1000000", "--batch", "2", "--patch", "16"])
        .args(["--checkpoint-every", "1000000", "--val-every", "1000000"])
        .arg("--dir")
        .arg(&photos)
        .arg("-o")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("training ") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("training started");
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&child);
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(err.contains("checkpoint saved at step"), "{err}");
    assert!(tmp.path().join("w.ckpt.safetensors").is_file(), "{err}");
    assert!(!out.exists());
}

#[test]
fn stale_temp_files_of_a_killed_run_are_removed_and_others_kept() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for name in [".aetool-tmp-AbC123", ".aetool-tmp-x9", ".keep", "old.png"] {
        let f = std::fs::File::create(out.join(name)).unwrap();
        f.set_modified(hour_ago).unwrap();
    }
    let (code, _, err) = run(aetool()
        .args(["denoise", "--quiet", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".keep", "old.png", "rgb8.png"]);

    // The same beside a finetune output.
    let photos = photos(tmp.path(), 2);
    let stale = tmp.path().join(".aetool-tmp-ckpt1");
    std::fs::File::create(&stale)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let (code, _, err) = run(aetool()
        .args([
            "finetune", "--task", "denoise", "--from", "scratch", "--steps", "0",
        ])
        .args(["--patch", "16", "--quiet", "--dir"])
        .arg(&photos)
        .arg("-o")
        .arg(tmp.path().join("t.safetensors")));
    assert_eq!(code, 0, "{err}");
    assert!(!stale.exists());
}

#[test]
fn an_unwritable_destination_is_found_before_any_work() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let out = blocker.join("out");
    // The inputs are never decoded: a corrupt one is reported for its destination, not its bytes.
    let (code, _, err) = run(aetool()
        .args(["denoise", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(fixture("corrupt.jpg"))
        .arg(fixture("rgb8.png"))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 1, "{err}");
    for name in ["corrupt.jpg", "rgb8.png"] {
        let output = out.join(name).to_string_lossy().into_owned();
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(&output)).collect();
        assert_eq!(lines.len(), 1, "{name}:\n{err}");
        assert!(lines[0].contains("cannot write output") && lines[0].contains("not a folder"));
    }
    assert!(!err.contains("corrupt JPEG"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 7. Smaller ones
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn json_summaries_survive_file_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let odd = photos.join(std::ffi::OsStr::from_bytes(b"caf\xe9.png"));
    std::fs::copy(fixture("rgb8.png"), &odd).unwrap();
    std::fs::copy(fixture("gray8.png"), photos.join("plain.png")).unwrap();
    let (code, stdout, err) = run(aetool()
        .args(["denoise", "--quiet", "--json", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(&photos)
        .arg("-o")
        .arg(tmp.path().join("out")));
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["done"], 2, "{summary}");
    assert!(stdout.contains("caf\u{FFFD}.png"), "{stdout}");

    let (code, stdout, err) = run(aetool()
        .args([
            "eval",
            "--task",
            "denoise",
            "--json",
            "--per-image",
            "--weights",
        ])
        .arg(&w)
        .arg(&photos));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["images"].as_array().unwrap().len(), 2, "{doc}");
}

#[test]
fn eval_upscale_skips_images_too_small_to_score() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::UpscaleX2);
    let set = tmp.path().join("set");
    std::fs::create_dir(&set).unwrap();
    for (name, (x, y)) in [
        ("a1x1.png", (1, 1)),
        ("b7x5.png", (7, 5)),
        ("c5x7.png", (5, 7)),
    ] {
        image::RgbImage::from_pixel(x, y, image::Rgb([90, 120, 200]))
            .save(set.join(name))
            .unwrap();
    }
    let res = run(aetool()
        .args(["eval", "--task", "upscale", "-x2", "--weights"])
        .arg(&w)
        .arg(&set));
    let (code, _, err) = &res;
    assert_eq!(*code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for name in ["a1x1.png", "b7x5.png", "c5x7.png"] {
        assert!(
            err.contains(&format!("{name}: ")) && err.contains("too small"),
            "{err}"
        );
    }
    assert!(err.contains("no image large enough"), "{err}");

    // With one usable image the others are skipped and the run succeeds.
    image::RgbImage::from_fn(24, 18, |x, y| image::Rgb([x as u8 * 9, y as u8 * 13, 77]))
        .save(set.join("d24x18.png"))
        .unwrap();
    let (code, stdout, err) = run(aetool()
        .args(["eval", "--task", "upscale", "-x2", "--weights"])
        .arg(&w)
        .arg(&set));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("1 images"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn fifos_are_refused_instead_of_blocking() {
    let tmp = tempdir();
    let fifo = tmp.path().join("w.safetensors");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let fs = fifo.to_string_lossy().into_owned();
    let says = [fs.as_str(), "not a regular file"];
    let out = tmp.path().join("o.png");
    let started = Instant::now();
    assert_fatal(
        run(aetool()
            .arg("denoise")
            .arg("--weights")
            .arg(&fifo)
            .arg(fixture("rgb8.png"))
            .arg("-o")
            .arg(&out)),
        &says,
        "--weights",
    );
    assert_fatal(run(aetool().arg("info").arg(&fifo)), &says, "info");
    let photos = photos(tmp.path(), 2);
    assert_fatal(
        run(aetool()
            .args(["finetune", "--task", "denoise", "--from"])
            .arg(&fifo)
            .arg("--dir")
            .arg(&photos)
            .arg("-o")
            .arg(tmp.path().join("x.safetensors"))),
        &says,
        "--from",
    );
    // The checkpoint beside `-o w.safetensors` is `w.ckpt.safetensors`.
    let ckpt = tmp.path().join("t.ckpt.safetensors");
    let c = std::ffi::CString::new(ckpt.to_string_lossy().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let cs = ckpt.to_string_lossy().into_owned();
    assert_fatal(
        run(aetool()
            .args([
                "finetune", "--task", "denoise", "--from", "scratch", "--resume",
            ])
            .args(["--patch", "16", "--dir"])
            .arg(&photos)
            .arg("-o")
            .arg(tmp.path().join("t.safetensors"))),
        &[cs.as_str(), "not a regular file"],
        "checkpoint",
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn an_image_file_name_for_many_inputs_is_refused() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let out = tmp.path().join("two.png");
    assert_fatal(
        run(aetool()
            .args(["denoise", "--weights"])
            .arg(&w)
            .arg(fixture("rgb8.png"))
            .arg(fixture("gray8.png"))
            .arg("-o")
            .arg(&out)),
        &["-o", "two.png", "2 inputs"],
        "two inputs",
    );
    let folder = tmp.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    assert_fatal(
        run(aetool()
            .args(["denoise", "--weights"])
            .arg(&w)
            .arg(&folder)
            .arg("-o")
            .arg(&out)),
        &["two.png", "is a folder"],
        "folder input",
    );
    assert!(!out.exists());
    // An existing folder with an image-like name is still a folder.
    std::fs::create_dir(&out).unwrap();
    let (code, _, err) = run(aetool()
        .args(["denoise", "--quiet", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(fixture("rgb8.png"))
        .arg(fixture("gray8.png"))
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    assert!(out.join("rgb8.png").is_file() && out.join("gray8.png").is_file());
}

#[test]
fn earlier_output_folders_inside_a_tree_are_skipped() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(photos.join("sub")).unwrap();
    std::fs::copy(fixture("rgb8.png"), photos.join("sub/a.png")).unwrap();
    // An earlier `aetool denoise photos/sub` made photos/sub-denoised.
    let (code, _, err) = run(aetool()
        .args(["denoise", "--quiet", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(photos.join("sub")));
    assert_eq!(code, 0, "{err}");
    assert!(photos.join("sub-denoised/a.png").is_file());
    // A folder that only looks like one is processed.
    std::fs::create_dir_all(photos.join("summer-x2")).unwrap();
    std::fs::copy(fixture("gray8.png"), photos.join("summer-x2/b.png")).unwrap();

    let (code, stdout, err) = run(aetool()
        .args(["denoise", "--json", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(&photos));
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["done"], 2, "{summary}");
    let note = format!(
        "skipping {}: earlier aetool output",
        photos.join("sub-denoised").display()
    );
    assert!(err.contains(&note), "{err}");
    assert!(!tmp.path().join("photos-denoised/sub-denoised").exists());
}

#[test]
fn animated_png_gets_a_note_that_only_frame_one_is_restored() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let png = std::fs::read(fixture("rgb8.png")).unwrap();
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        c.extend_from_slice(&body);
        c.extend_from_slice(&aetool::testing::crc32(&body).to_be_bytes());
        c
    };
    let idat = png.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let mut fctl = vec![0u8; 4];
    fctl.extend_from_slice(&37u32.to_be_bytes());
    fctl.extend_from_slice(&29u32.to_be_bytes());
    fctl.extend_from_slice(&[0; 8]);
    fctl.extend_from_slice(&[0, 1, 0, 10, 0, 0]);
    let mut apng = png[..idat].to_vec();
    apng.extend(chunk(b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0]));
    apng.extend(chunk(b"fcTL", &fctl));
    apng.extend_from_slice(&png[idat..]);
    let input = tmp.path().join("anim.png");
    std::fs::write(&input, apng).unwrap();
    let (code, _, err) = run(aetool()
        .args(["denoise", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(&input));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("animated PNG: only the first frame is restored"),
        "{err}"
    );
    assert!(tmp.path().join("anim.denoised.png").is_file());
}

#[test]
fn a_png_whose_icc_chunk_inflates_to_80_mb_decodes_without_it() {
    use image::ImageEncoder;
    let tmp = tempdir();
    let path = tmp.path().join("icc-bomb.png");
    let img = image::RgbImage::from_pixel(16, 12, image::Rgb([10, 200, 30]));
    let mut enc = image::codecs::png::PngEncoder::new(std::fs::File::create(&path).unwrap());
    enc.set_icc_profile(vec![0u8; 80 << 20]).unwrap();
    enc.write_image(img.as_raw(), 16, 12, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
    let photo = aetool::photo::load(&path, &aetool::photo::Limits::default()).unwrap();
    assert_eq!((photo.width, photo.height), (16, 12));
    assert!(photo.meta.icc.is_none());
    // A real profile is still read.
    let real = aetool::photo::load(&fixture("icc.png"), &Default::default()).unwrap();
    assert!(real.meta.icc.is_some());
}

#[test]
fn folder_walking_is_not_quadratic_in_depth() {
    let tmp = tempdir();
    let w = tiny_weights(tmp.path(), ModelKind::Denoise);
    let mut deep = tmp.path().join("deep");
    for _ in 0..1500 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::copy(fixture("rgb8.png"), deep.join("x.png")).unwrap();
    let started = Instant::now();
    let (code, _, err) = run(aetool()
        .args(["denoise", "--quiet", "--sigma", "5", "--weights"])
        .arg(&w)
        .arg(tmp.path().join("deep"))
        .arg("-o")
        .arg(tmp.path().join("out")));
    assert_eq!(code, 0, "{err}");
    // Measured on 2 cores: 44 s before (a path resolution per folder), under 1 s after.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Memory bounded by the tiles: outputs written band by band
// ---------------------------------------------------------------------------------------------

/// Bytes of a file.
fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `aetool ARGS --quiet --weights WEIGHTS EXTRA INPUT -o OUT` and checks that it succeeded
/// (`what` names the case in the failure message).
fn restore_ok(args: &[&str], weights: &Path, extra: &[&str], input: &Path, out: &Path, what: &str) {
    let (code, _, err) = run(aetool()
        .args(args)
        .arg("--quiet")
        .arg("--weights")
        .arg(weights)
        .args(extra)
        .arg(input)
        .arg("-o")
        .arg(out));
    assert_eq!(code, 0, "{what}: {err}");
}

/// The pixels of an image file as 8-bit RGBA (alpha 255 where it has none).
fn pixels(path: &Path) -> image::RgbaImage {
    image::open(path).unwrap().to_rgba8()
}

#[test]
fn outputs_written_in_small_bands_equal_the_whole_image_encodings() {
    let tmp = tempdir();
    let cases = [
        // Tiles of 16 input pixels: bands of a tile row (32 output rows), or of 1 and 3 rows.
        (
            ModelKind::UpscaleX2,
            "rgba8.png",
            &["upscale", "-x2", "--tile", "16"][..],
        ),
        // Not tiled: bands of 64 rows (here one), or of 1 and 3.
        (ModelKind::Colorize, "gray8.png", &["colorize"][..]),
    ];
    for (kind, input, args) in cases {
        let weights = tiny_weights(tmp.path(), kind);
        let write = |bands: Option<&str>, ext: &str| {
            let out = tmp.path().join(format!(
                "{}-{}.{ext}",
                kind.name(),
                bands.unwrap_or("tiles")
            ));
            let extra = bands.map_or(vec![], |rows| vec!["--band-rows", rows]);
            let what = format!("{} {ext} {bands:?}", kind.name());
            restore_ok(args, &weights, &extra, &fixture(input), &out, &what);
            out
        };
        for ext in ["png", "jpg", "tif", "bmp"] {
            let default = write(None, ext);
            for rows in ["1", "3"] {
                let banded = write(Some(rows), ext);
                assert!(
                    bytes(&banded) == bytes(&default),
                    "{} {ext}: bands of {rows} rows",
                    kind.name()
                );
            }
        }
        // The pixels written in bands, encoded whole (one band) by the library: the same JPEG,
        // TIFF and BMP pixels as the ones the binary streamed.
        let png = tmp.path().join(format!("{}-1.png", kind.name()));
        let photo = aetool::photo::load(&png, &Default::default()).unwrap();
        for (ext, format) in [
            ("jpg", aetool::photo::OutputFormat::Jpeg),
            ("tif", aetool::photo::OutputFormat::Tiff),
            ("bmp", aetool::photo::OutputFormat::Bmp),
        ] {
            let whole = tmp.path().join(format!("{}-whole.{ext}", kind.name()));
            aetool::photo::save(&whole, &photo, format, &Default::default()).unwrap();
            let streamed = tmp.path().join(format!("{}-1.{ext}", kind.name()));
            assert!(
                pixels(&streamed) == pixels(&whole),
                "{} {ext}: streamed pixels differ from the whole encoding",
                kind.name()
            );
        }
        assert!(pixels(&png) == pixels(&tmp.path().join(format!("{}-1.tif", kind.name()))));
    }
}

/// The lines of `stderr` besides the warning that test weights are untrained.
fn errors(stderr: &str) -> impl Iterator<Item = &str> {
    stderr.lines().filter(|l| !l.contains("UNTRAINED"))
}

#[test]
fn streamed_inputs_write_the_same_outputs_as_whole_ones() {
    let tmp = tempdir();
    // `--stream-above 0` decodes every PNG and TIFF a window of rows at a time.
    let cases = [
        (
            ModelKind::Denoise,
            "rgb16.tif",
            &["denoise", "--sigma", "10", "--tile", "16"][..],
        ),
        (
            ModelKind::UpscaleX2,
            "rgba8.png",
            &["upscale", "-x2", "--tile", "16"][..],
        ),
        (ModelKind::Colorize, "gray16.png", &["colorize"][..]),
    ];
    for (kind, input, args) in cases {
        let weights = tiny_weights(tmp.path(), kind);
        let write = |stream: bool| {
            let out = tmp.path().join(format!("{}-{stream}.png", kind.name()));
            let extra: &[&str] = if stream {
                &["--stream-above", "0"]
            } else {
                &[]
            };
            let what = format!("{} stream {stream}", kind.name());
            restore_ok(args, &weights, extra, &fixture(input), &out, &what);
            bytes(&out)
        };
        assert!(write(true) == write(false), "{} {input}", kind.name());
    }
    // A damaged streamed input: one line naming it, exit 1, no output.
    let cut = tmp.path().join("cut.png");
    let whole = bytes(&fixture("rgb16.png"));
    std::fs::write(&cut, &whole[..whole.len() * 3 / 4]).unwrap();
    let weights = tiny_weights(tmp.path(), ModelKind::Denoise);
    let out = tmp.path().join("cut-out.png");
    let (code, _, err) = run(aetool()
        .args(["denoise", "--quiet", "--stream-above", "0", "--weights"])
        .arg(&weights)
        .arg(&cut)
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 1, "{err}");
    assert_eq!(errors(&err).count(), 1, "{err}");
    assert!(
        err.contains("cut.png") && err.contains("file ends early"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn webp_outputs_too_large_to_hold_are_refused_before_any_work() {
    let tmp = tempdir();
    let weights = tiny_weights(tmp.path(), ModelKind::UpscaleX4);
    // 4200 wide ×4 is over WebP's 16383-pixel side; 2200×1650 ×4 is 58 MP, over the memory
    // budget (about 640 MB to encode). Flat photos: quick to make and to decode.
    for (w, h, says) in [(4200, 8, "16383-pixel side"), (2200, 1650, "MB in memory")] {
        let input = tmp.path().join(format!("flat-{w}.png"));
        image::RgbImage::from_pixel(w, h, image::Rgb([90, 120, 150]))
            .save(&input)
            .unwrap();
        let out = tmp.path().join(format!("flat-{w}.webp"));
        let started = Instant::now();
        let (code, _, err) = run(aetool()
            .args(["upscale", "-x4", "--quiet", "--weights"])
            .arg(&weights)
            .arg(&input)
            .arg("-o")
            .arg(&out));
        assert_eq!(code, 1, "{err}");
        assert_eq!(errors(&err).count(), 1, "{err}");
        for s in [&format!("flat-{w}.png"), says, "--format png"] {
            assert!(err.contains(s), "no {s:?} in {err}");
        }
        assert!(!out.exists());
        // Refused from the output's size, not after restoring 58 MP of output.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }
}
