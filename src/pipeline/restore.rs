//! Applies a loaded model to one decoded photo: task-specific encoding, tiling, stitching.
//! The input stays in its storage type and the output is assembled in the storage it is written
//! with ([`Target`]): only one tile's window and output are ever f32 (colorize, which is not
//! tiled, converts the whole photo).

use crate::maths::colour_metrics::is_already_colour;
use crate::maths::guided::guided_filter;
use crate::models::planes::{
    ab_from_logits, denoise_input, lab_planes, lab_to_rgb_planes, MAX_SIGMA,
};
use crate::models::{Net, Task};
use crate::photo::{output_storage, Depth, Layout, Metadata, OutputFormat, Photo, Storage};
use crate::pipeline::tiling::{self, Tile};
use crate::weights::Loaded;
use anyhow::{bail, Result};
use candle_core::{Device, Module, Tensor};
use image::imageops::{self, FilterType};
use image::{ImageBuffer, Luma, LumaA};

/// How the denoiser's strength is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sigma {
    /// Estimated per image by the weights' learned noise-level estimator (median over a grid of
    /// crops; it sees camera noise and JPEG artefacts), times [`RestoreSettings::strength`].
    /// Weights without an estimator use the median absolute deviation of the finest diagonal
    /// wavelet band (blind to JPEG, whose quantisation empties that band).
    Auto,
    /// Fixed noise level on the 0–255 scale.
    Fixed(f32),
}

/// How big images are split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TileSize {
    /// From [`TILE_BUDGET_BYTES`] of working memory.
    Auto,
    /// Core size in input pixels.
    Fixed(usize),
    /// One tile for the whole image.
    Whole,
}

/// Working-memory budget for one tile with `--tile auto`.
pub const TILE_BUDGET_BYTES: usize = 1 << 30;

/// Default short side of colorize's working copy (`--work-size`).
pub const DEFAULT_WORK_SIZE: u32 = 256;

/// How to restore, validated from the flags by `app/config.rs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestoreSettings {
    /// Denoise strength.
    pub sigma: Sigma,
    /// Factor on the estimated level with `Sigma::Auto` (1 = as measured; > 1 removes more).
    pub strength: f32,
    /// Colorize: replace the colours of photos that already have some (otherwise skipped).
    pub recolor: bool,
    pub tile: TileSize,
    /// Context border per tile; `None` = the model's receptive radius.
    pub tile_pad: Option<usize>,
    /// Colorize: short side of the working copy (≥ 32).
    pub work_size: u32,
    /// Outputs carry no EXIF or XMP (`--strip-metadata`); otherwise the input's are passed on.
    pub strip_metadata: bool,
}

impl Default for RestoreSettings {
    /// σ auto, whole image, the model's radius as border, [`DEFAULT_WORK_SIZE`], metadata kept.
    fn default() -> Self {
        Self {
            sigma: Sigma::Auto,
            strength: 1.0,
            recolor: false,
            tile: TileSize::Whole,
            tile_pad: None,
            work_size: DEFAULT_WORK_SIZE,
            strip_metadata: false,
        }
    }
}

/// What a restored photo is assembled as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The samples `format` is written with ([`output_storage`]: 8 or 16 bits, gray, alpha).
    File(OutputFormat),
    /// f32 RGB as the model produced it, not quantised, without alpha (what `eval` scores).
    Float,
}

/// A model ready to restore photos.
pub struct Restorer {
    loaded: Loaded,
    device: Device,
    settings: RestoreSettings,
}

/// Facts about one restoration, for notes and the summary.
#[derive(Clone, Debug, Default)]
pub struct Details {
    /// Noise level used (denoise).
    pub sigma: Option<f32>,
    pub tiles: usize,
}

impl Restorer {
    /// A restorer running `loaded` on `device` with `settings`.
    pub fn new(loaded: Loaded, device: Device, settings: RestoreSettings) -> Self {
        Self {
            loaded,
            device,
            settings,
        }
    }

    /// Changes the denoise strength (eval measures several).
    pub fn set_sigma(&mut self, sigma: Sigma) {
        self.settings.sigma = sigma;
    }

    /// Where the weights came from (`bundled:denoise`, a path, `hf:…`).
    pub fn origin(&self) -> &str {
        &self.loaded.origin
    }

    fn net(&self) -> &Net {
        &self.loaded.net
    }

    /// Context border actually used.
    pub fn border(&self) -> usize {
        self.settings
            .tile_pad
            .unwrap_or_else(|| self.net().radius())
    }

    fn core_size(&self) -> Option<usize> {
        match self.settings.tile {
            TileSize::Whole => None,
            TileSize::Fixed(n) => Some(n),
            TileSize::Auto => Some(tiling::auto_tile(
                TILE_BUDGET_BYTES,
                self.bytes_per_pixel(),
                self.border(),
                self.net().align(),
            )),
        }
    }

    /// Rough peak working memory per input pixel of a forward pass (im2col buffer + activations).
    fn bytes_per_pixel(&self) -> usize {
        let s2 = self.net().scale().pow(2);
        4 * (24 * self.net().first_width() + 8 * 3 * s2)
    }

    /// Why `photo` should not be processed, if so: colorize leaves photos that are already in
    /// colour alone unless `--recolor`.
    pub fn skip_reason(&self, photo: &Photo) -> Option<String> {
        let colour = self.loaded.spec.task == Task::Colorize
            && !self.settings.recolor
            && !photo.meta.gray
            && is_already_colour(photo.width, photo.height, |y, out| photo.rgb_row(y, out));
        colour.then(|| "already in colour (--recolor replaces its colours)".to_string())
    }

    /// The noise level to denoise `photo` at (0–255 scale).
    fn sigma_for(&self, photo: &Photo) -> Result<f32> {
        let (w, h) = (photo.width, photo.height);
        let rows = |y, out: &mut Vec<f32>| photo.rgb_row(y, out);
        let level = match (self.settings.sigma, &self.loaded.estimator) {
            (Sigma::Fixed(s), _) => return Ok(s),
            (Sigma::Auto, Some(est)) => est.measure(w, h, rows, &self.device)?,
            (Sigma::Auto, None) => None,
        };
        let level = level.unwrap_or_else(|| crate::maths::noise::estimate_sigma(w, h, rows));
        Ok((level * self.settings.strength).clamp(0.0, MAX_SIGMA))
    }

    /// Restores a photo into a new one held as `target` says; `on_tile(done, total)` is called
    /// after each tile.
    pub fn restore(
        &self,
        photo: &Photo,
        target: Target,
        on_tile: &mut dyn FnMut(usize, usize),
    ) -> Result<(Photo, Details)> {
        let task = self.loaded.spec.task;
        let (w, h) = (photo.width, photo.height);
        let s = self.net().scale();
        let mut meta = photo.meta.clone();
        meta.gray &= task != Task::Colorize;
        if self.settings.strip_metadata {
            meta.metadata = Metadata::default();
        }
        let storage = match target {
            Target::File(format) => output_storage(&meta, photo.has_alpha(), format),
            Target::Float => Storage {
                layout: Layout::RGB,
                depth: Depth::F32,
            },
        };
        let mut out = Photo::new(w * s, h * s, storage, meta)?;
        let mut details = Details::default();
        match task {
            Task::Denoise => {
                let sigma = self.sigma_for(photo)?;
                details.sigma = Some(sigma);
                self.tiled(photo, &mut out, &mut details, on_tile, &|win| {
                    denoise_input(win, sigma)
                })?;
                out.copy_alpha(photo, 0);
            }
            Task::Upscale => {
                if out.has_alpha() {
                    upscale_alpha(photo, &mut out, s, ALPHA_BAND);
                }
                self.tiled(photo, &mut out, &mut details, on_tile, &|win| win.to_vec())?;
            }
            Task::Colorize => {
                let rgb = self.colorize(&photo.rgb_f32(), w, h)?;
                for (y, row) in rgb.chunks_exact(w * 3).enumerate() {
                    out.write_rgb(y, 0, row);
                }
                details.tiles = 1;
                on_tile(1, 1);
                out.copy_alpha(photo, 0);
            }
        }
        Ok((out, details))
    }

    /// Runs the net over tiles of `photo` into `out` (the net's scale × its size); `encode`
    /// turns an RGB window (f32 HWC) into model input.
    fn tiled(
        &self,
        photo: &Photo,
        out: &mut Photo,
        details: &mut Details,
        on_tile: &mut dyn FnMut(usize, usize),
        encode: &dyn Fn(&[f32]) -> Vec<f32>,
    ) -> Result<()> {
        let net = self.net();
        let (w, h) = (photo.width, photo.height);
        let tiles = tiling::plan(w, h, self.core_size(), self.border(), net.align());
        details.tiles = tiles.len();
        for (i, t) in tiles.iter().enumerate() {
            if crate::interrupt::requested() {
                bail!("interrupted");
            }
            let window = encode(&tiling::extract(photo, t));
            let y = self.forward(window, t)?;
            tiling::paste(out, t, &y, net.scale());
            on_tile(i + 1, tiles.len());
        }
        Ok(())
    }

    fn forward(&self, window: Vec<f32>, t: &Tile) -> Result<Vec<f32>> {
        let c = window.len() / (t.w * t.h);
        let x = Tensor::from_vec(window, (1, t.h, t.w, c), &self.device)?;
        let y = self.net().forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        finite(&y)?;
        Ok(y.into_iter().map(|v| v.clamp(0.0, 1.0)).collect())
    }

    /// Predicts ab at the working size (regression weights: ab directly; the classifier: class
    /// logits on a coarser grid, decoded by the annealed mean), upsamples it, and recombines it
    /// with the full-resolution L.
    fn colorize(&self, rgb: &[f32], w: usize, h: usize) -> Result<Vec<f32>> {
        let (l, _) = lab_planes(rgb);
        let align = self.net().align();
        let f = (self.settings.work_size as f64 / w.min(h) as f64).min(1.0);
        let round =
            |v: usize| (((v as f64 * f).round() as usize).div_ceil(align) * align).max(align);
        let (ww, wh) = (round(w), round(h));
        let small = resize_plane(&l, w, h, ww, wh);
        let x = Tensor::from_slice(&small, (1, wh, ww, 1), &self.device)?;
        let out = self.net().forward(&x)?;
        let (_, oh, ow, _) = out.dims4()?;
        let values = out.flatten_all()?.to_vec1::<f32>()?;
        finite(&values)?;
        let ab = match self.net() {
            Net::Colornet(_) => {
                // Decoded on the coarse grid, brought to the working size, then made to follow
                // the lightness's edges there (the classifier's regions are blocky otherwise).
                let ab = resize_ab(&ab_from_logits(&values), ow, oh, ww, wh);
                let ab = guided_filter(&small, &ab, ww, wh, COLOUR_GUIDE_RADIUS, COLOUR_GUIDE_EPS);
                resize_ab(&ab, ww, wh, w, h)
            }
            _ => resize_ab(&values, ow, oh, w, h),
        };
        Ok(lab_to_rgb_planes(&l, &ab))
    }
}

/// Window radius (working-size pixels) of the guided filter that makes the classifier's ab
/// follow the lightness's edges: a bottleneck cell of the colour network spans 16 working pixels.
const COLOUR_GUIDE_RADIUS: usize = 8;

/// Guided-filter regularisation, in (L / 100)² units: lightness edges with a standard deviation
/// well above √eps ≈ 0.03 (3 L) keep their colour edge; weaker ones are smoothed over.
const COLOUR_GUIDE_EPS: f32 = 1e-3;

/// Resizes interleaved ab (`w × h × 2`, ab / AB_SCALE in `[-1, 1]`) to `nw × nh` with
/// Catmull-Rom. `image`'s resize clamps f32 pixels to `[0, 1]`, so ab travels as `(ab + 1) / 2`.
fn resize_ab(ab: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let shifted = ab
        .iter()
        .map(|v| (v.clamp(-1.0, 1.0) + 1.0) * 0.5)
        .collect();
    let img: ImageBuffer<LumaA<f32>, Vec<f32>> =
        ImageBuffer::from_raw(w as u32, h as u32, shifted).expect("sized buffer");
    imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom)
        .into_raw()
        .into_iter()
        .map(|v| v * 2.0 - 1.0)
        .collect()
}

/// Refuses a model output holding NaN or infinity (weights with absurd values overflow), so a
/// damaged weights file never writes garbage pixels.
fn finite(values: &[f32]) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        bail!("the model produced non-finite values (damaged or absurd weights?); nothing written")
    }
}

/// Input rows per band when upscaling alpha (see [`upscale_alpha`]).
const ALPHA_BAND: usize = 128;

/// Context rows read on each side of a band: upscaling, the Catmull-Rom kernel reaches 2 input
/// rows either side of an output row's centre.
const ALPHA_CONTEXT: usize = 3;

/// Upscales `photo`'s alpha `s`× into `out`'s (Catmull-Rom, as [`resize_plane`]) `band` input
/// rows at a time, each read with [`ALPHA_CONTEXT`] rows of context, so only a band is ever
/// f32. For ×2 and ×4 the kernel positions relative to a band are exact in f32, so the result
/// is the same, bit for bit, as resizing the whole plane at once (tested).
fn upscale_alpha(photo: &Photo, out: &mut Photo, s: usize, band: usize) {
    let (w, h) = (photo.width, photo.height);
    for y0 in (0..h).step_by(band) {
        let y1 = (y0 + band).min(h);
        let rows = y0.saturating_sub(ALPHA_CONTEXT)..(y1 + ALPHA_CONTEXT).min(h);
        let Some(alpha) = photo.alpha_rows(rows.clone()) else {
            return;
        };
        let big = resize_plane(&alpha, w, rows.len(), w * s, rows.len() * s);
        let core = (y0 - rows.start) * s * w * s;
        out.write_alpha(y0 * s, &big[core..core + (y1 - y0) * s * w * s]);
    }
}

/// Resizes one plane (Catmull-Rom, antialiased when shrinking), clamped to `[0, 1]`.
fn resize_plane(p: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    if (w, h) == (nw, nh) {
        return p.to_vec();
    }
    let img: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(w as u32, h as u32, p.to_vec()).expect("sized buffer");
    imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom)
        .into_raw()
        .into_iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelSpec;
    use crate::testing::{max_diff, random_net, small_specs};

    /// A restorer around small random weights (every layer non-zero).
    fn random_restorer(spec: ModelSpec) -> Restorer {
        restorer(random_net(&spec, 0.05).0, spec)
    }

    /// A whole-image CPU restorer around `net` (σ 20, working size 64), prepared for inference
    /// as loaded weights are (Winograd).
    fn restorer(mut net: Net, spec: ModelSpec) -> Restorer {
        net.prepare_inference().unwrap();
        let loaded = Loaded {
            net,
            estimator: None,
            spec,
            provenance: serde_json::json!({}),
            origin: "test".into(),
        };
        let settings = RestoreSettings {
            sigma: Sigma::Fixed(20.0),
            tile: TileSize::Whole,
            work_size: 64,
            ..RestoreSettings::default()
        };
        Restorer::new(loaded, Device::Cpu, settings)
    }

    fn photo(w: usize, h: usize) -> Photo {
        let rgb = (0..w * h * 3)
            .map(|i| (i as f32 * 0.731).sin() * 0.5 + 0.5)
            .collect();
        Photo::from_rgb_f32(w, h, rgb, crate::testing::photo_meta())
    }

    /// Restores `p` into unquantised f32 RGB.
    fn restore_f32(r: &Restorer, p: &Photo) -> (Vec<f32>, Details) {
        let (out, d) = r.restore(p, Target::Float, &mut |_, _| {}).unwrap();
        (out.rgb_f32(), d)
    }

    #[test]
    fn tiled_equals_whole_image_for_every_architecture() {
        let specs = small_specs()
            .into_iter()
            .filter(|s| s.task != Task::Colorize);
        for spec in specs {
            let mut r = random_restorer(spec.clone());
            for (w, h) in [(37, 29), (50, 17)] {
                let p = photo(w, h);
                r.settings.tile = TileSize::Whole;
                let (whole, d) = restore_f32(&r, &p);
                assert_eq!(d.tiles, 1);
                for tile in [16, 24, 40] {
                    r.settings.tile = TileSize::Fixed(tile);
                    let (tiled, d) = restore_f32(&r, &p);
                    assert!(d.tiles > 1 || tile >= w.max(h));
                    let diff = max_diff(&whole, &tiled);
                    assert!(
                        diff < 1e-4,
                        "{} {w}x{h} tile {tile}: max diff {diff}",
                        spec.name()
                    );
                }
            }
        }
    }

    #[test]
    fn too_small_a_border_shows_seams() {
        // The test above could pass trivially if tiling did nothing; with no context border the
        // tiles must disagree with the whole-image pass.
        let mut r = random_restorer(small_specs()[0].clone());
        let p = photo(40, 40);
        let (whole, _) = restore_f32(&r, &p);
        r.settings.tile = TileSize::Fixed(16);
        r.settings.tile_pad = Some(0);
        let (tiled, _) = restore_f32(&r, &p);
        assert!(max_diff(&whole, &tiled) > 1e-3);
    }

    #[test]
    fn alpha_upscaled_in_bands_equals_the_whole_plane() {
        let storage = Storage {
            layout: Layout {
                gray: false,
                alpha: true,
            },
            depth: Depth::F32,
        };
        let (w, h) = (23, 41);
        let mut p = photo(w, h).converted(storage).unwrap();
        let alpha: Vec<f32> = (0..w * h).map(|i| (i as f32 * 0.377).sin().abs()).collect();
        p.write_alpha(0, &alpha);
        let alpha = p.alpha_rows(0..h).unwrap();
        for s in [2, 4] {
            let mut whole = Photo::new(w * s, h * s, storage, p.meta.clone()).unwrap();
            whole.write_alpha(0, &resize_plane(&alpha, w, h, w * s, h * s));
            for band in [1, 5, 8, 40, 64] {
                let mut out = Photo::new(w * s, h * s, storage, p.meta.clone()).unwrap();
                upscale_alpha(&p, &mut out, s, band);
                assert!(out == whole, "×{s}, bands of {band} rows");
            }
        }
    }

    #[test]
    fn outputs_have_the_task_geometry() {
        let mut up = random_restorer(small_specs()[2].clone());
        up.settings.tile = TileSize::Auto;
        // An 8-bit RGBA photo (alpha 128) upscaled for PNG: RGBA, alpha resized.
        let mut p = photo(9, 7)
            .converted(Storage {
                layout: Layout {
                    gray: false,
                    alpha: true,
                },
                depth: Depth::U8,
            })
            .unwrap();
        p.write_alpha(0, &[128.0 / 255.0; 63]);
        let (out, _) = up
            .restore(&p, Target::File(OutputFormat::Png), &mut |_, _| {})
            .unwrap();
        assert_eq!((out.width, out.height), (36, 28));
        assert_eq!(out.storage(), p.storage());
        let alpha = out.alpha_rows(0..out.height).unwrap();
        assert_eq!(alpha.len(), 36 * 28);
        assert!(alpha.iter().all(|&a| a == 128.0 / 255.0), "{alpha:?}");
        // JPEG has no alpha.
        let (out, _) = up
            .restore(&p, Target::File(OutputFormat::Jpeg), &mut |_, _| {})
            .unwrap();
        assert!(!out.has_alpha());

        // Colorize with a known prediction (tail zeroed, bias = one dominant ab class, centre
        // (10, -10)): the output keeps the input's lightness and carries exactly that colour.
        let spec = small_specs()[3].clone();
        let (net, vm) = random_net(&spec, 0.0);
        {
            let vars = vm.data().lock().unwrap();
            let w = &vars["tail.weight"];
            w.set(&w.as_tensor().zeros_like().unwrap()).unwrap();
            let bins = crate::maths::colour_bins::AbBins::shared();
            let mut bias = vec![0f32; bins.len()];
            bias[bins.nearest(10.0, -10.0) as usize] = 50.0;
            vars["tail.bias"]
                .set(&Tensor::new(bias, &Device::Cpu).unwrap())
                .unwrap();
        }
        let col = restorer(net, spec);
        let rgb = photo(70, 45)
            .rgb_f32()
            .chunks(3)
            .flat_map(|p| [0.35 + 0.3 * p[0]; 3])
            .collect();
        let mut grey = Photo::from_rgb_f32(70, 45, rgb, crate::testing::photo_meta());
        grey.meta.gray = true;
        let (out, _) = col
            .restore(&grey, Target::File(OutputFormat::Png), &mut |_, _| {})
            .unwrap();
        assert_eq!((out.width, out.height), (70, 45));
        assert!(!out.meta.gray && !out.storage().layout.gray);
        let (out, _) = col.restore(&grey, Target::Float, &mut |_, _| {}).unwrap();
        let (l_in, _) = lab_planes(&grey.rgb_f32());
        let (l_out, ab_out) = lab_planes(&out.rgb_f32());
        let mean_dl = l_in
            .iter()
            .zip(&l_out)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / l_in.len() as f32;
        assert!(mean_dl < 1e-3, "mean |ΔL|/100 = {mean_dl}");
        let want = 10.0 / crate::maths::color::AB_SCALE;
        for ab in ab_out.chunks(2) {
            assert!(
                (ab[0] - want).abs() < 2e-3 && (ab[1] + want).abs() < 2e-3,
                "{ab:?}"
            );
        }
    }
}
