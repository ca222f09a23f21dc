//! Before/after strips for the README: the same region of several images side by side.
//!
//! ```text
//! cargo run --example strip -- OUT.png X Y W H ZOOM IMAGE...
//! ```
//! `X Y W H` is the region in the first image's pixels; images of another size (an upscaled
//! output) are cropped at the same relative place and resized to `W×H`; each crop is enlarged
//! `ZOOM` times (nearest neighbour, so pixels stay visible) with a 4 px white gap between.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 7 {
        return Err("usage: strip OUT.png X Y W H ZOOM IMAGE...".into());
    }
    let n = |i: usize| args[i].parse::<u32>();
    let (x, y, w, h, zoom) = (n(1)?, n(2)?, n(3)?, n(4)?, n(5)?);
    let images = args[6..]
        .iter()
        .map(|p| image::open(p).map(|i| i.to_rgb8()))
        .collect::<Result<Vec<_>, _>>()?;
    let first_width = images[0].width() as f64;
    let gap = 4;
    let (cw, ch) = (w * zoom, h * zoom);
    let count = images.len() as u32;
    let mut out = RgbImage::from_pixel(count * cw + (count - 1) * gap, ch, Rgb([255; 3]));
    for (i, img) in images.iter().enumerate() {
        let f = img.width() as f64 / first_width;
        let s = |v: u32| (v as f64 * f).round() as u32;
        let crop = imageops::crop_imm(img, s(x), s(y), s(w), s(h)).to_image();
        let crop = imageops::resize(&crop, w, h, FilterType::Triangle);
        let big = imageops::resize(&crop, cw, ch, FilterType::Nearest);
        imageops::replace(&mut out, &big, i64::from(i as u32 * (cw + gap)), 0);
    }
    out.save(&args[0])?;
    Ok(())
}
