//! Where weights come from (bundled bytes, a local file, the Hugging Face Hub) and what they
//! must say about themselves.
//!
//! A weights file is safetensors whose `__metadata__` holds:
//! `task` (`denoise` | `upscale` | `colorize`), `arch` (`unet` | `srnet`), `config` (the
//! [`ModelSpec`] as JSON) and `provenance` (JSON: training steps, data, base weights, validation
//! PSNR, …). Loading refuses files of another task, scale or shape, naming the file.

mod bounds;
mod finite;
mod hub;
mod source;

pub use finite::check_tensors as check_finite;
pub use source::Source;

use crate::models::{ModelKind, ModelSpec, Net, NoiseEstimator};
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::path::Path;

/// Weights embedded at build time by `build.rs`: `(name, safetensors bytes)`.
pub fn bundled() -> &'static [(&'static str, &'static [u8])] {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"))
}

/// Raw safetensors bytes, borrowed from the binary or memory-mapped from a file.
enum Bytes {
    Static(&'static [u8]),
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Static(b) => b,
            Bytes::Mapped(m) => m,
        }
    }
}

/// A loaded network with its description.
pub struct Loaded {
    pub net: Net,
    /// Denoise: the blind noise-level estimator, when the weights have one.
    pub estimator: Option<NoiseEstimator>,
    pub spec: ModelSpec,
    /// Free-form JSON object from the `provenance` metadata.
    pub provenance: serde_json::Value,
    /// Human-readable origin: `bundled:denoise`, a path, `hf:owner/repo@rev/file`.
    pub origin: String,
}

impl Loaded {
    /// Training steps recorded in the provenance (0 means untrained weights).
    pub fn trained_steps(&self) -> u64 {
        self.provenance
            .get("steps")
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    }
}

/// Refuses anything but a regular file (a FIFO or a device would block or never end).
pub fn ensure_regular_file(path: &Path, what: &str) -> Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot open {what}", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a regular file; give a {what}", path.display());
    }
    Ok(())
}

fn map_file(path: &Path) -> Result<Bytes> {
    ensure_regular_file(path, "weights file")?;
    let file = std::fs::File::open(path)
        .with_context(|| format!("{}: cannot open weights file", path.display()))?;
    // SAFETY: the map is read-only; aetool never writes a weights file in place (saves go
    // through a temp file + rename), so the mapped bytes cannot change under us.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .with_context(|| format!("{}: cannot map weights file", path.display()))?;
    Ok(Bytes::Mapped(map))
}

/// Reads the `__metadata__` of safetensors bytes.
pub fn metadata(bytes: &[u8], origin: &str) -> Result<HashMap<String, String>> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow!("{origin}: not a safetensors weights file ({e})"))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Parses the spec out of the metadata and checks it against the requested task and scale.
fn spec_of(meta: &HashMap<String, String>, origin: &str) -> Result<ModelSpec> {
    let config = meta.get("config").ok_or_else(|| {
        anyhow!("{origin}: safetensors file has no aetool `config` metadata; only weights written by aetool (finetune) can be loaded")
    })?;
    let spec: ModelSpec = serde_json::from_str(config)
        .map_err(|e| anyhow!("{origin}: unreadable `config` metadata: {e}"))?;
    spec.validate().map_err(|e| anyhow!("{origin}: {e}"))?;
    bounds::check(&spec).map_err(|e| anyhow!("{origin}: {e}"))?;
    Ok(spec)
}

/// The bundled entry of `kind`'s variant `variant`: `<kind>-<variant>` (`upscale-x2-clean`).
fn variant_entry(kind: ModelKind, variant: &str) -> String {
    format!("{}-{variant}", kind.name())
}

/// The bundled weights named `name` (`denoise`, `upscale-x2-clean`, …) and their origin.
fn bundled_named(name: &str) -> Option<(Bytes, String)> {
    bundled()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| (Bytes::Static(b), format!("bundled:{name}")))
}

/// The variants bundled for `kind` (the `<variant>` of each `<kind>-<variant>` entry).
pub fn bundled_variants(kind: ModelKind) -> Vec<&'static str> {
    let prefix = format!("{}-", kind.name());
    bundled()
        .iter()
        .filter_map(|(n, _)| n.strip_prefix(prefix.as_str()))
        .filter(|v| !v.contains('-'))
        .collect()
}

/// The raw bytes of `source` and a human-readable origin.
fn read(source: &Source, kind: ModelKind) -> Result<(Bytes, String)> {
    Ok(match source {
        Source::Bundled => bundled_named(kind.name()).ok_or_else(|| {
            anyhow!("this aetool build bundles no `{kind}` weights; pass --weights FILE or --model hf:OWNER/REPO (see `aetool info`)")
        })?,
        Source::BundledVariant(v) => bundled_named(&variant_entry(kind, v))
            .ok_or_else(|| {
                let have = bundled_variants(kind);
                let have = if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                };
                anyhow!("this aetool build has no `{v}` variant of {kind} (bundled variants of {kind}: {have})")
            })?,
        Source::File(path) => (map_file(path)?, path.display().to_string()),
        Source::Hub {
            repo,
            revision,
            file,
        } => {
            let file = file.clone().unwrap_or_else(|| kind.file_name());
            (
                map_file(&hub::fetch(repo, revision, &file)?)?,
                hub::describe(repo, revision, &file),
            )
        }
    })
}

/// Checks that `spec` serves `kind`.
fn check_kind(spec: &ModelSpec, kind: ModelKind, origin: &str) -> Result<()> {
    if spec.kind() != Some(kind) {
        bail!(
            "{origin}: these are `{}` weights, but `{kind}` weights are needed",
            spec.name()
        );
    }
    Ok(())
}

/// The bundled denoise variant that the default denoiser's low-quality JPEGs go to.
pub const JPEG_VARIANT: &str = "jpeg";

/// The bundled denoise variant that the default denoiser runs on photos that are not JPEGs when
/// told the level (`--sigma N`): trained on clipped white Gaussian noise, the published AWGN
/// protocol, where the default's camera-noise net keeps a region's mean near black and white as
/// real photos want.
pub const GAUSSIAN_VARIANT: &str = "gaussian";

/// Whether weights of this origin are the bundled denoise `variant` ([`JPEG_VARIANT`],
/// [`GAUSSIAN_VARIANT`]).
pub fn is_denoise_variant(origin: &str, variant: &str) -> bool {
    origin.strip_prefix("bundled:") == Some(variant_entry(ModelKind::Denoise, variant).as_str())
}

/// The bundled nets the default denoiser hands some photos to; both `None` for any other source
/// or task, each `None` for a build without it. Each has the default's architecture, so that
/// one tiling serves all.
#[derive(Default)]
pub struct Companions {
    /// [`JPEG_VARIANT`]: JPEGs of low quality.
    pub jpeg: Option<Loaded>,
    /// [`GAUSSIAN_VARIANT`]: photos that are not JPEGs, when told the level (loaded only for runs
    /// that may tell it).
    pub gaussian: Option<Loaded>,
}

/// The [`Companions`] of `main`, loaded from `source` for `kind`; the Gaussian-noise net only
/// when the run may tell the level (`told`), so blind runs do not pay for its load (about 50 MB
/// of peak memory, measured: checkpoints/README.md).
pub fn load_companions(
    source: &Source,
    kind: ModelKind,
    main: &Loaded,
    told: bool,
    device: &Device,
) -> Result<Companions> {
    if *source != Source::Bundled || kind != ModelKind::Denoise {
        return Ok(Companions::default());
    }
    let load_variant = |variant: &str| -> Result<Option<Loaded>> {
        let Some((bytes, origin)) = bundled_named(&variant_entry(kind, variant)) else {
            return Ok(None);
        };
        let net = from_bytes(&bytes, &origin, Some(kind), device)?;
        if net.spec.arch != main.spec.arch {
            bail!(
                "{origin}: not the architecture of {}; rebuild aetool with matching denoise weights in weights/",
                main.origin
            );
        }
        Ok(Some(net))
    };
    Ok(Companions {
        jpeg: load_variant(JPEG_VARIANT)?,
        gaussian: if told {
            load_variant(GAUSSIAN_VARIANT)?
        } else {
            None
        },
    })
}

/// Loads weights from `source` for `kind`, on `device`.
pub fn load(source: &Source, kind: ModelKind, device: &Device) -> Result<Loaded> {
    let (bytes, origin) = read(source, kind)?;
    from_bytes(&bytes, &origin, Some(kind), device)
}

/// Weights as named tensors plus their spec and origin, for training to start from.
pub fn load_tensors(
    source: &Source,
    kind: ModelKind,
    device: &Device,
) -> Result<(ModelSpec, String, HashMap<String, Tensor>)> {
    let (bytes, origin) = read(source, kind)?;
    let spec = spec_of(&metadata(&bytes, &origin)?, &origin)?;
    check_kind(&spec, kind, &origin)?;
    finite::check_bytes(&bytes, &origin)?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| anyhow!("{origin}: {e}"))?;
    Ok((spec, origin, tensors))
}

/// Builds a network from safetensors bytes; checks the kind when one is given.
fn from_bytes(
    bytes: &[u8],
    origin: &str,
    kind: Option<ModelKind>,
    device: &Device,
) -> Result<Loaded> {
    let meta = metadata(bytes, origin)?;
    let spec = spec_of(&meta, origin)?;
    if let Some(kind) = kind {
        check_kind(&spec, kind, origin)?;
    }
    finite::check_bytes(bytes, origin)?;
    let vb = VarBuilder::from_slice_safetensors(bytes, DType::F32, device)
        .map_err(|e| anyhow!("{origin}: not a safetensors weights file ({e})"))?;
    let mismatch = |e: candle_core::Error| {
        anyhow!(
            "{origin}: tensors do not match the `{}` architecture in its metadata: {e}",
            spec.name()
        )
    };
    let mut net = Net::new(vb.clone(), &spec).map_err(mismatch)?;
    let mut estimator = spec
        .estimator
        .as_ref()
        .map(|c| NoiseEstimator::new(vb.pp("estimator"), c))
        .transpose()
        .map_err(mismatch)?;
    bounds::check_window(&net, &spec).map_err(|e| anyhow!("{origin}: {e}"))?;
    // Loaded weights are for inference: Winograd kernels, transformed once here.
    net.prepare_inference()?;
    if let Some(e) = &mut estimator {
        e.prepare_inference()?;
    }
    let provenance = meta
        .get("provenance")
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(serde_json::Value::Object(Default::default()));
    Ok(Loaded {
        net,
        estimator,
        spec,
        provenance,
        origin: origin.to_string(),
    })
}

/// Loads any aetool weights file without a task check (for `aetool info FILE`).
pub fn inspect(source: &Source) -> Result<Vec<Loaded>> {
    match source {
        Source::Bundled => bundled()
            .iter()
            .map(|(name, bytes)| from_bytes(bytes, &format!("bundled:{name}"), None, &Device::Cpu))
            .collect(),
        Source::BundledVariant(v) => bundled()
            .iter()
            .filter(|(name, _)| name.ends_with(&format!("-{v}")))
            .map(|(name, bytes)| from_bytes(bytes, &format!("bundled:{name}"), None, &Device::Cpu))
            .collect(),
        Source::File(path) => Ok(vec![from_bytes(
            &map_file(path)?,
            &path.display().to_string(),
            None,
            &Device::Cpu,
        )?]),
        Source::Hub {
            repo,
            revision,
            file,
        } => {
            let file = file.as_deref().ok_or_else(|| {
                anyhow!("`aetool info hf:…` needs the file: hf:OWNER/REPO[@REV]/FILE")
            })?;
            Ok(vec![from_bytes(
                &map_file(&hub::fetch(repo, revision, file)?)?,
                &hub::describe(repo, revision, file),
                None,
                &Device::Cpu,
            )?])
        }
    }
}

/// Writes `tensors` with aetool metadata to `path` atomically (temp file in the same folder, then rename).
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    spec: &ModelSpec,
    provenance: &serde_json::Value,
) -> Result<()> {
    let what = path.display().to_string();
    finite::check_tensors(tensors.iter().map(|(n, t)| (n.as_str(), t)), &what)?;
    let arch = match spec.arch {
        crate::models::Arch::Unet(_) => "unet",
        crate::models::Arch::Srnet(_) => "srnet",
        crate::models::Arch::Colornet(_) => "colornet",
    };
    let meta = HashMap::from([
        ("task".to_string(), spec.task.to_string()),
        ("arch".to_string(), arch.to_string()),
        ("config".to_string(), serde_json::to_string(spec)?),
        ("provenance".to_string(), provenance.to_string()),
    ]);
    let data = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .with_context(|| format!("{}: cannot serialise weights", path.display()))?;
    crate::atomic::write(path, &data)
}

#[cfg(test)]
mod tests;
