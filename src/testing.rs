//! Helpers shared by unit tests, integration tests (`tests/`) and examples: tiny model specs,
//! random networks and test weights files. Compiled for `cargo test` only (the `testing`
//! feature, which the crate's dev-dependency on itself turns on), never into the product.

use crate::models::{
    Arch, ColorNetConfig, EstimatorConfig, ModelKind, ModelSpec, Net, SrConfig, Task, UNetConfig,
};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::path::Path;

/// Largest absolute element-wise difference of two equally long buffers.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The metadata of a plain 8-bit RGB PNG source (no profile, no EXIF), for photos built in
/// memory.
pub fn photo_meta() -> crate::photo::PhotoMeta {
    crate::photo::PhotoMeta {
        gray: false,
        sixteen_bit: false,
        icc: None,
        format: image::ImageFormat::Png,
        metadata: Default::default(),
        jpeg_quality: None,
    }
}

/// How far the Winograd path strays from the direct one: runs `forward` once with every conv
/// direct ([`crate::ops::ConvImpl::Fused`]) and once on the default path (Winograd where the net
/// was prepared), and returns max |difference| over the direct output's range (over its largest
/// magnitude when that is wider: a few near-equal values have almost no range).
#[cfg(any(test, feature = "bench"))]
pub fn winograd_error(
    forward: impl Fn() -> candle_core::Result<Tensor>,
) -> candle_core::Result<f32> {
    use crate::ops::{set_conv_impl, ConvImpl};
    set_conv_impl(ConvImpl::Fused);
    let direct = forward();
    set_conv_impl(ConvImpl::default());
    let direct = direct?.flatten_all()?.to_vec1::<f32>()?;
    let winograd = forward()?.flatten_all()?.to_vec1::<f32>()?;
    let (lo, hi) = direct
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let scale = (hi - lo).max(hi.abs()).max(lo.abs());
    Ok(max_diff(&direct, &winograd) / scale)
}

/// The smallest spec of each kind: a two-level U-Net (widths [4, 8]) with a width-2 noise
/// estimator for denoise, a one-block 4-channel SR net for upscale, a two-level colour
/// classifier for colorize. Used for weights files in tests.
pub fn tiny_spec(kind: ModelKind) -> ModelSpec {
    let (in_channels, out_channels) = kind.channels();
    let arch = match kind.task() {
        Task::Denoise => Arch::Unet(UNetConfig {
            in_channels,
            out_channels,
            widths: vec![4, 8],
            blocks: 1,
            residual: true,
        }),
        Task::Colorize => Arch::Colornet(tiny_colornet(vec![4, 8], 1)),
        Task::Upscale => Arch::Srnet(SrConfig {
            scale: kind.scale(),
            width: 4,
            blocks: 1,
        }),
    };
    ModelSpec {
        task: kind.task(),
        arch,
        estimator: (kind == ModelKind::Denoise).then_some(EstimatorConfig { width: 2 }),
    }
}

/// A colour classifier over the real ab classes (decoding needs them) with a tiny trunk whose
/// logits come out at half resolution.
fn tiny_colornet(widths: Vec<usize>, blocks: usize) -> ColorNetConfig {
    ColorNetConfig {
        widths,
        blocks,
        bins: crate::maths::colour_bins::AbBins::shared().len(),
        out_level: 1,
    }
}

/// Small specs that still exercise each architecture's structure (three U-Net levels, several
/// blocks), one per kind in [`ModelKind::ALL`] order: denoise, upscale ×2, ×4, colorize.
pub fn small_specs() -> Vec<ModelSpec> {
    let sr = |scale, blocks| ModelSpec {
        task: Task::Upscale,
        arch: Arch::Srnet(SrConfig {
            scale,
            width: 4,
            blocks,
        }),
        estimator: None,
    };
    vec![
        ModelSpec {
            task: Task::Denoise,
            arch: Arch::Unet(UNetConfig {
                in_channels: 4,
                out_channels: 3,
                widths: vec![4, 6, 8],
                blocks: 1,
                residual: true,
            }),
            estimator: Some(EstimatorConfig { width: 3 }),
        },
        sr(2, 1),
        sr(4, 2),
        ModelSpec {
            task: Task::Colorize,
            arch: Arch::Colornet(tiny_colornet(vec![4, 6, 8], 2)),
            estimator: None,
        },
    ]
}

/// The spec of [`small_specs`] for `kind`.
pub fn small_spec(kind: ModelKind) -> ModelSpec {
    small_specs()
        .into_iter()
        .find(|s| s.kind() == Some(kind))
        .unwrap_or_else(|| panic!("no small spec for {kind}"))
}

/// A network for `spec` on the CPU with its variables. With `jitter` 0 the variables keep their
/// initial values (zero-initialised last layers: candle's unseeded initialisers). Otherwise
/// every variable is redrawn from a Gaussian seeded by its name, of standard deviation its
/// initial root-mean-square plus `jitter`, so that every layer and gradient path is live and a
/// test sees the same network on every run (an unseeded draw of a width-4 net left a ReLU dead
/// for the whole input about one run in forty).
pub fn random_net(spec: &ModelSpec, jitter: f32) -> (Net, VarMap) {
    let vm = VarMap::new();
    let net = Net::new(VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu), spec)
        .expect("build a test network");
    if jitter > 0.0 {
        for (name, var) in vm.data().lock().expect("varmap lock").iter() {
            let rms = var
                .as_tensor()
                .sqr()
                .and_then(|t| t.mean_all())
                .and_then(|t| t.to_scalar::<f32>())
                .expect("rms of a variable")
                .sqrt();
            let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            let values = Rng(seed | 1).normals(var.elem_count(), rms + jitter);
            let t = Tensor::from_vec(values, var.shape(), &Device::Cpu).expect("redrawn values");
            var.set(&t).expect("set variable");
        }
    }
    (net, vm)
}

/// Writes a valid aetool weights file for `spec` (initial random tensors) to `path`.
/// The spec's noise estimator, if any, is written too (keys `estimator.*`).
pub fn write_weights(path: &Path, spec: &ModelSpec, provenance: &serde_json::Value) {
    let (_, varmap) = random_net(spec, 0.0);
    if let Some(c) = &spec.estimator {
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        crate::models::NoiseEstimator::new(vb.pp("estimator"), c).expect("build an estimator");
    }
    let mut tensors: Vec<(String, Tensor)> = varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    crate::weights::save(path, &tensors, spec, provenance).expect("save test weights");
}

/// The bytes of a valid aetool weights file for `spec` (see [`write_weights`]).
pub fn weights_bytes(spec: &ModelSpec, provenance: &serde_json::Value) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("w.safetensors");
    write_weights(&path, spec, provenance);
    std::fs::read(&path).expect("read test weights back")
}

/// CRC-32 (IEEE 802.3, as PNG chunks use) of `bytes`, for hand-made and mutated PNG files.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small deterministic RNG (xorshift64*) for generated test images and fuzz mutations, so they
/// never change between runs or platforms. The seed must not be 0.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`, 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// `len` Gaussian draws of mean 0 and standard deviation `std` (Box–Muller).
    pub fn normals(&mut self, len: usize, std: f32) -> Vec<f32> {
        (0..len)
            .map(|_| {
                let u = 1.0 - self.unit(); // (0, 1]: ln(u) is finite
                let v = self.unit();
                std * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
            })
            .collect()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/IEEE.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
