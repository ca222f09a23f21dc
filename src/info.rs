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
        println!(
            "this aetool build bundles no weights; use --weights FILE or --model hf:OWNER/REPO"
        );
    }
    for m in models {
        let p = &m.provenance;
        let steps = m.trained_steps();
        println!("{}", m.spec.name());
        println!("  source        {}", m.origin);
        println!("  architecture  {}", serde_json::to_string(&m.spec.arch)?);
        println!("  parameters    {}", m.net.params());
        println!(
            "  MAC/pixel     {:.0} (per output pixel)",
            m.net.macs_per_pixel()
        );
        println!("  receptive     ±{} input px (tile border)", m.net.radius());
        if steps == 0 {
            println!("  training      UNTRAINED (random weights)");
        } else {
            println!(
                "  training      {steps} steps on {} from {}",
                p["data"].as_str().unwrap_or("?"),
                p["base"].as_str().unwrap_or("?")
            );
            if let (Some(v), Some(b)) = (p["val_psnr"].as_f64(), p["val_baseline_psnr"].as_f64()) {
                println!("  validation    {v:.2} dB (baseline {b:.2} dB)");
            }
        }
    }
    Ok(())
}
