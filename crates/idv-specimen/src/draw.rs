//! Text on the page with exact baselines and, for the MRZ, an exact character pitch.

use ab_glyph::{Font, FontVec, GlyphId, PxScale, ScaleFont, point};
use image::RgbImage;

/// How text is drawn: cap height in pixels, colour, and an optional fixed character pitch in pixels.
#[derive(Clone, Copy, Debug)]
pub struct Pen {
    pub cap_px: f32,
    pub color: [u8; 3],
    pub pitch: Option<f32>,
}

/// A font plus the ratio that turns a wanted cap height into ab_glyph's pixel scale.
pub struct Face {
    pub font: FontVec,
    px_per_cap: f32,
}

impl Face {
    pub fn new(font: FontVec) -> Self {
        let h = font.glyph_id('H');
        let cap_units = font.outline(h).map(|o| o.bounds.max.y - o.bounds.min.y).unwrap_or(0.0);
        // ab_glyph's PxScale is the unscaled height (ascent - descent) in pixels.
        let px_per_cap = if cap_units > 0.0 { font.height_unscaled() / cap_units } else { 1.4 };
        Face { font, px_per_cap }
    }

    pub fn scale_for_cap(&self, cap_px: f32) -> PxScale {
        PxScale::from(cap_px * self.px_per_cap)
    }

    /// Advance width of `text` at cap height `cap_px`, with kerning.
    pub fn width(&self, cap_px: f32, text: &str) -> f32 {
        let scaled = self.font.as_scaled(self.scale_for_cap(cap_px));
        let mut w = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = prev {
                w += scaled.kern(p, id);
            }
            w += scaled.h_advance(id);
            prev = Some(id);
        }
        w
    }

    /// Draw `text` with its baseline at `baseline`. With `pitch`, each character is centred in a cell of that
    /// width (fixed pitch, as the MRZ requires); otherwise glyphs advance and kern naturally.
    /// Returns the ink extent `[x0, y0, x1, y1]` (empty text gives a zero-width box at the origin).
    pub fn draw(&self, img: &mut RgbImage, pen: Pen, x: f32, baseline: f32, text: &str) -> [f32; 4] {
        let Pen { cap_px, color, pitch } = pen;
        let scale = self.scale_for_cap(cap_px);
        let scaled = self.font.as_scaled(scale);
        let mut caret = x;
        let mut prev: Option<GlyphId> = None;
        let mut ink = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            let adv = scaled.h_advance(id);
            let gx = match pitch {
                Some(p) => caret + (p - adv) / 2.0,
                None => {
                    if let Some(p) = prev {
                        caret += scaled.kern(p, id);
                    }
                    caret
                }
            };
            let glyph = id.with_scale_and_position(scale, point(gx, baseline));
            if let Some(og) = self.font.outline_glyph(glyph) {
                let b = og.px_bounds();
                ink = [ink[0].min(b.min.x), ink[1].min(b.min.y), ink[2].max(b.max.x), ink[3].max(b.max.y)];
                let (w, h) = (img.width() as i32, img.height() as i32);
                og.draw(|px, py, cov| {
                    let ix = b.min.x as i32 + px as i32;
                    let iy = b.min.y as i32 + py as i32;
                    if ix < 0 || iy < 0 || ix >= w || iy >= h {
                        return;
                    }
                    let cov = cov.clamp(0.0, 1.0);
                    let p = img.get_pixel_mut(ix as u32, iy as u32);
                    for (c, &ink) in p.0.iter_mut().zip(&color) {
                        *c = (*c as f32 * (1.0 - cov) + ink as f32 * cov).round() as u8;
                    }
                });
            }
            caret += pitch.unwrap_or(adv);
            prev = Some(id);
        }
        if ink[0] > ink[2] { [x, baseline, x, baseline] } else { ink }
    }
}
