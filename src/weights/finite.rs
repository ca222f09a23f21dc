//! Weights must be finite numbers: a diverged training run leaves NaN or infinity in them, and
//! such a network turns every photo black while looking like any other weights file.

use anyhow::{anyhow, bail, Result};
use candle_core::{DType, Tensor};
use safetensors::{Dtype, SafeTensors};

fn broken(origin: &str, name: &str) -> anyhow::Error {
    anyhow!("{origin}: tensor `{name}` holds NaN or infinite values; these weights are broken (a diverged training run?) and cannot be used")
}

/// Whether every element of a little-endian float buffer of `dtype` is finite (other dtypes:
/// nothing to check).
fn all_finite(dtype: Dtype, data: &[u8]) -> bool {
    let u16s = || {
        data.chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()),
        Dtype::F64 => data
            .chunks_exact(8)
            .all(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")).is_finite()),
        // All-ones exponent: infinity or NaN.
        Dtype::F16 => u16s().all(|v| v & 0x7C00 != 0x7C00),
        Dtype::BF16 => u16s().all(|v| v & 0x7F80 != 0x7F80),
        _ => true,
    }
}

/// Refuses safetensors bytes holding a non-finite value, naming `origin` and the tensor.
pub fn check_bytes(bytes: &[u8], origin: &str) -> Result<()> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow!("{origin}: not a safetensors weights file ({e})"))?;
    let mut names = st.names();
    names.sort();
    for name in names {
        let view = st.tensor(name).map_err(|e| anyhow!("{origin}: {e}"))?;
        if !all_finite(view.dtype(), view.data()) {
            return Err(broken(origin, name));
        }
    }
    Ok(())
}

/// Refuses tensors holding a non-finite value (before they are written), naming `what` and the
/// tensor.
pub fn check_tensors<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>,
    what: &str,
) -> Result<()> {
    for (name, t) in tensors {
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if !values.iter().all(|v| v.is_finite()) {
            bail!(broken(what, name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn finds_nan_and_infinity_in_every_float_layout() {
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        assert!(all_finite(Dtype::F32, &f32s(&[0.0, -1.5, 3e38])));
        assert!(!all_finite(Dtype::F32, &f32s(&[0.0, f32::NAN])));
        assert!(!all_finite(Dtype::F32, &f32s(&[f32::NEG_INFINITY])));
        assert!(!all_finite(Dtype::F64, &f64::INFINITY.to_le_bytes()));
        assert!(all_finite(Dtype::F16, &0x3C00u16.to_le_bytes())); // 1.0
        assert!(!all_finite(Dtype::F16, &0x7E00u16.to_le_bytes())); // NaN
        assert!(!all_finite(Dtype::BF16, &0x7F80u16.to_le_bytes())); // +inf
        assert!(all_finite(Dtype::I64, &[0xFF; 8]));

        let dev = Device::Cpu;
        let good = Tensor::new(&[1f32, 2.0], &dev).unwrap();
        let bad = Tensor::new(&[1f32, f32::NAN], &dev).unwrap();
        assert!(check_tensors([("a", &good)], "w").is_ok());
        let err = check_tensors([("a", &good), ("b", &bad)], "w").unwrap_err();
        assert!(err.to_string().contains("`b`"), "{err}");
        let bytes = safetensors::serialize([("a", &good), ("b", &bad)], None).unwrap();
        let err = check_bytes(&bytes, "file.safetensors").unwrap_err();
        assert!(
            err.to_string().starts_with("file.safetensors: tensor `b`"),
            "{err}"
        );
    }
}
