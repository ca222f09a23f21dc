//! Applies a loaded model to one decoded photo: task-specific encoding, tiling, stitching.
//! The input stays in its storage type and the output is made in the storage it is written with
//! ([`Target`]), band by band of finished rows ([`Restorer::restore_bands`]): only one tile's
//! window and output are ever f32, and only a band of the output is held at a time — the
//! caller streams the bands into the encoder. Colorize (`colorize.rs`) is not tiled but works
//! at full size in bands of rows too.

use crate::maths::colour_metrics::is_already_colour;
use crate::maths::resample::Resize;
use crate::models::planes::{denoise_input, MAX_SIGMA};
use crate::models::{Net, Task};
use crate::photo::{
    output_storage, Band, Depth, Header, Input, Layout, Metadata, OutputFormat, Photo, Storage,
    Window,
};
use crate::pipeline::colorize::{self, COLOUR_BAND_ROWS};
use crate::pipeline::tiling::{self, Tile};
use crate::weights::{Companions, Loaded};
use anyhow::{bail, Result};
use candle_core::{Device, Module, Tensor};
use std::ops::Range;

/// How the denoiser's strength is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sigma {
    /// Estimated per image by the weights' learned noise-level estimator (read from the flattest
    /// of a grid of crops, `NoiseEstimator::measure`; it sees camera noise and JPEG artefacts),
    /// times the JPEG file's boost (`jpeg_boost.rs`: more for coarser quantisation tables) and
    /// [`RestoreSettings::strength`].
    /// Weights without an estimator use the median absolute deviation of the finest diagonal
    /// wavelet band (blind to JPEG, whose quantisation empties that band).
    Auto,
    /// Fixed noise level on the 0–255 scale.
    Fixed(f32),
}

/// How big images are split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TileSize {
    /// Cores [`tiling::CORE_PER_BORDER`] context borders wide, within [`TILE_BUDGET_BYTES`] of
    /// working memory, a photo cut into equal tiles ([`tiling::auto_tile`], [`tiling::balanced`]).
    Auto,
    /// Core size in input pixels.
    Fixed(usize),
    /// One tile for the whole image.
    Whole,
}

/// Working-memory budget for one tile with `--tile auto`.
pub const TILE_BUDGET_BYTES: usize = 1 << 30;

/// Largest band of output samples a row of tiles makes with `--tile auto` (two bands exist at a
/// time: one being written, the next waiting). Where a row of the budget's square tiles would
/// make more, the tiles are made shorter: only for very wide outputs, e.g. `upscale -x4` of a
/// photo over ~7,000 pixels wide (RGB8).
pub const BAND_BUDGET_BYTES: usize = 128 << 20;

/// Mirrored context beyond a photo's own edges, in input pixels (rounded up to the net's
/// alignment; at most the tile border). Seams between tiles get the net's whole receptive
/// radius, so tiles join exactly; at the photo's edges any context is made up (a mirror image),
/// and the nets were trained on crops zero-padded at every conv, so they need little of it. A
/// radius-wide mirror there made the 4-level denoiser work on a 648×488 window for a 481×321
/// photo (2×); with 8 px every `aetool eval` figure of the model card is unchanged to 0.01 dB
/// (polyu100 37.68 → 37.67) and `--variant gaussian --sigma 25` on CBSD68 moves by −0.0004 dB
/// (the 8-pixel band along the edges by −0.006 dB) for 1.3× less time end to end.
pub const EDGE_CONTEXT: usize = 8;

/// Default short side of colorize's working copy (`--work-size`): the scale the colorizer is
/// trained at. Its training crops cover 60–100 % of a photo's short side at 128 px, so it sees
/// short sides of 128–213 px; 160 is the middle (128 / 0.8). (It was 256 before 0.2's last
/// change: objects twice the trained size; 160 gave the same PSNR and higher colour
/// correctness on CBSD68, LIVE1 and ImageNet dogs, in 40 % of the compute.)
pub const DEFAULT_WORK_SIZE: u32 = 160;

/// How to restore, validated from the flags by `app/config.rs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestoreSettings {
    /// Denoise strength.
    pub sigma: Sigma,
    /// Factor on the estimated level with `Sigma::Auto` (1 = as measured; > 1 removes more).
    pub strength: f32,
    /// Colorize: replace the colours of photos that already have some (otherwise skipped).
    pub recolor: bool,
    /// Colorize: factor on the predicted ab (1 = as predicted; 0.1–3).
    pub saturation: f32,
    pub tile: TileSize,
    /// Context border per tile; `None` = the model's receptive radius.
    pub tile_pad: Option<usize>,
    /// Colorize: short side of the working copy (≥ 32).
    pub work_size: u32,
    /// Outputs carry no EXIF or XMP (`--strip-metadata`); otherwise the input's are passed on.
    pub strip_metadata: bool,
    /// Most rows per band of output handed on at a time; `None`: a row of tiles (colorize:
    /// [`COLOUR_BAND_ROWS`]). Set by the hidden `--band-rows`, which tests use to write outputs
    /// in many small bands; it changes no pixel.
    pub band_rows: Option<usize>,
}

impl Default for RestoreSettings {
    /// σ auto, whole image, the model's radius as border, [`DEFAULT_WORK_SIZE`], metadata kept,
    /// bands of a tile row.
    fn default() -> Self {
        Self {
            sigma: Sigma::Auto,
            strength: 1.0,
            recolor: false,
            saturation: 1.0,
            tile: TileSize::Whole,
            tile_pad: None,
            work_size: DEFAULT_WORK_SIZE,
            strip_metadata: false,
            band_rows: None,
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
    /// Denoise: the nets that JPEGs of low quality ([`jpeg_boost::wants_jpeg_net`]) and, told
    /// the level, photos that are not JPEGs go to instead (the bundled default's JPEG-artefact
    /// and Gaussian-noise nets beside its camera-noise net).
    companions: Companions,
    device: Device,
    settings: RestoreSettings,
}

/// Facts about one restoration, for notes and the summary.
#[derive(Clone, Debug, Default)]
pub struct Details {
    /// Noise level used (denoise).
    pub sigma: Option<f32>,
    /// A JPEG's quality and the factor it raised the blind level by, when it did.
    pub jpeg_boost: Option<(u8, f32)>,
    /// The JPEG's quality when it sent the photo to the JPEG-artefact net.
    pub jpeg_net: Option<u8>,
    /// Whether the level was told and sent the photo (not a JPEG) to the Gaussian-noise net.
    pub gaussian_net: bool,
    pub tiles: usize,
}

impl Details {
    /// Denoise: what the level was and why, for the per-photo note (`None` for other tasks):
    /// `σ 12.3 (JPEG quality 10: the JPEG model, its estimate × 2.70)`.
    pub fn describe_level(&self) -> Option<String> {
        let sigma = self.sigma?;
        if self.gaussian_net {
            return Some(format!("σ {sigma:.1} (told: the Gaussian-noise model)"));
        }
        let why = match (self.jpeg_net, self.jpeg_boost) {
            (Some(q), Some((_, f))) => {
                format!(" (JPEG quality {q}: the JPEG model, its estimate × {f:.2})")
            }
            (Some(q), None) => format!(" (JPEG quality {q}: the JPEG model)"),
            (None, Some((q, f))) => format!(" (JPEG quality {q}: the estimate × {f:.2})"),
            (None, None) => String::new(),
        };
        Some(format!("σ {sigma:.1}{why}"))
    }
}

impl Restorer {
    /// A restorer running `loaded` on `device` with `settings`.
    pub fn new(loaded: Loaded, device: Device, settings: RestoreSettings) -> Self {
        Self {
            loaded,
            companions: Companions::default(),
            device,
            settings,
        }
    }

    /// The same restorer, handing photos to its `companions` as they say (denoise; see
    /// [`crate::weights::load_companions`], which checks that they have this one's architecture).
    pub fn with_companions(self, companions: Companions) -> Self {
        Self { companions, ..self }
    }

    /// The JPEG net, if a photo whose JPEG tables say `quality` (`None`: not a JPEG) goes to it.
    fn jpeg_net_for(&self, quality: Option<u8>) -> Option<&Loaded> {
        self.companions
            .jpeg
            .as_ref()
            .filter(|_| super::jpeg_boost::wants_jpeg_net(quality))
    }

    /// The Gaussian-noise net, if a photo whose JPEG tables say `quality` goes to it: one that
    /// is not a JPEG, told the level — synthetic white noise, the published protocol, lives in
    /// lossless files, while the camera-noise net serves real photos (blind, or JPEGs told).
    fn gaussian_net_for(&self, quality: Option<u8>) -> Option<&Loaded> {
        self.companions
            .gaussian
            .as_ref()
            .filter(|_| quality.is_none() && matches!(self.settings.sigma, Sigma::Fixed(_)))
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

    /// Tile core size, width × height in input pixels (`None`: the whole image), for the
    /// output `out`.
    fn core_size(&self, out: &Header) -> Option<(usize, usize)> {
        match self.settings.tile {
            TileSize::Whole => None,
            TileSize::Fixed(n) => Some((n, n)),
            TileSize::Auto => {
                let net = self.net();
                let s = net.scale();
                let side = tiling::auto_tile(
                    TILE_BUDGET_BYTES,
                    self.bytes_per_pixel(),
                    self.border(),
                    net.align(),
                );
                let row_bytes = out.width * out.storage.bytes_per_pixel();
                let rows = BAND_BUDGET_BYTES / row_bytes.max(1) / s;
                let (w, h) = (out.width / s, out.height / s);
                Some((
                    tiling::balanced(w, side, net.align()),
                    tiling::balanced(h, side.min(rows.max(1)), net.align()),
                ))
            }
        }
    }

    /// Peak working memory per window pixel of a forward pass, in bytes: about six activations
    /// of the first level's width alive at once, and the output (measured: the 4-level denoiser
    /// on 1160² windows of a 12 MP photo peaks ~470 bytes per window pixel above the photo).
    fn bytes_per_pixel(&self) -> usize {
        let s2 = self.net().scale().pow(2);
        4 * (6 * self.net().first_width() + 8 * 3 * s2)
    }

    /// Why `input` should not be processed, if so: colorize leaves photos that are already in
    /// colour alone unless `--recolor`. Fails if a streamed input cannot be read.
    pub fn skip_reason(&self, input: &mut Input) -> Result<Option<String>> {
        if self.loaded.spec.task != Task::Colorize || self.settings.recolor || input.meta().gray {
            return Ok(None);
        }
        let (w, h) = (input.width(), input.height());
        let colour = input.with_rows(|rows| is_already_colour(w, h, rows))?;
        Ok(colour.then(|| "already in colour (--recolor replaces its colours)".to_string()))
    }

    /// The noise level `model` denoises `input` at (0–255 scale), and the JPEG quality and
    /// factor that raised it, if one did.
    fn sigma_for(&self, model: &Loaded, input: &mut Input) -> Result<(f32, Option<(u8, f32)>)> {
        let (w, h) = (input.width(), input.height());
        let level = match (self.settings.sigma, &model.estimator) {
            (Sigma::Fixed(s), _) => return Ok((s, None)),
            (Sigma::Auto, Some(est)) => {
                input.with_rows(|rows| est.measure(w, h, rows, &self.device))??
            }
            (Sigma::Auto, None) => None,
        };
        let level = match level {
            Some(level) => level,
            None => input.with_rows(|rows| crate::maths::noise::estimate_sigma(w, h, rows))?,
        };
        let quality = input.meta().jpeg_quality;
        let boost = super::jpeg_boost::factor(quality);
        let level = (level * boost * self.settings.strength).clamp(0.0, MAX_SIGMA);
        Ok((level, quality.filter(|_| boost != 1.0).map(|q| (q, boost))))
    }

    /// What restoring `input` makes, before any pixel: the net's scale × its size, held as
    /// `target` says, with the photo's metadata (colorize: no longer gray; with
    /// `--strip-metadata`: no EXIF or XMP).
    pub fn output(&self, input: &Input, target: Target) -> Header {
        let task = self.loaded.spec.task;
        let s = self.net().scale();
        let mut meta = input.meta().clone();
        meta.gray &= task != Task::Colorize;
        if self.settings.strip_metadata {
            meta.metadata = Metadata::default();
        }
        let storage = match target {
            Target::File(format) => output_storage(&meta, input.has_alpha(), format),
            Target::Float => Storage {
                layout: Layout::RGB,
                depth: Depth::F32,
            },
        };
        Header {
            width: input.width() * s,
            height: input.height() * s,
            storage,
            meta,
        }
    }

    /// Restores a photo into a new one held as `target` says, whole (`eval`, tests; the
    /// pipeline streams [`Restorer::restore_bands`] into the encoder instead); `on_tile(done,
    /// total)` is called after each tile.
    pub fn restore(
        &self,
        photo: &Photo,
        target: Target,
        on_tile: &mut dyn FnMut(usize, usize),
    ) -> Result<(Photo, Details)> {
        let mut input = Input::from(photo);
        let header = self.output(&input, target);
        let mut out = header.blank()?;
        let mut put = |band: Band| out.copy_rows(band.y0, &band.rows, 0, band.rows.height);
        let details = self.restore_bands(&mut input, &header, &mut put, on_tile)?;
        Ok((out, details))
    }

    /// Restores `input` into the photo `out` describes ([`Restorer::output`]), handing its rows
    /// to `sink` top to bottom as they are finished: a band per row of tiles (denoise, upscale)
    /// or per [`COLOUR_BAND_ROWS`] rows (colorize), cut to at most
    /// [`RestoreSettings::band_rows`]. Besides the input (a streamed one: the window of rows a
    /// row of tiles or a band reads) only a band and one tile's working set are held.
    /// `on_tile(done, total)` is called after each tile. An error of the sink stops the
    /// restoration and is returned as it is; so does a streamed input that cannot be read.
    pub fn restore_bands(
        &self,
        input: &mut Input,
        out: &Header,
        sink: &mut dyn FnMut(Band) -> Result<()>,
        on_tile: &mut dyn FnMut(usize, usize),
    ) -> Result<Details> {
        let mut details = Details::default();
        let mut hand_on = |band: Band| match self.settings.band_rows {
            Some(rows) => band.split(rows)?.into_iter().try_for_each(&mut *sink),
            None => sink(band),
        };
        match self.loaded.spec.task {
            Task::Denoise => {
                let quality = input.meta().jpeg_quality;
                let jpeg_net = self.jpeg_net_for(quality);
                let gaussian_net = self.gaussian_net_for(quality);
                let model = jpeg_net.or(gaussian_net).unwrap_or(&self.loaded);
                let (sigma, jpeg_boost) = self.sigma_for(model, input)?;
                details.sigma = Some(sigma);
                details.jpeg_boost = jpeg_boost;
                details.jpeg_net = quality.filter(|_| jpeg_net.is_some());
                details.gaussian_net = gaussian_net.is_some();
                let encode = |win: &[f32]| denoise_input(win, sigma);
                let mut done = |mut band: Band, win: &Window| {
                    win.copy_alpha_to(&mut band);
                    hand_on(band)
                };
                details.tiles = self.tiled(&model.net, input, out, on_tile, &encode, &mut done)?;
            }
            Task::Upscale => {
                let s = self.net().scale();
                let encode = |win: &[f32]| win.to_vec();
                let mut done = |mut band: Band, win: &Window| {
                    upscale_alpha(win, &mut band, s);
                    hand_on(band)
                };
                details.tiles = self.tiled(self.net(), input, out, on_tile, &encode, &mut done)?;
            }
            Task::Colorize => {
                let colour = colorize::predict(self.net(), &self.device, &self.settings, input)?;
                let rows = self.settings.band_rows.unwrap_or(COLOUR_BAND_ROWS).max(1);
                for y0 in (0..out.height).step_by(rows) {
                    if crate::interrupt::requested() {
                        bail!("interrupted");
                    }
                    let mut band = out.band(y0, rows.min(out.height - y0))?;
                    let win = input.window(y0..y0 + band.rows.height)?;
                    colour.paint(&win, &mut band);
                    win.copy_alpha_to(&mut band);
                    hand_on(band)?;
                }
                details.tiles = 1;
                on_tile(1, 1);
            }
        }
        Ok(details)
    }

    /// Runs `net` (the restorer's own or a companion: the same architecture) over tiles of
    /// `input` into bands of the photo `out` describes (the net's scale × its size), one band
    /// per row of tiles, each handed to `done` with the window of input rows it was made from
    /// once its tiles are in; `encode` turns an RGB window (f32 HWC) into model input. Returns
    /// the number of tiles.
    fn tiled(
        &self,
        net: &Net,
        input: &mut Input,
        out: &Header,
        on_tile: &mut dyn FnMut(usize, usize),
        encode: &dyn Fn(&[f32]) -> Vec<f32>,
        done: &mut dyn FnMut(Band, &Window) -> Result<()>,
    ) -> Result<usize> {
        let s = net.scale();
        let (w, h) = (input.width(), input.height());
        let (tile, border) = (self.core_size(out), self.border());
        let tiles = tiling::plan(w, h, tile, border, EDGE_CONTEXT, net.align());
        let mut finished = 0;
        for row in tiles.chunk_by(|a, b| a.core_y == b.core_y) {
            let mut band = out.band(row[0].core_y * s, row[0].core_h * s)?;
            // The rows the tiles read, and those the band's alpha is resized from.
            let alpha = input
                .has_alpha()
                .then(|| alpha_source_rows(w, h, s, band.y0..band.y0 + band.rows.height));
            let rows = row
                .iter()
                .map(|t| tiling::window_rows(t, h))
                .chain(alpha)
                .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
                .expect("a row of tiles has tiles");
            let win = input.window(rows)?;
            for t in row {
                if crate::interrupt::requested() {
                    bail!("interrupted");
                }
                let x = encode(&tiling::extract(&win, t));
                let y = self.forward(net, x, t)?;
                tiling::paste(&mut band, t, &y, s);
                finished += 1;
                on_tile(finished, tiles.len());
            }
            done(band, &win)?;
        }
        Ok(tiles.len())
    }

    fn forward(&self, net: &Net, window: Vec<f32>, t: &Tile) -> Result<Vec<f32>> {
        let c = window.len() / (t.w * t.h);
        let x = Tensor::from_vec(window, (1, t.h, t.w, c), &self.device)?;
        let y = net.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        finite(&y)?;
        Ok(y.into_iter().map(|v| v.clamp(0.0, 1.0)).collect())
    }
}

/// Refuses a model output holding NaN or infinity (weights with absurd values overflow), so a
/// damaged weights file never writes garbage pixels.
pub(super) fn finite(values: &[f32]) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        bail!("the model produced non-finite values (damaged or absurd weights?); nothing written")
    }
}

/// Upscales the photo's alpha `s`× (Catmull-Rom, as `image` resizes) into the rows of `band`,
/// if the band has alpha, from `win`, which holds [`alpha_source_rows`] of the band: each
/// output row reads only the input rows of its taps (4), so no alpha plane is held whole (it
/// would be 4 bytes per output pixel).
fn upscale_alpha(win: &Window, band: &mut Band, s: usize) {
    if !band.rows.has_alpha() {
        return;
    }
    let (w, h, y0) = (win.width(), win.height, band.y0);
    Resize::new(w, h, w * s, h * s, 1).rows(
        y0..y0 + band.rows.height,
        |i, row| row.extend(win.alpha_rows(i..i + 1).into_iter().flatten()),
        |y, alpha| band.rows.write_alpha(y - y0, alpha),
    );
}

/// The input rows (of a `w × h` photo) that output rows `out_rows` of its `s`× resize are made
/// from: the taps of their first and last rows (for `s` = 1, the rows themselves).
fn alpha_source_rows(w: usize, h: usize, s: usize, out_rows: Range<usize>) -> Range<usize> {
    let resize = Resize::new(w, h, w * s, h * s, 1);
    resize.source_rows(out_rows.start).start..resize.source_rows(out_rows.end - 1).end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maths::resample::resize;
    use crate::models::planes::lab_planes;
    use crate::models::ModelKind;
    use crate::models::ModelSpec;
    use crate::testing::{max_diff, random_net, small_spec, small_specs};

    /// A restorer around small random weights (every layer non-zero).
    fn random_restorer(spec: ModelSpec) -> Restorer {
        restorer(random_net(&spec, 0.05).0, spec)
    }

    /// `net` as loaded weights, prepared for inference as those are (Winograd).
    fn loaded(mut net: Net, spec: ModelSpec) -> Loaded {
        net.prepare_inference().unwrap();
        Loaded {
            net,
            estimator: None,
            spec,
            provenance: serde_json::json!({}),
            origin: "test".into(),
        }
    }

    /// A whole-image CPU restorer around `net` (σ 20, working size 64).
    fn restorer(net: Net, spec: ModelSpec) -> Restorer {
        let loaded = loaded(net, spec);
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
    fn low_quality_jpegs_go_to_the_jpeg_net_other_files_told_to_the_gaussian_one_the_rest_to_main()
    {
        let spec = small_spec(ModelKind::Denoise);
        // Three nets of the same random weights each: one routed, one alone.
        let nets = [0, 1, 2].map(|_| random_net(&spec, 0.05));
        let mut alone: Vec<Restorer> = nets
            .iter()
            .map(|(_, vars)| {
                let vb =
                    candle_nn::VarBuilder::from_varmap(vars, candle_core::DType::F32, &Device::Cpu);
                restorer(Net::new(vb, &spec).unwrap(), spec.clone())
            })
            .collect();
        let [(main, _), (jpeg, _), (gaussian, _)] = nets;
        let mut routed = restorer(main, spec.clone()).with_companions(Companions {
            jpeg: Some(loaded(jpeg, spec.clone())),
            gaussian: Some(loaded(gaussian, spec.clone())),
        });
        // (JPEG quality, told the level) → the net (0 main, 1 JPEG, 2 Gaussian).
        let cases = [
            (Some(30), true, 1),
            (Some(30), false, 1),
            (Some(90), true, 0),
            (None, true, 2),
            (Some(90), false, 0),
            (None, false, 0),
        ];
        for (quality, told, net) in cases {
            routed.set_sigma(if told {
                Sigma::Fixed(20.0)
            } else {
                Sigma::Auto
            });
            let mut p = photo(24, 16);
            p.meta.jpeg_quality = quality;
            let (out, details) = restore_f32(&routed, &p);
            // Each net alone, told the level the routed restorer used.
            for (i, r) in alone.iter_mut().enumerate() {
                r.set_sigma(Sigma::Fixed(details.sigma.unwrap()));
                let same = out == restore_f32(r, &p).0;
                assert_eq!(same, i == net, "{quality:?} told {told}: net {i}");
            }
            assert_eq!(details.jpeg_net, quality.filter(|_| net == 1));
            assert_eq!(details.gaussian_net, net == 2);
        }
    }

    #[test]
    fn the_level_note_says_which_net_and_why() {
        let d = |jpeg_net, jpeg_boost| Details {
            sigma: Some(12.34),
            jpeg_boost,
            jpeg_net,
            gaussian_net: false,
            tiles: 1,
        };
        assert_eq!(d(None, None).describe_level().unwrap(), "σ 12.3");
        assert_eq!(
            d(Some(10), Some((10, 2.7))).describe_level().unwrap(),
            "σ 12.3 (JPEG quality 10: the JPEG model, its estimate × 2.70)"
        );
        assert_eq!(
            d(Some(10), None).describe_level().unwrap(),
            "σ 12.3 (JPEG quality 10: the JPEG model)"
        );
        assert_eq!(
            d(None, Some((40, 1.25))).describe_level().unwrap(),
            "σ 12.3 (JPEG quality 40: the estimate × 1.25)"
        );
        let told = Details {
            gaussian_net: true,
            ..d(None, None)
        };
        assert_eq!(
            told.describe_level().unwrap(),
            "σ 12.3 (told: the Gaussian-noise model)"
        );
        assert_eq!(Details::default().describe_level(), None);
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
    fn auto_tiles_are_shorter_where_a_row_of_them_would_exceed_the_band_budget() {
        let mut r = random_restorer(small_specs()[2].clone());
        r.settings.tile = TileSize::Auto;
        let out = |width, height| Header {
            width,
            height,
            storage: Storage {
                layout: Layout::RGB,
                depth: Depth::U8,
            },
            meta: crate::testing::photo_meta(),
        };
        let (w, h) = r.core_size(&out(4000, 4000)).unwrap();
        assert_eq!(w, h, "square tiles for a square, narrow output");
        let (w2, h2) = r.core_size(&out(400_000, 4000)).unwrap();
        assert!(
            h2 < w2 && h2 * 4 * 400_000 * 3 <= BAND_BUDGET_BYTES,
            "{w2}x{h2}"
        );
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
            let header = Header {
                width: w * s,
                height: h * s,
                storage,
                meta: p.meta.clone(),
            };
            let mut whole = header.blank().unwrap();
            whole.write_alpha(0, &resize(&alpha, w, h, 1, w * s, h * s));
            for rows in [1, 5, 8, 40, h * s] {
                let mut out = header.blank().unwrap();
                for y0 in (0..h * s).step_by(rows) {
                    let mut band = header.band(y0, rows.min(h * s - y0)).unwrap();
                    upscale_alpha(&Input::from(&p).window(0..h).unwrap(), &mut band, s);
                    out.copy_rows(y0, &band.rows, 0, band.rows.height).unwrap();
                }
                assert!(out == whole, "×{s}, bands of {rows} rows");
            }
        }
    }

    /// Restores `p` into f32 RGB through the bands, checking that they come in order, whole
    /// rows at a time, at most `band_rows` tall.
    fn restore_banded(r: &Restorer, p: &Photo) -> (Vec<f32>, usize) {
        let mut input = Input::from(p);
        let header = r.output(&input, Target::Float);
        let mut out = header.blank().unwrap();
        let (mut next, mut bands) = (0, 0);
        let mut sink = |band: Band| {
            assert_eq!(band.y0, next);
            assert!(band.rows.height <= r.settings.band_rows.unwrap_or(usize::MAX));
            next += band.rows.height;
            bands += 1;
            out.copy_rows(band.y0, &band.rows, 0, band.rows.height)
        };
        r.restore_bands(&mut input, &header, &mut sink, &mut |_, _| {})
            .unwrap();
        assert_eq!(next, header.height);
        (out.rgb_f32(), bands)
    }

    #[test]
    fn bands_of_any_height_change_no_pixel() {
        for spec in small_specs() {
            let mut r = random_restorer(spec.clone());
            r.settings.tile = TileSize::Fixed(16);
            let p = photo(37, 29);
            let (whole, _) = restore_f32(&r, &p);
            for rows in [1, 7, 1000] {
                r.settings.band_rows = Some(rows);
                let (banded, bands) = restore_banded(&r, &p);
                assert!(banded == whole, "{} in bands of {rows} rows", spec.name());
                let height = p.height * r.net().scale();
                assert!(bands >= height.div_ceil(rows), "{bands} bands");
            }
        }
    }

    #[test]
    fn streamed_inputs_restore_to_the_same_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage {
            layout: Layout {
                gray: false,
                alpha: true,
            },
            depth: Depth::U16,
        };
        let mut p = photo(37, 29).converted(storage).unwrap();
        p.write_alpha(
            0,
            &(0..37 * 29)
                .map(|i| (i % 9) as f32 / 8.0)
                .collect::<Vec<_>>(),
        );
        p.meta.sixteen_bit = true;
        let path = dir.path().join("in.png");
        crate::photo::save(&path, &p, OutputFormat::Png, &Default::default()).unwrap();
        let p = crate::photo::load(&path, &Default::default()).unwrap();
        let stream_all = crate::photo::Limits {
            stream_above: 0,
            ..Default::default()
        };
        for spec in small_specs() {
            let mut r = random_restorer(spec.clone());
            r.settings.tile = TileSize::Fixed(16);
            r.settings.recolor = true;
            for target in [Target::Float, Target::File(OutputFormat::Png)] {
                let (whole, _) = r.restore(&p, target, &mut |_, _| {}).unwrap();
                let mut input = crate::photo::open(&path, &stream_all).unwrap();
                assert!(input.is_streamed());
                let header = r.output(&input, target);
                let mut out = header.blank().unwrap();
                let mut put = |b: Band| out.copy_rows(b.y0, &b.rows, 0, b.rows.height);
                r.restore_bands(&mut input, &header, &mut put, &mut |_, _| {})
                    .unwrap();
                assert!(out == whole, "{} {target:?}", spec.name());
            }
        }
    }

    /// The colorize path as it was before it ran in bands (whole f32 planes at full size, the
    /// `image` crate's resize), to check the bands against.
    fn colorize_whole(r: &Restorer, p: &Photo) -> Vec<f32> {
        use crate::maths::guided::guided_filter;
        use crate::models::planes::{ab_from_logits, lab_to_rgb_planes};
        use image::imageops::{self, FilterType};
        use image::{ImageBuffer, Luma, LumaA};
        fn resize_ab(ab: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
            let shifted = ab
                .iter()
                .map(|v| (v.clamp(-1.0, 1.0) + 1.0) * 0.5)
                .collect();
            let img: ImageBuffer<LumaA<f32>, Vec<f32>> =
                ImageBuffer::from_raw(w as u32, h as u32, shifted).unwrap();
            imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom)
                .into_raw()
                .into_iter()
                .map(|v| v * 2.0 - 1.0)
                .collect()
        }
        fn resize_plane(p: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
            if (w, h) == (nw, nh) {
                return p.to_vec();
            }
            let img: ImageBuffer<Luma<f32>, Vec<f32>> =
                ImageBuffer::from_raw(w as u32, h as u32, p.to_vec()).unwrap();
            imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom)
                .into_raw()
                .into_iter()
                .map(|v| v.clamp(0.0, 1.0))
                .collect()
        }
        let (w, h) = (p.width, p.height);
        let (l, _) = lab_planes(&p.rgb_f32());
        let align = r.net().align();
        let f = (r.settings.work_size as f64 / w.min(h) as f64).min(1.0);
        let round =
            |v: usize| (((v as f64 * f).round() as usize).div_ceil(align) * align).max(align);
        let (ww, wh) = (round(w), round(h));
        let small = resize_plane(&l, w, h, ww, wh);
        let x = Tensor::from_slice(&small, (1, wh, ww, 1), &Device::Cpu).unwrap();
        let out = r.net().forward(&x).unwrap();
        let (_, oh, ow, _) = out.dims4().unwrap();
        let values = out.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let ab = match r.net() {
            Net::Colornet(_) => {
                let ab = resize_ab(&ab_from_logits(&values), ow, oh, ww, wh);
                let ab = guided_filter(&small, &ab, ww, wh, 8, 1e-3);
                resize_ab(&ab, ww, wh, w, h)
            }
            _ => resize_ab(&values, ow, oh, w, h),
        };
        lab_to_rgb_planes(&l, &ab)
    }

    #[test]
    fn colorize_in_bands_equals_the_whole_image_path() {
        let spec = small_spec(ModelKind::Colorize);
        let mut r = random_restorer(spec);
        // Shrunk to the working size; kept but aligned (the short side under it); kept as it is.
        for (w, h, work) in [(70, 45, 32), (37, 29, 64), (40, 32, 64)] {
            r.settings.work_size = work;
            let p = photo(w, h);
            let want = colorize_whole(&r, &p);
            for rows in [None, Some(1), Some(7)] {
                r.settings.band_rows = rows;
                let (got, _) = restore_f32(&r, &p);
                assert!(got == want, "{w}×{h} work {work}, bands {rows:?}");
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
        // (10, -10)): the output keeps the input's lightness and carries exactly that colour,
        // scaled by `--saturation`.
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
        let mut col = restorer(net, spec);
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
        for saturation in [1.0, 0.5, 2.0] {
            col.settings.saturation = saturation;
            let (out, _) = col.restore(&grey, Target::Float, &mut |_, _| {}).unwrap();
            let (l_in, _) = lab_planes(&grey.rgb_f32());
            let (l_out, ab_out) = lab_planes(&out.rgb_f32());
            let mean_dl = l_in
                .iter()
                .zip(&l_out)
                .map(|(a, b)| (a - b).abs())
                .sum::<f32>()
                / l_in.len() as f32;
            assert!(mean_dl < 1e-3, "×{saturation}: mean |ΔL|/100 = {mean_dl}");
            let want = 10.0 * saturation / crate::maths::color::AB_SCALE;
            for ab in ab_out.chunks(2) {
                assert!(
                    (ab[0] - want).abs() < 2e-3 && (ab[1] + want).abs() < 2e-3,
                    "×{saturation}: {ab:?}"
                );
            }
        }
    }
}
