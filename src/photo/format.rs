//! The image formats aetool reads and writes, and the file extensions that name them.

use image::ImageFormat;
use std::fmt;

/// Output encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Png,
    Jpeg,
    Webp,
    Tiff,
    Bmp,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Png,
        OutputFormat::Jpeg,
        OutputFormat::Webp,
        OutputFormat::Tiff,
        OutputFormat::Bmp,
    ];

    /// The file extensions (lower case, without the dot) that name this format; the first is
    /// the one aetool writes.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg", "jpe"],
            Self::Webp => &["webp"],
            Self::Tiff => &["tif", "tiff"],
            Self::Bmp => &["bmp"],
        }
    }

    /// Format for a file extension (case-insensitive, without the dot): see
    /// [`OutputFormat::extensions`]. `None` for anything else.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.extensions().iter().any(|e| ext.eq_ignore_ascii_case(e)))
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// The same format as the input where we can encode it, else PNG.
    pub fn for_input(format: ImageFormat) -> Self {
        match format {
            ImageFormat::Png => Self::Png,
            ImageFormat::Jpeg => Self::Jpeg,
            ImageFormat::WebP => Self::Webp,
            ImageFormat::Tiff => Self::Tiff,
            ImageFormat::Bmp => Self::Bmp,
            _ => Self::Png,
        }
    }

    /// The corresponding `image` crate format.
    pub fn image_format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Webp => ImageFormat::WebP,
            Self::Tiff => ImageFormat::Tiff,
            Self::Bmp => ImageFormat::Bmp,
        }
    }

    /// Whether 16-bit samples are written as such (otherwise they are rounded to 8 bits).
    pub fn supports_16bit(self) -> bool {
        matches!(self, Self::Png | Self::Tiff)
    }

    /// Whether alpha is written (JPEG drops it).
    pub fn supports_alpha(self) -> bool {
        !matches!(self, Self::Jpeg)
    }
}

/// The formats aetool reads (and writes), for messages: every [`OutputFormat`], by name.
pub const READ_FORMATS: &str = "PNG, JPEG, WebP, TIFF and BMP";

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(format_name(self.image_format()))
    }
}

/// Short name for messages: "PNG", "JPEG", "WebP", …
pub(crate) fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Farbfeld => "Farbfeld",
        _ => "this kind of",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_formats_names_every_format_in_order() {
        let names: Vec<String> = OutputFormat::ALL.iter().map(|f| f.to_string()).collect();
        let (last, rest) = names.split_last().unwrap();
        assert_eq!(READ_FORMATS, format!("{} and {last}", rest.join(", ")));
    }
}
