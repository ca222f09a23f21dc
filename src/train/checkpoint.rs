//! Training checkpoints: model weights, AdamW moments, the weights' moving average (`--ema`) and
//! the step, in one safetensors file written atomically, so `--resume` continues exactly where a
//! run stopped.

use super::ema::Ema;
use super::optim::AdamW;
use super::{Hyper, Mixture};
use crate::models::ModelSpec;
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{Device, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// Writes the checkpoint for `step` completed steps.
pub fn save(
    path: &Path,
    hyper: &Hyper,
    spec: &ModelSpec,
    step: u64,
    base_val_psnr: Option<f64>,
    vars: &[(String, Var)],
    (opt, ema): (&AdamW, Option<&Ema>),
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(n, v)| (format!("model.{n}"), v.as_tensor().clone()))
        .collect();
    tensors.extend(opt.state()?);
    if let Some(ema) = ema {
        tensors.extend(ema.state(vars)?);
    }
    // Never replace the last good checkpoint with a diverged state.
    crate::weights::check_finite(
        tensors.iter().map(|(n, t)| (n.as_str(), t)),
        &path.display().to_string(),
    )?;
    let mut meta = HashMap::from([
        ("step".to_string(), step.to_string()),
        ("hyper".to_string(), serde_json::to_string(hyper)?),
        ("config".to_string(), serde_json::to_string(spec)?),
    ]);
    if let Some(p) = base_val_psnr.filter(|p| p.is_finite()) {
        meta.insert("base_val_psnr".to_string(), p.to_string());
    }
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))?;
    crate::atomic::write(path, &bytes)
}

/// Restores weights, optimizer state and the moving average; returns the number of completed
/// steps and the base model's validation PSNR when the checkpoint recorded it. The checkpoint
/// must come from a run with the same architecture and hyper-parameters (the total step count
/// may differ, to extend a run).
pub fn load(
    path: &Path,
    hyper: &Hyper,
    spec: &ModelSpec,
    vars: &[(String, Var)],
    (opt, ema): (&mut AdamW, Option<&mut Ema>),
    device: &Device,
) -> Result<(u64, Option<f64>)> {
    let what = path.display();
    crate::weights::ensure_regular_file(path, "checkpoint")?;
    let bytes = std::fs::read(path)
        .with_context(|| format!("{what}: cannot read checkpoint (nothing to --resume?)"))?;
    let meta = crate::weights::metadata(&bytes, &what.to_string())?;
    let field = |k: &str| {
        meta.get(k)
            .ok_or_else(|| anyhow!("{what}: not an aetool checkpoint (no `{k}`)"))
    };
    let saved_spec: ModelSpec = serde_json::from_str(field("config")?)?;
    let saved = stored_hyper(field("hyper")?).with_context(|| format!("{what}: bad `hyper`"))?;
    if &saved_spec != spec {
        bail!("{what}: checkpoint is for {saved_spec:?}, this run builds {spec:?}");
    }
    // The warmup is derived from the step count (`min(100, steps / 10)`), so it may differ too.
    if (Hyper {
        steps: hyper.steps,
        warmup: hyper.warmup,
        ..saved.clone()
    }) != *hyper
    {
        bail!("{what}: checkpoint was made with different settings ({saved:?}); pass the same flags to --resume");
    }
    let step: u64 = field("step")?
        .parse()
        .with_context(|| format!("{what}: bad step"))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
    let get = |name: &str| -> candle_core::Result<Tensor> {
        tensors
            .get(name)
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg(format!("{what}: checkpoint lacks `{name}`")))
    };
    for (name, var) in vars {
        var.set(&get(&format!("model.{name}"))?)?;
    }
    opt.load_state(step, get)?;
    if let Some(ema) = ema {
        ema.load_state(vars, get)?;
    }
    let base_val_psnr = meta.get("base_val_psnr").and_then(|v| v.parse().ok());
    Ok((step, base_val_psnr))
}

/// A checkpoint's `hyper` JSON as this version reads it. Checkpoints written before
/// [`Hyper::mixture`] stored the degradation as three flags: `realistic` (with `coarse_jpeg` for
/// the coarse-JPEG mixture), else classic noise, `unclipped_noise` leaving it unclipped.
fn stored_hyper(json: &str) -> Result<Hyper> {
    let mut v: serde_json::Value = serde_json::from_str(json)?;
    if let Some(m) = v.as_object_mut().filter(|m| !m.contains_key("mixture")) {
        let mut flag = |k: &str| m.remove(k).and_then(|b| b.as_bool()).unwrap_or(false);
        let (realistic, coarse_jpeg, unclipped) = (
            flag("realistic"),
            flag("coarse_jpeg"),
            flag("unclipped_noise"),
        );
        let mixture = match (realistic, coarse_jpeg, unclipped) {
            (true, true, _) => Mixture::CoarseJpeg,
            (true, false, _) => Mixture::Realistic,
            (false, _, true) => Mixture::Unclipped,
            (false, _, false) => Mixture::Classic,
        };
        m.insert("mixture".to_string(), serde_json::to_value(mixture)?);
    }
    Ok(serde_json::from_value(v)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;

    #[test]
    fn hyper_round_trips_and_old_checkpoints_read_their_flags_as_the_mixture() {
        let mut h = Hyper::defaults(ModelKind::Denoise, false);
        h.mixture = Mixture::Unclipped;
        let json = serde_json::to_string(&h).unwrap();
        assert!(json.contains(r#""mixture":"unclipped""#), "{json}");
        assert_eq!(stored_hyper(&json).unwrap(), h);
        // The hyper-parameters of a checkpoint written before the mixture (the twenty-fourth
        // session's `denoise-unclipped`), one flag at a time.
        let old = |flags: &str| {
            format!(
                r#"{{"task":"denoise","scale":1,"steps":3000,"batch":8,"patch":96,"lr":0.0001,"warmup":100,"seed":25,"clip":1.0,{flags}"estimator_only":false,"estimator_floor_db":40.0,"ema":0.0}}"#
            )
        };
        for (flags, want) in [
            (
                r#""realistic":false,"coarse_jpeg":false,"unclipped_noise":true,"#,
                Mixture::Unclipped,
            ),
            (
                r#""realistic":false,"coarse_jpeg":false,"unclipped_noise":false,"#,
                Mixture::Classic,
            ),
            (
                r#""realistic":true,"coarse_jpeg":false,"unclipped_noise":false,"#,
                Mixture::Realistic,
            ),
            (
                r#""realistic":true,"coarse_jpeg":true,"unclipped_noise":false,"#,
                Mixture::CoarseJpeg,
            ),
            // Older still: no coarse-JPEG or clipping flag.
            (r#""realistic":true,"#, Mixture::Realistic),
            ("", Mixture::Classic),
        ] {
            let h = stored_hyper(&old(flags)).unwrap();
            assert_eq!((h.mixture, h.seed, h.steps), (want, 25, 3000), "{flags}");
        }
    }
}
