//! Sane bounds on the architecture a weights file declares in its metadata, checked before
//! anything is built from it: a few bytes of JSON must not be able to ask for petabytes (a
//! 40-level U-Net aligns tiles to 2^39 pixels) or overflow the size arithmetic.

use crate::models::{Arch, ModelSpec, Net};

/// Most U-Net levels (each halves the resolution; 8 levels align tiles to 128 pixels).
pub const MAX_LEVELS: usize = 8;
/// Most channels of any layer.
pub const MAX_WIDTH: usize = 1024;
/// Most residual blocks per U-Net level (encoder, bottleneck and decoder each).
pub const MAX_UNET_BLOCKS: usize = 16;
/// Most residual blocks in the super-resolution trunk.
pub const MAX_SR_BLOCKS: usize = 64;
/// Most input or output channels.
pub const MAX_CHANNELS: usize = 64;
/// Most colour classes of a colorize classifier.
pub const MAX_CLASSES: usize = 4096;
/// Most trainable parameters (400 MB of f32).
pub const MAX_PARAMS: u64 = 100_000_000;

/// Checks `spec` against the bounds above; the message says which value is out of range.
pub fn check(spec: &ModelSpec) -> Result<(), String> {
    let within = |what: &str, v: usize, lo: usize, hi: usize| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(format!(
                "architecture declares {what} {v}, outside the supported {lo}–{hi}"
            ))
        }
    };
    match &spec.arch {
        Arch::Unet(c) => {
            within("levels", c.widths.len(), 1, MAX_LEVELS)?;
            for &w in &c.widths {
                within("a width of", w, 1, MAX_WIDTH)?;
            }
            within("blocks", c.blocks, 0, MAX_UNET_BLOCKS)?;
            within("input channels", c.in_channels, 1, MAX_CHANNELS)?;
            within("output channels", c.out_channels, 1, MAX_CHANNELS)?;
        }
        Arch::Srnet(c) => {
            within("scale", c.scale, 2, 4)?;
            within("width", c.width, 1, MAX_WIDTH)?;
            within("blocks", c.blocks, 0, MAX_SR_BLOCKS)?;
        }
        Arch::Colornet(c) => {
            within("levels", c.widths.len(), 1, MAX_LEVELS)?;
            for &w in &c.widths {
                within("a width of", w, 1, MAX_WIDTH)?;
            }
            within("blocks", c.blocks, 0, MAX_UNET_BLOCKS)?;
            within("classes", c.bins, 1, MAX_CLASSES)?;
            within("output level", c.out_level, 0, c.widths.len() - 1)?;
        }
    }
    if let Some(e) = &spec.estimator {
        within("an estimator width of", e.width, 1, MAX_WIDTH)?;
    }
    let params = params(spec).filter(|&p| p <= MAX_PARAMS);
    if params.is_none() {
        return Err(format!(
            "architecture has more than {MAX_PARAMS} parameters; not an aetool model"
        ));
    }
    Ok(())
}

/// Most working memory the smallest tile of a model may need (its window is at least twice the
/// receptive radius wide): a small file with many levels and blocks of wide layers would
/// otherwise ask for terabytes on any photo.
pub const MAX_WINDOW_BYTES: f64 = 8.0 * (1u64 << 30) as f64;

/// Checks that the smallest tile window of `net` (built from a spec that passed [`check`], so
/// its radius cannot overflow) fits [`MAX_WINDOW_BYTES`], with the restorer's estimate of
/// 4 · (24 · width + 24 · scale²) bytes per input pixel at the widest layer.
pub fn check_window(net: &Net, spec: &ModelSpec) -> Result<(), String> {
    let width = match &spec.arch {
        Arch::Unet(c) => c.widths.iter().copied().max().unwrap_or(1),
        Arch::Srnet(c) => c.width,
        // Never tiled: it runs once on a working copy whose size `--work-size` bounds.
        Arch::Colornet(_) => return Ok(()),
    };
    let (r, a, s) = (net.radius() as f64, net.align() as f64, net.scale() as f64);
    let side = 2.0 * (r / a).ceil() * a + a;
    let bytes = side * side * 4.0 * (24.0 * width as f64 + 24.0 * s * s);
    if bytes > MAX_WINDOW_BYTES {
        return Err(format!(
            "architecture needs about {:.0} GiB for its smallest tile (receptive radius ±{} px, {width} channels); not a usable model",
            bytes / (1u64 << 30) as f64,
            net.radius()
        ));
    }
    Ok(())
}

/// Trainable parameters of `spec`, with checked arithmetic (`None` on overflow).
fn params(spec: &ModelSpec) -> Option<u64> {
    let u = |v: usize| u64::try_from(v).ok();
    // k×k conv from a to b channels, with bias.
    let conv = |k: u64, a: usize, b: usize| {
        k.checked_mul(k)?
            .checked_mul(u(a)?)?
            .checked_add(1)?
            .checked_mul(u(b)?)
    };
    // `n` residual blocks of two 3×3 convs at `c` channels.
    let blocks = |n: usize, c: usize| conv(3, c, c)?.checked_mul(2)?.checked_mul(u(n)?);
    match &spec.arch {
        Arch::Unet(c) => {
            let w = &c.widths;
            let mut total =
                conv(3, c.in_channels, w[0])?.checked_add(conv(3, w[0], c.out_channels)?)?;
            total = total.checked_add(blocks(c.blocks, *w.last()?)?)?;
            for pair in w.windows(2) {
                let level = blocks(c.blocks, pair[0])?
                    .checked_mul(2)?
                    .checked_add(conv(1, pair[0].checked_mul(4)?, pair[1])?)?
                    .checked_add(conv(1, pair[1], pair[0].checked_mul(4)?)?)?;
                total = total.checked_add(level)?;
            }
            Some(total)
        }
        Arch::Colornet(c) => {
            let w = &c.widths;
            let deep = *w.last()?;
            let mut total = conv(3, 1, w[0])?
                .checked_add(conv(1, *w.get(c.out_level)?, c.bins)?)?
                .checked_add(conv(1, deep, deep)?.checked_mul(2)?)?
                .checked_add(blocks(c.blocks, deep)?)?;
            for (l, pair) in w.windows(2).enumerate() {
                let mut level = blocks(c.blocks, pair[0])?.checked_add(conv(
                    1,
                    pair[0].checked_mul(4)?,
                    pair[1],
                )?)?;
                if l >= c.out_level {
                    level = level
                        .checked_add(blocks(c.blocks, pair[0])?)?
                        .checked_add(conv(1, pair[1], pair[0].checked_mul(4)?)?)?;
                }
                total = total.checked_add(level)?;
            }
            Some(total)
        }
        Arch::Srnet(c) => {
            let s2 = c.scale.checked_mul(c.scale)?.checked_mul(3)?;
            conv(3, 3, c.width)?
                .checked_add(blocks(c.blocks, c.width)?)?
                .checked_add(conv(3, c.width, c.width)?)?
                .checked_add(conv(3, c.width, s2)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ModelKind, Task, UNetConfig};

    #[test]
    fn default_architectures_are_within_bounds_and_counted_exactly() {
        for kind in ModelKind::ALL {
            let spec = kind.default_spec();
            assert_eq!(check(&spec), Ok(()), "{kind}");
            let (net, _) = crate::testing::random_net(&spec, 0.0);
            assert_eq!(params(&spec), Some(net.params() as u64), "{kind}");
            assert_eq!(check_window(&net, &spec), Ok(()), "{kind}");
        }
    }

    #[test]
    fn a_receptive_field_too_wide_for_any_tile_is_refused() {
        // 8 levels of 16 blocks: ±12,734 px of context, a 25,000² window even for a tiny photo.
        let spec = ModelSpec {
            task: Task::Denoise,
            arch: Arch::Unet(UNetConfig {
                in_channels: 4,
                out_channels: 3,
                widths: vec![2; 8],
                blocks: 16,
                residual: true,
            }),
            estimator: None,
        };
        assert_eq!(check(&spec), Ok(()));
        let (net, _) = crate::testing::random_net(&spec, 0.0);
        let err = check_window(&net, &spec).unwrap_err();
        assert!(err.contains("smallest tile"), "{err}");
    }

    #[test]
    fn huge_or_overflowing_architectures_are_refused() {
        let unet = |widths: Vec<usize>, blocks| ModelSpec {
            task: Task::Denoise,
            arch: Arch::Unet(UNetConfig {
                in_channels: 4,
                out_channels: 3,
                widths,
                blocks,
                residual: true,
            }),
            estimator: None,
        };
        for (spec, says) in [
            (unet(vec![1; 40], 1), "levels 40"),
            (unet(vec![], 1), "levels 0"),
            (unet(vec![4, usize::MAX], 1), "width of"),
            (unet(vec![4, 8], 1 << 40), "blocks"),
            (unet(vec![1024; 8], 16), "parameters"),
        ] {
            let err = check(&spec).expect_err(says);
            assert!(err.contains(says), "{err}");
        }
    }
}
