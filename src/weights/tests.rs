//! The bundled weights as they are used: loaded nets run Winograd, and it agrees with the
//! direct path.

use super::*;
use crate::models::planes::{denoise_input, lab_planes};
use crate::models::Task;
use crate::testing::winograd_error;
use candle_core::Module;

/// A photo-like `w × h` RGB image in `[0, 1]`: smooth shading, a hard-edged shape and fine
/// texture (deterministic).
fn photo(w: usize, h: usize) -> Vec<f32> {
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x as f32, y as f32)))
        .flat_map(|(x, y)| {
            let shade = 0.45 + 0.25 * (x / 17.0).sin() * (y / 23.0).cos();
            let disc = if (x - 40.0).hypot(y - 30.0) < 18.0 {
                0.3
            } else {
                0.0
            };
            let grain = 0.04 * ((x * 12.9898 + y * 78.233).sin() * 43_758.547).fract();
            [0.9, 0.7, 0.5].map(|tint| (tint * shade + disc + grain).clamp(0.0, 1.0))
        })
        .collect()
}

#[test]
fn bundled_nets_run_winograd_within_1e_4_of_the_direct_path() -> Result<()> {
    let dev = Device::Cpu;
    let (w, h) = (96, 64);
    let rgb = photo(w, h);
    for kind in ModelKind::ALL {
        let loaded = load(&Source::Bundled, kind, &dev)?;
        let planes = match kind.task() {
            Task::Denoise => denoise_input(&rgb, 25.0),
            Task::Upscale => rgb.clone(),
            Task::Colorize => lab_planes(&rgb).0,
        };
        let x = Tensor::from_vec(planes, (1, h, w, kind.channels().0), &dev)?;
        let e = winograd_error(|| loaded.net.forward(&x))?;
        eprintln!("bundled {kind}: Winograd error {e:.2e} of the output range");
        // Zero would mean the loaded net was not prepared for Winograd.
        assert!(
            e > 0.0 && e < 1e-4,
            "bundled {kind}: Winograd error {e:.2e}"
        );
        if let Some(est) = &loaded.estimator {
            // The estimator's output is one mean over all positions: Winograd's rounding
            // differences (1e-7 of the features) can vanish in it entirely, so only the bound is
            // checked here (the net above proves the loaded weights were prepared).
            let x = Tensor::from_vec(rgb.clone(), (1, h, w, 3), &dev)?;
            let e = winograd_error(|| est.forward(&x))?;
            eprintln!("bundled {kind} noise estimator: Winograd error {e:.2e}");
            assert!(e < 1e-4, "bundled {kind} estimator: {e:.2e}");
        }
    }
    Ok(())
}

#[test]
fn bundled_variants_load_for_their_kind_and_unknown_ones_name_what_exists() -> Result<()> {
    let dev = Device::Cpu;
    assert_eq!(
        bundled_variants(ModelKind::Denoise),
        [GAUSSIAN_VARIANT, JPEG_VARIANT]
    );
    assert_eq!(bundled_variants(ModelKind::UpscaleX2), ["clean"]);
    assert_eq!(bundled_variants(ModelKind::UpscaleX4), ["clean"]);
    for kind in ModelKind::ALL {
        for v in bundled_variants(kind) {
            let loaded = load(&Source::BundledVariant(v.to_string()), kind, &dev)?;
            assert_eq!(loaded.origin, format!("bundled:{kind}-{v}"));
            assert_eq!(loaded.spec.kind(), Some(kind));
        }
    }
    let err = load(
        &Source::BundledVariant("clean".into()),
        ModelKind::Denoise,
        &dev,
    )
    .err()
    .expect("denoise has no clean variant")
    .to_string();
    assert!(err.contains("variants of denoise: gaussian, jpeg"), "{err}");
    Ok(())
}

#[test]
fn only_the_bundled_default_denoiser_has_companions() -> Result<()> {
    let dev = Device::Cpu;
    let main = load(&Source::Bundled, ModelKind::Denoise, &dev)?;
    let blind = load_companions(&Source::Bundled, ModelKind::Denoise, &main, false, &dev)?;
    assert!(blind.jpeg.is_some() && blind.gaussian.is_none());
    let c = load_companions(&Source::Bundled, ModelKind::Denoise, &main, true, &dev)?;
    for (net, variant) in [(c.jpeg, JPEG_VARIANT), (c.gaussian, GAUSSIAN_VARIANT)] {
        let net = net.unwrap_or_else(|| panic!("the bundled default denoiser has a {variant} net"));
        assert_eq!(net.origin, format!("bundled:denoise-{variant}"));
        assert!(is_denoise_variant(&net.origin, variant));
        assert!(!is_denoise_variant(&main.origin, variant));
        assert_eq!(net.spec.arch, main.spec.arch);
        let source = Source::BundledVariant(variant.into());
        let forced = load(&source, ModelKind::Denoise, &dev)?;
        let none = load_companions(&source, ModelKind::Denoise, &forced, true, &dev)?;
        assert!(none.jpeg.is_none() && none.gaussian.is_none());
    }
    let x2 = load(&Source::Bundled, ModelKind::UpscaleX2, &dev)?;
    let none = load_companions(&Source::Bundled, ModelKind::UpscaleX2, &x2, true, &dev)?;
    assert!(none.jpeg.is_none() && none.gaussian.is_none());
    Ok(())
}

#[test]
fn bundled_provenance_names_data_sets_not_training_machine_paths() -> Result<()> {
    let dev = Device::Cpu;
    for kind in ModelKind::ALL {
        let sources = std::iter::once(Source::Bundled).chain(
            bundled_variants(kind)
                .into_iter()
                .map(|v| Source::BundledVariant(v.to_string())),
        );
        for source in sources {
            let loaded = load(&source, kind, &dev)?;
            for field in ["data", "base"] {
                let value = loaded.provenance[field].as_str().unwrap_or_default();
                assert!(
                    !value.is_empty() && !value.contains('/') && !value.contains(".."),
                    "{}: provenance {field} {value:?} is a path, not a name",
                    loaded.origin
                );
            }
        }
    }
    Ok(())
}
