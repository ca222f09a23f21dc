use super::scores::{mean, score, Figures, Scores, Space};
use super::*;
use crate::app::config::EvalProtocol;
use crate::maths::color::lab_to_rgb;
use crate::maths::metrics::psnr;
use crate::models::ModelKind;
use crate::photo::Limits;
use std::fs;

/// A textured colour test image `w × h` (RGB in `[0, 1]`): six hue bands (30°, 90°, … at
/// chroma 22) over a lightness ramp, with fine detail for JPEG to lose.
fn scene(w: usize, h: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let l = 30.0 + 40.0 * x as f32 / w as f32 + 8.0 * ((x * 7 + y * 13) as f32).sin();
            let hue = (60.0 * (6 * y / h) as f32 + 30.0).to_radians();
            out.extend_from_slice(&lab_to_rgb([l, 22.0 * hue.cos(), 22.0 * hue.sin()]));
        }
    }
    out
}

fn save_png(path: &Path, rgb: &[f32], w: usize, h: usize) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = rgb.iter().map(|v| (v * 255.0).round() as u8).collect();
    image::RgbImage::from_raw(w as u32, h as u32, bytes)
        .unwrap()
        .save(path)
        .unwrap();
}

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b"").unwrap();
}

fn config(kind: ModelKind, protocol: EvalProtocol, dir: &Path) -> EvalConfig {
    EvalConfig {
        kind,
        source: crate::weights::Source::Bundled,
        device: candle_core::Device::Cpu,
        protocol,
        strength: 1.0,
        saturation: 1.0,
        compare: None,
        dir: dir.to_path_buf(),
        per_image: false,
        save: None,
        json: false,
    }
}

#[test]
fn paired_folders_are_found_by_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(!is_paired_folder(d));
    for f in [
        "noisy/b.JPG",
        "noisy/a.png",
        "noisy/sub/c.png",
        "noisy/notes.txt",
    ] {
        touch(&d.join(f));
    }
    for f in [
        "clean/a.png",
        "clean/b.JPG",
        "clean/sub/c.png",
        "clean/extra.png",
    ] {
        touch(&d.join(f));
    }
    assert!(is_paired_folder(d));
    let pairs = denoise::paired_files(d).unwrap();
    let rel = |p: &Path| {
        p.strip_prefix(d)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/")
    };
    let got: Vec<(String, String)> = pairs
        .iter()
        .map(|i| (rel(&i.clean), rel(i.degraded.as_ref().unwrap())))
        .collect();
    assert_eq!(
        got,
        [
            ("clean/a.png", "noisy/a.png"),
            ("clean/b.JPG", "noisy/b.JPG"),
            ("clean/sub/c.png", "noisy/sub/c.png"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The eval of the folder uses the pairs, not every photo under it.
    let cfg = config(
        ModelKind::Denoise,
        EvalProtocol::RealNoise { sigmas: None },
        d,
    );
    assert_eq!(inputs(&cfg).unwrap(), pairs);

    // A noisy photo without its clean partner is an error naming both.
    touch(&d.join("noisy/lonely.png"));
    let err = denoise::paired_files(d).unwrap_err().to_string();
    assert!(
        err.contains("lonely.png") && err.contains("no clean partner"),
        "{err}"
    );
    // No noisy photos at all.
    let empty = tempfile::tempdir().unwrap();
    fs::create_dir_all(empty.path().join("noisy")).unwrap();
    fs::create_dir_all(empty.path().join("clean")).unwrap();
    assert!(is_paired_folder(empty.path()));
    assert!(denoise::paired_files(empty.path()).is_err());
}

#[test]
fn denoise_settings_and_labels() {
    let labels = |p: EvalProtocol| -> Vec<(String, Degrade, Sigma)> {
        denoise::settings(&p)
            .into_iter()
            .map(|s| (s.label, s.degrade, s.sigma))
            .collect()
    };
    assert_eq!(
        labels(EvalProtocol::Awgn {
            sigmas: vec![15.0, 25.0],
            blind: false
        }),
        [
            ("sigma 15".into(), Degrade::Awgn(15.0), Sigma::Fixed(15.0)),
            ("sigma 25".into(), Degrade::Awgn(25.0), Sigma::Fixed(25.0)),
        ]
    );
    assert_eq!(
        labels(EvalProtocol::Awgn {
            sigmas: vec![0.0],
            blind: true
        }),
        [("sigma 0 blind".into(), Degrade::Awgn(0.0), Sigma::Auto)]
    );
    assert_eq!(
        labels(EvalProtocol::Jpeg {
            qualities: vec![10, 40]
        }),
        [
            ("jpeg q10".into(), Degrade::Jpeg(10), Sigma::Auto),
            ("jpeg q40".into(), Degrade::Jpeg(40), Sigma::Auto),
        ]
    );
    assert_eq!(
        labels(EvalProtocol::RealNoise { sigmas: None }),
        [("real noise".into(), Degrade::Given, Sigma::Auto)]
    );
    assert_eq!(
        labels(EvalProtocol::RealNoise {
            sigmas: Some(vec![10.0])
        }),
        [(
            "real noise sigma 10".into(),
            Degrade::Given,
            Sigma::Fixed(10.0)
        )]
    );
    let up: Vec<String> = upscale::settings(
        &EvalProtocol::Jpeg {
            qualities: vec![50, 60],
        },
        2,
    )
    .into_iter()
    .map(|s| s.label)
    .collect();
    assert_eq!(up, ["x2 jpeg q50", "x2 jpeg q60"]);
    let up = upscale::settings(&EvalProtocol::Standard, 4);
    assert_eq!(up[0].label, "x4");
    assert_eq!(up[0].degrade, Degrade::Given);
}

#[test]
fn awgn_is_seeded_and_sigma_zero_is_the_clean_image() {
    let clean = scene(16, 12);
    assert_eq!(denoise::awgn(&clean, 0.0, 3), clean);
    let a = denoise::awgn(&clean, 25.0, 3);
    assert_eq!(a, denoise::awgn(&clean, 25.0, 3));
    assert_ne!(a, denoise::awgn(&clean, 25.0, 4));
    let p = psnr(&a, &clean, 1.0);
    assert!((18.0..24.0).contains(&p), "{p}");
}

#[test]
fn denoise_jpeg_cases_have_lower_baselines_at_lower_quality() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (64, 48);
    let file = dir.path().join("scene.png");
    save_png(&file, &scene(w, h), w, h);
    let input = Input {
        clean: file,
        degraded: None,
    };
    let limits = Limits::default();
    let baseline = |q| {
        let case = denoise::case(&input, Degrade::Jpeg(q), 0, &limits).unwrap();
        assert_eq!(
            case.input.rgb_f32(),
            case.baseline,
            "the model gets the JPEG"
        );
        assert_eq!((case.width, case.height, case.space), (w, h, Space::Rgb));
        let f = case.space.figures(&case.baseline, &case.reference, w, h);
        assert!(f.psnr.is_finite());
        f.psnr
    };
    let (q10, q40, q90) = (baseline(10), baseline(40), baseline(90));
    assert!(q10 < q40 && q40 < q90, "q10 {q10}, q40 {q40}, q90 {q90}");
    // σ 0: the input is the clean image, the baseline infinite.
    let case = denoise::case(&input, Degrade::Awgn(0.0), 0, &limits).unwrap();
    let f = case.space.figures(&case.baseline, &case.reference, w, h);
    assert!(f.psnr.is_infinite() && f.ssim > 0.9999);
}

#[test]
fn paired_case_scores_the_noisy_file_against_its_partner() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (20, 16);
    let clean = scene(w, h);
    let noisy = denoise::awgn(&clean, 10.0, 1);
    save_png(&dir.path().join("clean/a.png"), &clean, w, h);
    save_png(&dir.path().join("noisy/a.png"), &noisy, w, h);
    save_png(&dir.path().join("noisy/b.png"), &noisy[..w * 8 * 3], w, 8);
    save_png(&dir.path().join("clean/b.png"), &clean, w, h);
    let pairs = denoise::paired_files(dir.path()).unwrap();
    let limits = Limits::default();
    let case = denoise::case(&pairs[0], Degrade::Given, 0, &limits).unwrap();
    assert_eq!(case.input.rgb_f32(), case.baseline);
    assert!(
        psnr(&case.baseline, &noisy, 1.0) > 45.0,
        "8-bit rounding only"
    );
    assert!(psnr(&case.reference, &clean, 1.0) > 45.0);
    // Sizes must agree.
    let err = denoise::case(&pairs[1], Degrade::Given, 1, &limits)
        .err()
        .unwrap();
    assert!(err.to_string().contains("clean partner 20×16"), "{err}");
}

#[test]
fn upscale_jpeg_lr_is_made_from_hr_and_scores_below_clean_lr() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (65, 50);
    let hr_file = dir.path().join("img_001_SRF_2_HR.png");
    save_png(&hr_file, &scene(w, h), w, h);
    // The set's LR file is deliberately wrong (all black): JPEG mode must not read it.
    save_png(
        &dir.path().join("img_001_SRF_2_LR.png"),
        &vec![0.0; 32 * 25 * 3],
        32,
        25,
    );
    let files = upscale::files(dir.path(), 2);
    assert_eq!(files.len(), 1);
    assert!(files[0].degraded.is_some());
    let cfg = config(
        ModelKind::UpscaleX2,
        EvalProtocol::Jpeg {
            qualities: vec![50],
        },
        dir.path(),
    );
    let jpeg_inputs = inputs(&cfg).unwrap();
    assert_eq!(jpeg_inputs[0].clean, hr_file);
    assert_eq!(jpeg_inputs[0].degraded, None);
    let limits = Limits::default();
    let baseline = |degrade| {
        let case = upscale::case(&jpeg_inputs[0], degrade, 2, &limits)
            .unwrap()
            .unwrap();
        assert_eq!((case.width, case.height), (64, 50));
        assert_eq!((case.input.width, case.input.height), (32, 25));
        assert_eq!(case.space, Space::Y { border: 2 });
        case.space
            .figures(&case.baseline, &case.reference, case.width, case.height)
            .psnr
    };
    let (clean, q90, q50) = (
        baseline(Degrade::Given),
        baseline(Degrade::Jpeg(90)),
        baseline(Degrade::Jpeg(50)),
    );
    assert!(
        q50 < q90 && q90 < clean,
        "clean {clean}, q90 {q90}, q50 {q50}"
    );
    assert!(clean > 20.0, "made from HR, not the black LR file: {clean}");
    // Standard mode reads the set's LR file.
    let std_inputs = inputs(&config(
        ModelKind::UpscaleX2,
        EvalProtocol::Standard,
        dir.path(),
    ))
    .unwrap();
    let case = upscale::case(&std_inputs[0], Degrade::Given, 2, &limits)
        .unwrap()
        .unwrap();
    assert!(case.input.rgb_f32().iter().all(|&v| v == 0.0));
}

/// A colorize case on `original` (the model input and baseline: its grey copy).
fn colour_case(original: Vec<f32>, w: usize, h: usize) -> Case {
    let grey = crate::maths::colour_metrics::grey_copy(&original);
    Case {
        input: Photo::from_rgb_f32(w, h, grey.clone(), crate::testing::photo_meta()),
        baseline: grey,
        reference: original,
        width: w,
        height: h,
        space: Space::Rgb,
    }
}

#[test]
fn colorize_baselines_grey_zero_sepia_low_originals_one() {
    let (w, h) = (48, 36);
    let original = scene(w, h);
    let case = colour_case(original.clone(), w, h);
    // An identity "model" (the originals back) and the grey copy as the --compare model.
    let s = score(Task::Colorize, &case, &original, Some(&case.baseline));
    assert!(s.psnr.is_infinite());
    assert_eq!(s.colour_correctness, Some(1.0));
    assert!((s.colourfulness_ratio.unwrap() - 1.0).abs() < 1e-9);
    let grey = s.grey.clone().unwrap();
    assert_eq!(grey.psnr, s.baseline_psnr);
    assert_eq!(grey.colour_correctness, Some(0.0));
    assert!(grey.colourfulness_ratio.unwrap() < 0.02, "{grey:?}");
    let sepia = s.sepia.clone().unwrap();
    let c = sepia.colour_correctness.unwrap();
    // Six hue bands (chroma 22, under twice the tint's): right in the 90° band only.
    assert!(
        (c - 1.0 / 6.0).abs() < 0.05,
        "a uniform tint is right in one sector: {c}"
    );
    assert!(sepia.colourfulness_ratio.unwrap() > grey.colourfulness_ratio.unwrap());
    assert_eq!(s.previous, Some(grey));

    // A grey original: correctness undefined, left out of the mean.
    let grey_orig = crate::maths::colour_metrics::grey_copy(&original);
    let g = score(
        Task::Colorize,
        &colour_case(grey_orig.clone(), w, h),
        &grey_orig,
        None,
    );
    assert_eq!(g.colour_correctness, None);
    assert!(g.previous.is_none());
    let m = mean(&[&s, &g]);
    assert_eq!(m.colour_correctness, Some(1.0));
    assert_eq!(m.grey.as_ref().unwrap().colour_correctness, Some(0.0));

    // Denoise and upscale rows carry no colour figures.
    let d = score(Task::Denoise, &case, &original, None);
    assert!(d.grey.is_none() && d.sepia.is_none() && d.colour_correctness.is_none());
}

#[test]
fn summary_lines_name_every_baseline() {
    let f = |psnr, colour: Option<(f64, f64)>| Figures {
        psnr,
        ssim: 0.5,
        colourfulness_ratio: colour.map(|c| c.0),
        colour_correctness: colour.map(|c| c.1),
    };
    let s = Scores {
        psnr: 23.1,
        ssim: 0.9,
        baseline_psnr: 22.5,
        baseline_ssim: 0.88,
        colourfulness_ratio: Some(0.71),
        colour_correctness: Some(0.41),
        grey: Some(f(22.5, Some((0.0, 0.0)))),
        sepia: Some(f(22.8, Some((0.38, 0.21)))),
        previous: Some(f(22.9, Some((0.54, 0.316)))),
    };
    let line = extras(Task::Colorize, &s, (67, 68), false);
    assert_eq!(
        line,
        ", colourfulness 71% of the originals', colour correctness 0.410 (over the 67 of 68 images \
         with coloured pixels) | grey: PSNR 22.50 dB, colourfulness 0%, correctness 0.000 \
         | sepia: PSNR 22.80 dB, colourfulness 38%, correctness 0.210 \
         | previous: PSNR 22.90 dB, colourfulness 54%, correctness 0.316"
    );
    let d = Scores {
        psnr: 31.0,
        previous: Some(f(30.5, None)),
        ..Scores::default()
    };
    assert_eq!(
        extras(Task::Denoise, &d, (0, 2), false),
        " | previous: PSNR 30.50 dB, SSIM 0.5000"
    );
    assert_eq!(extras(Task::Upscale, &Scores::default(), (0, 1), false), "");
    assert_eq!(db(f64::INFINITY), "∞");
    assert_eq!(db(20.126), "20.13");
    // JSON: an infinite baseline is null; absent baselines are left out.
    let v = serde_json::to_value(&Scores {
        baseline_psnr: f64::INFINITY,
        ..Scores::default()
    })
    .unwrap();
    assert!(v["baseline_psnr"].is_null());
    assert!(v.get("sepia").is_none() && v.get("previous").is_none());
}
