//! Tile planning and stitching, pure and model-agnostic.
//!
//! The image is conceptually extended to infinity by mirror reflection ([`mirror`]); every
//! tile reads a window of that extended image: its core (the pixels it is responsible for) plus
//! a context border on each side. Window origins are multiples of the model's alignment
//! (relative to the extended image's origin at `-border`), so a tile computes exactly what a
//! whole-image pass computes for its core, provided the border covers the model's receptive
//! radius. The whole-image pass is simply the plan with one tile. Windows are read from, and
//! cores written to, photos in their storage type: only a tile is ever f32. The input is read
//! through a [`Window`] of its rows ([`window_rows`] says which a tile needs), so a streamed
//! input need only hold those of one row of tiles.

use crate::photo::{Band, Window};
use std::ops::Range;

/// Mirror-reflects coordinate `i` into `0..n` without repeating the edge pixel
/// (`… 2 1 | 0 1 2 … n-1 | n-2 …`), periodically, so any offset is valid.
pub fn mirror(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    if m < n as isize {
        m as usize
    } else {
        (period - m) as usize
    }
}

fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// One tile, in input-pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Window origin (may be negative: mirrored) and size; sizes are multiples of the alignment.
    pub x: isize,
    pub y: isize,
    pub w: usize,
    pub h: usize,
    /// Core: the image region this tile's output is kept for.
    pub core_x: usize,
    pub core_y: usize,
    pub core_w: usize,
    pub core_h: usize,
}

impl Tile {
    /// Offset of the core inside the window.
    pub fn border(&self) -> (usize, usize) {
        (
            (self.core_x as isize - self.x) as usize,
            (self.core_y as isize - self.y) as usize,
        )
    }
}

/// Plans tiles covering a `width`×`height` image, row of tiles by row of tiles. `tile` is the
/// core size, width × height (None: one tile for the whole image), `border` the context on each
/// side of a seam between tiles (the model's receptive radius, so tiles join exactly), `edge`
/// the mirrored context beyond the image's own edges (at most `border`), `align` the
/// size/offset multiple the model needs. Border, edge and tile are rounded up to multiples of
/// `align`. Every window starts at a multiple of `align` from `-edge` and stays inside the
/// one-tile plan's window, so a tile's core is what the whole-image pass computes there.
pub fn plan(
    width: usize,
    height: usize,
    tile: Option<(usize, usize)>,
    border: usize,
    edge: usize,
    align: usize,
) -> Vec<Tile> {
    let border = align_up(border, align);
    let edge = align_up(edge.min(border), align);
    let (tile_w, tile_h) = tile.unwrap_or((width, height));
    let core_w = align_up(tile_w.max(1), align);
    let core_h = align_up(tile_h.max(1), align);
    // Context before and after a core starting at `c` of size `n` in a line of `len` pixels: the
    // border, but never beyond the one-tile plan's window (`-edge..align_up(len) + edge`), where
    // that plan has the nets' zero padding and a wider window would have mirrored pixels.
    let context = |c: usize, n: usize, len: usize| {
        let end = align_up(len, align) + edge;
        (
            border.min(c + edge),
            border.min(end - c - align_up(n, align)),
        )
    };
    let mut tiles = Vec::new();
    for cy in (0..height).step_by(core_h) {
        for cx in (0..width).step_by(core_w) {
            let (cw, ch) = (core_w.min(width - cx), core_h.min(height - cy));
            let ((left, right), (top, bottom)) = (context(cx, cw, width), context(cy, ch, height));
            tiles.push(Tile {
                x: cx as isize - left as isize,
                y: cy as isize - top as isize,
                w: left + align_up(cw, align) + right,
                h: top + align_up(ch, align) + bottom,
                core_x: cx,
                core_y: cy,
                core_w: cw,
                core_h: ch,
            });
        }
    }
    tiles
}

/// The rows of a `height`-row photo a tile's window reads (mirrored into the photo): the range
/// from the lowest to the highest.
pub fn window_rows(t: &Tile, height: usize) -> Range<usize> {
    let rows = (0..t.h).map(|j| mirror(t.y + j as isize, height));
    let (lo, hi) = rows.fold((usize::MAX, 0), |(lo, hi), y| (lo.min(y), hi.max(y)));
    lo..hi + 1
}

/// Copies a tile's window out of the photo `win` holds rows of (at least
/// [`window_rows`]), mirroring outside the photo: interleaved RGB f32 in `[0, 1]`,
/// `t.h × t.w × 3` values, converted from the photo's storage.
pub fn extract(win: &Window, t: &Tile) -> Vec<f32> {
    let mut out = Vec::with_capacity(t.w * t.h * 3);
    let cols: Vec<usize> = (0..t.w)
        .map(|i| mirror(t.x + i as isize, win.width()))
        .collect();
    for j in 0..t.h {
        win.read_rgb(mirror(t.y + j as isize, win.height), &cols, &mut out);
    }
    out
}

/// Writes the core of a tile's output (`scale`× the window, interleaved RGB f32 HWC) into
/// `band` (rows of the output, which is `scale`× the input size; the band holds the tile's
/// output rows), converted to its storage.
pub fn paste(band: &mut Band, t: &Tile, tile_out: &[f32], scale: usize) {
    let (bx, by) = t.border();
    let tw = t.w * scale;
    let row_len = t.core_w * scale * 3;
    for j in 0..t.core_h * scale {
        let src = &tile_out[((by * scale + j) * tw + bx * scale) * 3..][..row_len];
        let y = t.core_y * scale + j - band.y0;
        band.rows.write_rgb(y, t.core_x * scale, src);
    }
}

/// The tile core along a line of `len` pixels: as few tiles as cores of at most `max_core` need,
/// of equal size (aligned), rather than full cores and a thin last one, which would cost a
/// whole border of context for a few pixels.
pub fn balanced(len: usize, max_core: usize, align: usize) -> usize {
    let tiles = len.div_ceil(max_core.max(1)).max(1);
    align_up(len.div_ceil(tiles), align)
}

/// The automatic tile core: wide enough that the context costs little — [`CORE_PER_BORDER`]
/// borders, at least [`MIN_AUTO_CORE`] — but no wider than the window (core + 2·border) that
/// fits `budget_bytes` at `bytes_per_pixel` of peak working memory per window pixel; aligned.
pub fn auto_tile(
    budget_bytes: usize,
    bytes_per_pixel: usize,
    border: usize,
    align: usize,
) -> usize {
    let border = align_up(border, align);
    let side = ((budget_bytes / bytes_per_pixel.max(1)) as f64).sqrt() as usize;
    let fits = side.saturating_sub(2 * border);
    let wanted = (CORE_PER_BORDER * border).max(MIN_AUTO_CORE);
    (wanted.min(fits) / align * align).max(align_up(64, align))
}

/// Automatic tile cores are at least this many context borders wide (memory permitting): the
/// window's extra work, ((core + 2·border) / core)², is then under 1.32×. (The 4-level denoiser,
/// radius 80 px: 1,120-px cores, where 508-px ones cost 1.73× the work; a 12 MP photo ran 1.5×
/// faster.)
pub const CORE_PER_BORDER: usize = 14;

/// Smallest automatic tile core. Small-radius nets (the upscalers, ±11 px) run no faster on
/// larger tiles, and their large outputs run slower (`upscale -x4` of a 1000×750 photo: 1.7 s
/// with 396-px cores, 2.2 s with 512-px ones).
pub const MIN_AUTO_CORE: usize = 384;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_reflects_without_repeating_edges() {
        let got: Vec<usize> = (-4..8).map(|i| mirror(i, 4)).collect();
        assert_eq!(got, vec![2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
        assert_eq!(mirror(-7, 1), 0);
        assert_eq!(mirror(100, 3), mirror(100 % 4, 3));
    }

    #[test]
    fn plan_covers_every_pixel_exactly_once_with_aligned_windows() {
        for (w, h, tile, border, edge, align) in [
            (37, 29, Some((16, 16)), 5, 2, 4),
            (100, 7, Some((33, 33)), 0, 0, 1),
            (5, 5, None, 12, 12, 8),
            (64, 64, Some((64, 64)), 8, 3, 4),
            (50, 41, Some((24, 6)), 3, 9, 2),
        ] {
            let tiles = plan(w, h, tile, border, edge, align);
            let edge = edge.min(border);
            let mut seen = vec![0u8; w * h];
            for t in &tiles {
                assert_eq!(
                    t.x.rem_euclid(align as isize),
                    (-(align_up(edge, align) as isize)).rem_euclid(align as isize)
                );
                assert_eq!((t.w % align, t.h % align), (0, 0));
                // Each side's context: the border, or up to the one-tile window's side
                // (`-edge..align_up(len) + edge`) where that is nearer, and never past it.
                let (bx, by) = t.border();
                let (bx, by) = (bx as isize, by as isize);
                let (e, b) = (
                    align_up(edge, align) as isize,
                    align_up(border, align) as isize,
                );
                let end = |len: usize| align_up(len, align) as isize + e;
                assert!(t.x >= -e && t.y >= -e);
                assert!(t.x + t.w as isize <= end(w) && t.y + t.h as isize <= end(h));
                assert!(bx >= b.min(t.core_x as isize + e) && by >= b.min(t.core_y as isize + e));
                let (rx, ry) = (
                    (t.core_x + t.core_w) as isize,
                    (t.core_y + t.core_h) as isize,
                );
                assert!(t.x + t.w as isize >= (rx + b).min(end(w)));
                assert!(t.y + t.h as isize >= (ry + b).min(end(h)));
                for y in t.core_y..t.core_y + t.core_h {
                    for x in t.core_x..t.core_x + t.core_w {
                        seen[y * w + x] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{w}x{h} tile {tile:?}");
        }
        assert_eq!(plan(10, 10, None, 3, 3, 2).len(), 1);
        // One tile: the window is the image plus the edge context, not the whole border.
        let whole = plan(10, 10, None, 12, 4, 2)[0];
        assert_eq!((whole.x, whole.w), (-4, 18));
    }

    #[test]
    fn extract_then_paste_with_identity_rebuilds_the_image() {
        use crate::photo::{Depth, Header, Layout, Photo, Storage};
        let (w, h) = (13, 9);
        let rgb: Vec<f32> = (0..w * h * 3).map(|i| i as f32).collect();
        let img = Photo::from_rgb_f32(w, h, rgb.clone(), crate::testing::photo_meta());
        let storage = Storage {
            layout: Layout::RGB,
            depth: Depth::F32,
        };
        for scale in [1, 2] {
            let header = Header {
                width: w * scale,
                height: h * scale,
                storage,
                meta: img.meta.clone(),
            };
            let mut out = header.band(0, h * scale).unwrap();
            for t in plan(w, h, Some((4, 4)), 3, 1, 2) {
                let all = Window {
                    y0: 0,
                    rows: &img,
                    height: h,
                };
                let win = extract(&all, &t);
                // A nearest-neighbour "model" of the given scale.
                let (tw, th) = (t.w * scale, t.h * scale);
                let up: Vec<f32> = (0..tw * th * 3)
                    .map(|i| {
                        let (p, ch) = (i / 3, i % 3);
                        let (x, y) = (p % tw / scale, p / tw / scale);
                        win[(y * t.w + x) * 3 + ch]
                    })
                    .collect();
                paste(&mut out, &t, &up, scale);
            }
            let out = out.rows.rgb_f32();
            for y in 0..h * scale {
                for x in 0..w * scale {
                    for ch in 0..3 {
                        assert_eq!(
                            out[(y * w * scale + x) * 3 + ch],
                            rgb[(y / scale * w + x / scale) * 3 + ch]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn window_rows_hold_every_row_a_tile_reads_and_no_more() {
        for (h, tile, border, align) in
            [(29, 16, 5, 4), (7, 33, 0, 1), (5, 5, 12, 8), (41, 6, 3, 2)]
        {
            for t in plan(13, h, Some((tile, tile)), border, border / 2, align) {
                let read: Vec<usize> = (0..t.h).map(|j| mirror(t.y + j as isize, h)).collect();
                let rows = window_rows(&t, h);
                assert!(read.iter().all(|y| rows.contains(y)), "{t:?}");
                assert!(
                    read.contains(&rows.start) && read.contains(&(rows.end - 1)),
                    "{t:?}"
                );
            }
        }
    }

    #[test]
    fn balanced_cores_split_a_line_evenly_within_the_maximum() {
        assert_eq!(balanced(4000, 508, 8), 504); // 8 tiles of 504 (7 × 508 + 444 before)
        assert_eq!(balanced(1000, 1000, 4), 1000);
        assert_eq!(balanced(1001, 1000, 4), 504);
        assert_eq!(balanced(10, 64, 8), 16);
        for (len, max, align) in [(3000, 700, 4), (481, 100, 8), (7, 1, 1)] {
            let core = balanced(len, max, align);
            assert!(core.is_multiple_of(align) && core < max + align);
            assert_eq!(len.div_ceil(core), len.div_ceil(max), "{len} {max} {align}");
        }
    }

    #[test]
    fn auto_tile_respects_the_budget() {
        // The budget binds: a 256-px window holds a 216-px core.
        let t = auto_tile(64 << 20, 1024, 20, 4);
        assert_eq!(t % 4, 0);
        assert!((t + 40).pow(2) * 1024 <= 64 << 20 && t > 150);
        assert_eq!(auto_tile(1, 1024, 20, 4), 64);
        // A roomy budget: the wanted width, 14 borders or the minimum.
        assert_eq!(auto_tile(1 << 40, 600, 80, 8), 14 * 80);
        assert_eq!(auto_tile(1 << 40, 600, 11, 1), MIN_AUTO_CORE);
    }
}
