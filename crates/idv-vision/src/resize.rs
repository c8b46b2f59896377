//! Resizing and pixel-format helpers shared by the engines.

use fast_image_resize::{
    FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
    images::{Image, ImageRef},
};

use crate::error::{Result, VisionError};
use crate::image::DecodedImage;

/// Resizes to exactly `width x height` (aspect ratio is the caller's business). Area-averaging filters are
/// used for downscaling so that small faces are not aliased away.
pub fn resize(img: &DecodedImage, width: u32, height: u32) -> Result<DecodedImage> {
    if width == 0 || height == 0 {
        return Err(VisionError::Corrupt(format!("cannot resize to {width}x{height}")));
    }
    if (width, height) == (img.width(), img.height()) {
        return Ok(img.clone());
    }
    let src = ImageRef::new(img.width(), img.height(), img.rgb(), PixelType::U8x3)
        .map_err(|e| VisionError::Corrupt(e.to_string()))?;
    let mut dst = Image::new(width, height, PixelType::U8x3);
    // Bilinear convolution in fast_image_resize widens its support when downscaling, i.e. it averages the
    // covered source area (unlike OpenCV's INTER_LINEAR which samples 4 pixels).
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).map_err(|e| VisionError::Corrupt(e.to_string()))?;
    DecodedImage::from_rgb(width, height, dst.into_vec())
}

/// Scales so that the longer side is at most `max_side`, preserving aspect ratio; returns the image unchanged
/// when it is already small enough, together with the applied scale factor (new / old).
pub fn fit_within(img: &DecodedImage, max_side: u32) -> Result<(DecodedImage, f32)> {
    let long = img.width().max(img.height());
    if long <= max_side {
        return Ok((img.clone(), 1.0));
    }
    let scale = max_side as f32 / long as f32;
    let w = ((img.width() as f32 * scale).round() as u32).clamp(1, max_side);
    let h = ((img.height() as f32 * scale).round() as u32).clamp(1, max_side);
    Ok((resize(img, w, h)?, scale))
}

/// ITU-R BT.601 luma, the usual definition of "grey" for quality measures.
pub fn to_gray(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            let y = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
            ((y + 500) / 1000) as u8
        })
        .collect()
}
