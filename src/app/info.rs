//! `aetool info`: what weights are bundled (or what a given file / Hub model holds).

use crate::weights::{self, Source};
use anyhow::Result;

/// Prints one block per model: task, architecture, parameters, MAC per output pixel, receptive
/// radius, origin and training provenance.
pub fn run(model: Option<&str>) -> Result<()> {
    let source = model
        .map(Source::parse)
        .transpose()?
        .unwrap_or(Source::Bundled);
    let models = weights::inspect(&source)?;
    if models.is_empty() {
        crate::outln!(
            "this aetool build bundles no weights; use --weights FILE or --model hf:OWNER/REPO"
        )?;
    }
    for m in models {
        let p = &m.provenance;
        let steps = m.trained_steps();
        crate::outln!("{}", m.spec.name())?;
        crate::outln!("  source        {}", m.origin)?;
        if weights::is_denoise_variant(&m.origin, weights::JPEG_VARIANT) {
            crate::outln!(
                "  serves        the default's JPEGs below quality {} (`--variant jpeg`: every photo)",
                crate::pipeline::JPEG_NET_BELOW
            )?;
        }
        if weights::is_denoise_variant(&m.origin, weights::GAUSSIAN_VARIANT) {
            crate::outln!(
                "  serves        the default's photos other than JPEGs told --sigma N (`--variant gaussian`: every photo)"
            )?;
        }
        crate::outln!("  architecture  {}", serde_json::to_string(&m.spec.arch)?)?;
        crate::outln!("  parameters    {}", m.net.params())?;
        crate::outln!(
            "  MAC/pixel     {:.0} (per output pixel)",
            m.net.macs_per_pixel()
        )?;
        match m.net.radius() {
            crate::models::WHOLE_IMAGE => crate::outln!(
                "  receptive     the whole image (global scene features; run untiled)"
            )?,
            r => crate::outln!("  receptive     ±{r} input px (tile border)")?,
        }
        if steps == 0 {
            crate::outln!("  training      UNTRAINED (random weights)")?;
        } else {
            crate::outln!(
                "  training      {steps} steps on {} from {}",
                p["data"].as_str().unwrap_or("?"),
                p["base"].as_str().unwrap_or("?")
            )?;
            if let (Some(v), Some(b)) = (p["val_psnr"].as_f64(), p["val_baseline_psnr"].as_f64()) {
                crate::outln!("  validation    {v:.2} dB (baseline {b:.2} dB)")?;
            }
        }
    }
    Ok(())
}
