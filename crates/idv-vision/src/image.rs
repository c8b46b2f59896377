//! Image intake: untrusted bytes in, an upright RGB image out, or a typed error.
//!
//! Order matters for safety: the byte size is checked first, then the container header is parsed and the
//! pixel count checked, and only then are pixels decoded. A decompression bomb (a small file whose header
//! claims a huge canvas) therefore costs a header parse, never an allocation of the claimed size.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{Result, VisionError};

/// Limits applied before decoding. The defaults accept phone photos up to 36 Mpx and reject thumbnails whose
/// faces could not be analysed anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted encoded size.
    pub max_bytes: usize,
    /// Largest accepted `width * height` (after decoding, the RGB buffer is 3 bytes per pixel).
    pub max_pixels: u64,
    /// Smallest accepted width and height.
    pub min_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_bytes: 20 * 1024 * 1024, max_pixels: 36_000_000, min_side: 32 }
    }
}

/// Container formats accepted by [`decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
}

/// An upright 8-bit RGB image (EXIF orientation already applied), rows top to bottom, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedImage {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    format: Option<SourceFormat>,
    exif_orientation: u8,
}

impl std::fmt::Debug for DecodedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("exif_orientation", &self.exif_orientation)
            .finish_non_exhaustive()
    }
}

impl DecodedImage {
    /// Wraps raw RGB pixels (e.g. a video frame or a synthetic test image).
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Self> {
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 || rgb.len() != expected {
            return Err(VisionError::Corrupt(format!("{} bytes do not form a {width}x{height} RGB image", rgb.len())));
        }
        Ok(Self { width, height, rgb, format: None, exif_orientation: 1 })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Interleaved RGB bytes, `width * height * 3` long.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Bilinear sample at pixel-index coordinates (pixel `(i, j)`'s centre is at `(i, j)`: subtract 0.5 from
    /// continuous picture coordinates); black outside the picture, as OpenCV's default border, which the face
    /// recogniser saw in training.
    pub fn bilinear(&self, x: f32, y: f32) -> [f32; 3] {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let (x0, y0) = (floor(x), floor(y));
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
            // All four neighbours inside (the common case: the face crops' samples). The same products summed in
            // the same order as below, so the result is bit for bit the general path's.
            let i = ((y0 * w + x0) * 3) as usize;
            let j = i + (w * 3) as usize;
            let (p, q) = (&self.rgb[i..i + 6], &self.rgb[j..j + 6]);
            let mut acc = [0.0f32; 3];
            for (c, a) in acc.iter_mut().enumerate() {
                *a += (1.0 - fx) * (1.0 - fy) * f32::from(p[c]);
                *a += fx * (1.0 - fy) * f32::from(p[3 + c]);
                *a += (1.0 - fx) * fy * f32::from(q[c]);
                *a += fx * fy * f32::from(q[3 + c]);
            }
            return acc;
        }
        let mut acc = [0.0f32; 3];
        for (dy, wy) in [(0, 1.0 - fy), (1, fy)] {
            for (dx, wx) in [(0, 1.0 - fx), (1, fx)] {
                let (sx, sy) = (x0 + dx, y0 + dy);
                if sx < 0 || sy < 0 || sx >= w || sy >= h {
                    continue;
                }
                let i = ((sy * w + sx) * 3) as usize;
                for (a, v) in acc.iter_mut().zip(&self.rgb[i..i + 3]) {
                    *a += wx * wy * f32::from(*v);
                }
            }
        }
        acc
    }

    /// The container the pixels came from; `None` for [`DecodedImage::from_rgb`].
    pub fn format(&self) -> Option<SourceFormat> {
        self.format
    }

    /// EXIF orientation tag found in the file (1 = upright or absent); it has already been applied.
    pub fn exif_orientation(&self) -> u8 {
        self.exif_orientation
    }

    /// Copies a rectangle (clamped to the image) into a new image.
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Self> {
        let x0 = x.min(self.width);
        let y0 = y.min(self.height);
        let x1 = x.saturating_add(width).min(self.width);
        let y1 = y.saturating_add(height).min(self.height);
        let (w, h) = (x1 - x0, y1 - y0);
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        let stride = self.width as usize * 3;
        for row in y0..y1 {
            let start = row as usize * stride + x0 as usize * 3;
            out.extend_from_slice(&self.rgb[start..start + w as usize * 3]);
        }
        let mut img = Self::from_rgb(w, h, out)?;
        img.format = self.format;
        Ok(img)
    }

    /// Encodes as PNG (lossless), e.g. to store the analysed frame as evidence.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        image::RgbImage::from_raw(self.width, self.height, self.rgb.clone())
            .ok_or_else(|| VisionError::Corrupt("pixel buffer size".into()))?
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|e| VisionError::Corrupt(e.to_string()))?;
        Ok(out)
    }
}

/// `x.floor()` for the coordinates [`DecodedImage::bilinear`] gets, without the libm call `f32::floor` compiles to
/// on baseline x86-64 (no SSE4.1 rounding instruction), which cost as much as the interpolation. Exact for every
/// finite `x` within ±2^23, the range where floats still have fractions; beyond it `x` is integral already.
fn floor(x: f32) -> f32 {
    if x.abs() >= 8_388_608.0 || x.is_nan() {
        return x;
    }
    let t = x as i32 as f32;
    if t > x { t - 1.0 } else { t }
}

/// Reads width and height from the container header without decoding pixels; fails like [`decode`] would on
/// size limits.
pub fn probe(bytes: &[u8], limits: &DecodeLimits) -> Result<(SourceFormat, u32, u32)> {
    check_bytes(bytes, limits)?;
    let (format, decoder) = open(bytes, limits)?;
    let (w, h) = decoder.dimensions();
    Ok((format, w, h))
}

/// Decodes a JPEG, PNG or WebP picture within `limits`, applying its EXIF orientation.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage> {
    check_bytes(bytes, limits)?;
    let (format, mut decoder) = open(bytes, limits)?;
    if format == SourceFormat::Jpeg && !jpeg_has_end_of_image(bytes) {
        // zune-jpeg pads a truncated entropy stream with grey instead of failing; a half-grey selfie must not
        // reach the face engine as if it were a real picture.
        return Err(VisionError::Truncated);
    }
    // A malformed EXIF block must not reject an otherwise valid picture: treat it as "no orientation".
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_decode_error)?;
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    let (width, height) = rgb.dimensions();
    Ok(DecodedImage {
        width,
        height,
        rgb: rgb.into_raw(),
        format: Some(format),
        exif_orientation: orientation_tag(orientation),
    })
}

fn check_bytes(bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    if bytes.is_empty() {
        return Err(VisionError::EmptyImage);
    }
    if bytes.len() > limits.max_bytes {
        return Err(VisionError::TooManyBytes { bytes: bytes.len(), limit: limits.max_bytes });
    }
    Ok(())
}

fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<()> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(VisionError::TooManyPixels { width, height, limit: limits.max_pixels });
    }
    if width < limits.min_side || height < limits.min_side {
        return Err(VisionError::TooSmall { width, height, min_side: limits.min_side });
    }
    Ok(())
}

fn open<'a>(bytes: &'a [u8], limits: &DecodeLimits) -> Result<(SourceFormat, impl ImageDecoder + 'a)> {
    let format = match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => SourceFormat::Jpeg,
        Ok(ImageFormat::Png) => SourceFormat::Png,
        Ok(ImageFormat::WebP) => SourceFormat::Webp,
        _ => return Err(VisionError::NotAnImage),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(match format {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
        SourceFormat::Webp => ImageFormat::WebP,
    });
    // Header parsing allocates nothing proportional to the canvas (input is already capped by max_bytes);
    // lifting the codec limits here lets us report the real dimensions of an oversized picture.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(map_decode_error)?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h, limits)?;
    // Second line of defence inside the codecs once decoding starts: the RGBA8 worst case plus slack.
    let mut codec_limits = image::Limits::default();
    codec_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4) + (64 << 20));
    decoder.set_limits(codec_limits).map_err(map_decode_error)?;
    Ok((format, decoder))
}

fn map_decode_error(e: image::ImageError) -> VisionError {
    match e {
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => VisionError::Truncated,
        image::ImageError::Limits(l) => VisionError::Corrupt(format!("decoder limit: {l}")),
        other => {
            let msg = other.to_string();
            // The codecs report running out of input in prose rather than as UnexpectedEof.
            let lower = msg.to_ascii_lowercase();
            if ["eof", "end of", "truncat", "not enough bytes"].iter().any(|k| lower.contains(k)) {
                VisionError::Truncated
            } else {
                VisionError::Corrupt(msg)
            }
        }
    }
}

fn orientation_tag(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation as O;
    match o {
        O::NoTransforms => 1,
        O::FlipHorizontal => 2,
        O::Rotate180 => 3,
        O::FlipVertical => 4,
        O::Rotate90FlipH => 5,
        O::Rotate90 => 6,
        O::Rotate270FlipH => 7,
        O::Rotate270 => 8,
    }
}

/// True when the JPEG's compressed data ends with an EOI marker. Scans the marker segments up to the first
/// SOS, then the entropy-coded data, where a literal 0xFF byte is always stuffed (FF 00) or a restart marker,
/// so FF D9 there can only be the real end. Embedded EXIF thumbnails sit in APP segments before SOS and are
/// skipped by their lengths, so their own EOI does not count.
fn jpeg_has_end_of_image(bytes: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        // Skip fill bytes before a marker.
        while i < bytes.len() && bytes[i] == 0xFF && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 4 > bytes.len() || bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            let start = i + 2 + len;
            return start <= bytes.len() && bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        if len < 2 {
            return false;
        }
        i += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eoi_scan_ignores_thumbnail_eoi_before_scan() {
        // SOI, APP1 (len 6) containing FF D9, SOS (len 2), data, no EOI.
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34];
        assert!(!jpeg_has_end_of_image(&jpeg));
        let mut complete = jpeg.to_vec();
        complete.extend_from_slice(&[0xFF, 0xD9]);
        assert!(jpeg_has_end_of_image(&complete));
    }
}
