//! Colorize, the one task that is not tiled (tiles would disagree on colour): the network sees
//! the whole photo at a small working size, and only the recombination of the predicted colour
//! with the full-resolution lightness runs at full size — in bands of rows, so no full-size f32
//! plane exists. Each full-size row is made from the photo's own row and a few rows of the
//! small colour plane, with the same arithmetic as when the planes were whole (the resizes are
//! `image`'s, bit for bit: `maths::resample`), so the bands change nothing.

use crate::maths::guided::guided_filter;
use crate::maths::resample::{resize, Resize};
use crate::models::planes::{ab_from_logits, lab_planes, lab_to_rgb_planes};
use crate::models::Net;
use crate::photo::{Band, Input, Window};
use crate::pipeline::restore::{finite, RestoreSettings};
use anyhow::Result;
use candle_core::{Device, Module, Tensor};

/// Rows per band of the full-resolution recombination (`width × 64` output pixels: a few MB).
pub const COLOUR_BAND_ROWS: usize = 64;

/// Window radius (working-size pixels) of the guided filter that makes the classifier's ab
/// follow the lightness's edges: a bottleneck cell of the colour network spans 16 working pixels.
const COLOUR_GUIDE_RADIUS: usize = 8;

/// Guided-filter regularisation, in (L / 100)² units: lightness edges with a standard deviation
/// well above √eps ≈ 0.03 (3 L) keep their colour edge; weaker ones are smoothed over.
const COLOUR_GUIDE_EPS: f32 = 1e-3;

/// The colour predicted for a photo, at the size the network (regression weights) or the guided
/// filter (the classifier) left it: ab / AB_SCALE, shifted to `[0, 1]` as it is resized (see
/// [`shift`]), `w × h × 2` interleaved.
pub struct Colour {
    shifted: Vec<f32>,
    w: usize,
    h: usize,
}

/// Predicts the colour of `photo` with `net` on `device` at a working copy whose short side is
/// about `settings.work_size` (aligned to the net): regression weights predict ab directly; the
/// classifier predicts class logits on a coarser grid, decoded by the annealed mean, brought to
/// the working size and made to follow the lightness's edges there (its regions are blocky
/// otherwise). Either way ab is then scaled by `settings.saturation`. The lightness is read from
/// the photo a row at a time.
pub fn predict(
    net: &Net,
    device: &Device,
    settings: &RestoreSettings,
    photo: &mut Input,
) -> Result<Colour> {
    let work_size = settings.work_size;
    let (w, h) = (photo.width(), photo.height());
    let align = net.align();
    let f = (work_size as f64 / w.min(h) as f64).min(1.0);
    let round = |v: usize| (((v as f64 * f).round() as usize).div_ceil(align) * align).max(align);
    let (ww, wh) = (round(w), round(h));
    let small = working_lightness(photo, ww, wh)?;
    let x = Tensor::from_slice(&small, (1, wh, ww, 1), device)?;
    let out = net.forward(&x)?;
    let (_, oh, ow, _) = out.dims4()?;
    let values = out.flatten_all()?.to_vec1::<f32>()?;
    finite(&values)?;
    let (mut ab, cw, ch) = match net {
        Net::Colornet(_) => {
            let ab = resize_ab(&ab_from_logits(&values), ow, oh, ww, wh);
            let ab = guided_filter(&small, &ab, ww, wh, COLOUR_GUIDE_RADIUS, COLOUR_GUIDE_EPS);
            (ab, ww, wh)
        }
        _ => (values, ow, oh),
    };
    if settings.saturation != 1.0 {
        ab.iter_mut().for_each(|v| *v *= settings.saturation);
    }
    Ok(Colour::new(&ab, cw, ch))
}

/// The photo's lightness (L / 100) resized to `ww × wh` (Catmull-Rom, antialiased), made from
/// the photo's rows as the resize reaches them.
fn working_lightness(photo: &mut Input, ww: usize, wh: usize) -> Result<Vec<f32>> {
    let mut small = Vec::with_capacity(ww * wh);
    let mut rgb = Vec::new();
    let resize = Resize::new(photo.width(), photo.height(), ww, wh, 1);
    photo.with_rows(|read| {
        resize.rows(
            0..wh,
            |y, row| {
                rgb.clear();
                read(y, &mut rgb);
                row.extend(lab_planes(&rgb).0);
            },
            |_, values| small.extend_from_slice(values),
        )
    })?;
    Ok(small)
}

/// ab / AB_SCALE clamped to ±1 and shifted to `[0, 1]`: `image`'s resize of f32 pixels clamps
/// to `[0, 1]`, so ab has always been resized this way (and [`unshift`]ed after).
fn shift(ab: &[f32]) -> Vec<f32> {
    ab.iter()
        .map(|v| (v.clamp(-1.0, 1.0) + 1.0) * 0.5)
        .collect()
}

/// Back from [`shift`].
fn unshift(values: &[f32]) -> Vec<f32> {
    values.iter().map(|v| v * 2.0 - 1.0).collect()
}

/// Resizes ab (`w × h × 2`, ab / AB_SCALE) to `nw × nh` with Catmull-Rom.
fn resize_ab(ab: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    unshift(&resize(&shift(ab), w, h, 2, nw, nh))
}

impl Colour {
    fn new(ab: &[f32], w: usize, h: usize) -> Colour {
        Colour {
            shifted: shift(ab),
            w,
            h,
        }
    }

    /// Writes the rows of `band` (of the photo's size) in colour: each row's lightness from the
    /// photo's row (`win` holds the band's rows), its ab resized from this colour to the photo's
    /// size. Alpha is not touched.
    pub fn paint(&self, win: &Window, band: &mut Band) {
        let (y0, n) = (band.y0, band.rows.height);
        let row_len = self.w * 2;
        let mut rgb = Vec::new();
        Resize::new(self.w, self.h, win.width(), win.height, 2).rows(
            y0..y0 + n,
            |i, row| row.extend_from_slice(&self.shifted[i * row_len..(i + 1) * row_len]),
            |y, ab| {
                rgb.clear();
                win.rgb_row(y, &mut rgb);
                let (l, _) = lab_planes(&rgb);
                band.rows
                    .write_rgb(y - y0, 0, &lab_to_rgb_planes(&l, &unshift(ab)));
            },
        );
    }
}
