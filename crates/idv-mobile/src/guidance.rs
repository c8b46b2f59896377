//! On-device guidance: cheap luma statistics on a frame downscaled to [`ANALYSIS_SIDE`] pixels, so the user is
//! told to fix the picture before anything is uploaded. They only guide: the server decides everything again.
//!
//! The document checks are the hosted page's (`crates/idv-server/web/app.js`, `docCheck`), with the same
//! thresholds at the same analysis size, plus brightness and glare. Faces: there is no face model on the device
//! (it would cost megabytes); the platform layer passes the rectangle and angles its OS detector found
//! (`FaceObservation`: Android ML Kit or `android.media.FaceDetector`, iOS Vision), and the checks use them.

use crate::api::{FaceObservation, Guidance, Rect};
use crate::frame::Gray;

/// The analysis size (longer side), the hosted page's `DOC_ANALYSIS_WIDTH`.
pub const ANALYSIS_SIDE: usize = 320;
/// Variance of the 4-neighbour Laplacian inside the document frame, at [`ANALYSIS_SIDE`] (the page's value).
const SHARPNESS_MIN: f32 = 60.0;
/// Border gradients (the page's `EDGE_MIN`, `EDGE_RATIO`).
const EDGE_MIN: f32 = 18.0;
const EDGE_RATIO: f32 = 1.1;
/// Mean luma under which a region is too dark to read, and over which it is washed out.
const DARK_MEAN: f32 = 55.0;
/// Saturated pixels (luma at least [`SATURATED`]) in patches over this fraction of the document frame are a
/// reflection (see [`glare`]).
const SATURATED: f32 = 250.0;
const GLARE_FRACTION: f32 = 0.04;
/// Face framing, in fractions of the upright frame's width: a face narrower than this is too far.
const FACE_MIN_WIDTH: f32 = 0.28;
const FACE_MAX_WIDTH: f32 = 0.85;
/// How far the face's centre may be from the frame's centre (fractions of width and height).
const FACE_MAX_OFFSET_X: f32 = 0.15;
const FACE_MAX_OFFSET_Y: f32 = 0.18;
/// Yaw or roll beyond this is not frontal (degrees).
const FACE_MAX_ANGLE: f32 = 15.0;
/// A face this soft (Laplacian variance inside it) is motion blur or a smeared lens.
const FACE_SHARPNESS_MIN: f32 = 8.0;

/// Where the app draws the document guide, in fractions of the upright frame: the ID-1 card aspect (1.586),
/// 84% of the width, at most 80% of the height (the hosted page's card frame, so both guide the same way).
pub fn document_frame(width: u32, height: u32) -> Rect {
    let (vw, vh) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let mut w = 0.84 * vw;
    let mut h = w / 1.586;
    if h > 0.8 * vh {
        h = 0.8 * vh;
        w = h * 1.586;
    }
    Rect {
        left: ((vw - w) / 2.0 / vw) as f32,
        top: ((vh - h) / 2.0 / vh) as f32,
        width: (w / vw) as f32,
        height: (h / vh) as f32,
    }
}

/// Pixel bounds of a fractional rectangle on `g`, clamped inside it.
fn bounds(g: &Gray, r: &Rect) -> (usize, usize, usize, usize) {
    let px = |f: f32, n: usize| ((f.clamp(0.0, 1.0) * n as f32).round() as usize).min(n);
    let (x0, y0) = (px(r.left, g.width), px(r.top, g.height));
    let (x1, y1) = (px(r.left + r.width, g.width), px(r.top + r.height, g.height));
    (x0, y0, x1.max(x0), y1.max(y0))
}

fn mean(g: &Gray, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f32 {
    let mut s = 0.0;
    let mut n = 0usize;
    for y in y0..y1 {
        for x in x0..x1 {
            s += g.at(x, y);
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { s / n as f32 }
}

/// Variance of the 4-neighbour Laplacian inside the bounds.
pub fn sharpness(g: &Gray, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f32 {
    let (mut s, mut s2, mut n) = (0.0f64, 0.0f64, 0usize);
    for y in y0.max(1)..y1.min(g.height.saturating_sub(1)) {
        for x in x0.max(1)..x1.min(g.width.saturating_sub(1)) {
            let l = 4.0 * g.at(x, y) - g.at(x - 1, y) - g.at(x + 1, y) - g.at(x, y - 1) - g.at(x, y + 1);
            s += f64::from(l);
            s2 += f64::from(l * l);
            n += 1;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let m = s / n as f64;
    (s2 / n as f64 - m * m) as f32
}

/// Fraction of the bounds covered by saturated patches (a pixel counts when its whole 5x5 neighbourhood is
/// saturated: a specular highlight is a patch, fine white print is not), when the document itself is not white
/// to the sensor: a reflection is brighter than the paper around it, so on a page whose median is already
/// saturated there is nothing to tell apart (and nothing the user could fix by tilting it).
fn glare(g: &Gray, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f32 {
    let area = (x1 - x0) * (y1 - y0);
    if area == 0 {
        return 0.0;
    }
    let mut histogram = [0usize; 256];
    for y in y0..y1 {
        for x in x0..x1 {
            histogram[g.at(x, y).clamp(0.0, 255.0) as usize] += 1;
        }
    }
    let mut below = 0;
    let median = histogram.iter().position(|&n| {
        below += n;
        below * 2 >= area
    });
    if median.is_some_and(|m| m as f32 >= SATURATED) {
        return 0.0;
    }
    let mut hits = 0usize;
    for y in y0.max(2)..y1.min(g.height.saturating_sub(2)) {
        for x in x0.max(2)..x1.min(g.width.saturating_sub(2)) {
            if g.at(x, y) >= SATURATED && (0..25).all(|k| g.at(x + k % 5 - 2, y + k / 5 - 2) >= SATURATED) {
                hits += 1;
            }
        }
    }
    hits as f32 / area as f32
}

/// Whether the document's edges lie on the guide: strong gradients across thin bands along at least three of the
/// frame's borders, compared with the texture in its centre (the hosted page's rule).
fn edges_on_frame(g: &Gray, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> bool {
    let (w, h) = (g.width, g.height);
    if x1 <= x0 + 4 || y1 <= y0 + 4 {
        return false;
    }
    let bw = ((0.04 * (x1 - x0) as f32).round() as usize).max(2);
    let bh = ((0.05 * (y1 - y0) as f32).round() as usize).max(2);
    let gx = |x: usize, y: usize| (g.at((x + 1).min(w - 1), y) - g.at(x.saturating_sub(1), y)).abs();
    let gy = |x: usize, y: usize| (g.at(x, (y + 1).min(h - 1)) - g.at(x, y.saturating_sub(1))).abs();
    let h_band = |yc: usize| {
        let (mut s, mut m) = (0.0, 0usize);
        for x in x0 + bw..x1.saturating_sub(bw) {
            let best = (yc.saturating_sub(bh)..=(yc + bh).min(h - 1)).map(|y| gy(x, y)).fold(0.0, f32::max);
            s += best;
            m += 1;
        }
        if m == 0 { 0.0 } else { s / m as f32 }
    };
    let v_band = |xc: usize| {
        let (mut s, mut m) = (0.0, 0usize);
        for y in y0 + bh..y1.saturating_sub(bh) {
            let best = (xc.saturating_sub(bw)..=(xc + bw).min(w - 1)).map(|x| gx(x, y)).fold(0.0, f32::max);
            s += best;
            m += 1;
        }
        if m == 0 { 0.0 } else { s / m as f32 }
    };
    let centre = (h_band((y0 + y1) / 2) + v_band((x0 + x1) / 2)) / 2.0;
    let needed = EDGE_MIN.max(EDGE_RATIO * centre * 0.5);
    let bands = [h_band(y0), h_band(y1.min(h - 1)), v_band(x0), v_band(x1.min(w - 1))];
    bands.iter().filter(|&&b| b >= needed).count() >= 3
}

/// What the user should fix in a document frame (the first problem, in the order a person fixes them: light,
/// reflections, position, focus), and the frame's sharpness for choosing the one to upload.
pub fn document(g: &Gray) -> (Guidance, f32) {
    let r = bounds(g, &document_frame(g.width as u32, g.height as u32));
    let sharp = sharpness(g, r);
    let issue = if mean(g, r) < DARK_MEAN {
        Guidance::TooDark
    } else if glare(g, r) > GLARE_FRACTION {
        Guidance::Glare
    } else if !edges_on_frame(g, r) {
        Guidance::DocumentNotInFrame
    } else if sharp < SHARPNESS_MIN {
        Guidance::TooBlurry
    } else {
        Guidance::Ok
    };
    (issue, sharp)
}

/// What the user should fix in a face frame. `detector`: whether the platform runs a face detector at all; when
/// it does not, only light and focus over the frame's centre can be judged.
pub fn face(g: &Gray, observed: Option<&FaceObservation>, detector: bool) -> Guidance {
    let centre = Rect { left: 0.25, top: 0.2, width: 0.5, height: 0.6 };
    let region = match observed {
        Some(f) => f.bounds.clone(),
        None if detector => return Guidance::NoFace,
        None => centre,
    };
    let r = bounds(g, &region);
    if mean(g, r) < DARK_MEAN {
        return Guidance::TooDark;
    }
    if let Some(f) = observed {
        let b = &f.bounds;
        if b.width < FACE_MIN_WIDTH {
            return Guidance::FaceTooFar;
        }
        if b.width > FACE_MAX_WIDTH {
            return Guidance::FaceTooClose;
        }
        let (cx, cy) = (b.left + b.width / 2.0, b.top + b.height / 2.0);
        if (cx - 0.5).abs() > FACE_MAX_OFFSET_X || (cy - 0.5).abs() > FACE_MAX_OFFSET_Y {
            return Guidance::FaceOffCentre;
        }
        let beyond = |a: Option<f32>| a.is_some_and(|a| a.abs() > FACE_MAX_ANGLE);
        if beyond(f.yaw_degrees) || beyond(f.roll_degrees) {
            return Guidance::FaceNotFrontal;
        }
    }
    if sharpness(g, r) < FACE_SHARPNESS_MIN {
        return Guidance::TooBlurry;
    }
    Guidance::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 320x240 grey desk with a textured light card exactly on the guide.
    fn card(desk: f32, paper: f32) -> Gray {
        let (w, h) = (320usize, 240usize);
        let r = document_frame(w as u32, h as u32);
        let (x0, y0, x1, y1) = bounds(&Gray { width: w, height: h, data: vec![0.0; w * h] }, &r);
        let mut data = vec![desk; w * h];
        for y in y0..y1 {
            for x in x0..x1 {
                // Print: a fine pattern of dark strokes on the paper.
                let ink = (x / 3 + y / 4) % 5 == 0;
                data[y * w + x] = if ink { paper - 120.0 } else { paper };
            }
        }
        Gray { width: w, height: h, data }
    }

    fn blur(g: &Gray, radius: usize) -> Gray {
        let mut out = g.clone();
        for y in 0..g.height {
            for x in 0..g.width {
                let (mut s, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(radius)..=(y + radius).min(g.height - 1) {
                    for xx in x.saturating_sub(radius)..=(x + radius).min(g.width - 1) {
                        s += g.at(xx, yy);
                        n += 1.0;
                    }
                }
                out.data[y * g.width + x] = s / n;
            }
        }
        out
    }

    #[test]
    fn each_document_problem_is_named() {
        let good = card(60.0, 220.0);
        assert_eq!(document(&good).0, Guidance::Ok);
        let dark = Gray { data: good.data.iter().map(|l| l * 0.2).collect(), ..good.clone() };
        assert_eq!(document(&dark).0, Guidance::TooDark);
        let mut glare_ = good.clone();
        for y in 80..140 {
            for x in 120..200 {
                glare_.data[y * 320 + x] = 255.0;
            }
        }
        assert_eq!(document(&glare_).0, Guidance::Glare);
        let empty = Gray { data: vec![120.0; 320 * 240], ..good.clone() };
        assert_eq!(document(&empty).0, Guidance::DocumentNotInFrame);
        let soft = blur(&good, 3);
        let (issue, s) = document(&soft);
        assert_eq!(issue, Guidance::TooBlurry, "sharpness {s}");
        assert!(document(&good).1 > s, "the sharper frame measures sharper");
        // White paper with white margins is not glare: no saturated patch of 5x5.
        let white = card(60.0, 255.0);
        assert_eq!(document(&white).0, Guidance::Ok);
    }

    #[test]
    fn faces_are_judged_from_the_platform_detector() {
        let mut g = Gray { width: 240, height: 320, data: vec![150.0; 240 * 320] };
        for (i, l) in g.data.iter_mut().enumerate() {
            *l += if (i / 3) % 2 == 0 { 20.0 } else { -20.0 };
        }
        let at = |left, top, width, height, yaw| FaceObservation {
            bounds: Rect { left, top, width, height },
            yaw_degrees: yaw,
            roll_degrees: None,
        };
        assert_eq!(face(&g, Some(&at(0.3, 0.3, 0.4, 0.4, Some(3.0))), true), Guidance::Ok);
        assert_eq!(face(&g, None, true), Guidance::NoFace);
        assert_eq!(face(&g, None, false), Guidance::Ok, "without a detector only light and focus are judged");
        assert_eq!(face(&g, Some(&at(0.4, 0.4, 0.2, 0.2, None)), true), Guidance::FaceTooFar);
        assert_eq!(face(&g, Some(&at(0.05, 0.05, 0.9, 0.9, None)), true), Guidance::FaceTooClose);
        assert_eq!(face(&g, Some(&at(0.55, 0.3, 0.4, 0.4, None)), true), Guidance::FaceOffCentre);
        assert_eq!(face(&g, Some(&at(0.3, 0.3, 0.4, 0.4, Some(30.0))), true), Guidance::FaceNotFrontal);
        let dark = Gray { data: g.data.iter().map(|l| l * 0.2).collect(), ..g.clone() };
        assert_eq!(face(&dark, Some(&at(0.3, 0.3, 0.4, 0.4, None)), true), Guidance::TooDark);
        let flat = Gray { data: vec![150.0; 240 * 320], ..g.clone() };
        assert_eq!(face(&flat, Some(&at(0.3, 0.3, 0.4, 0.4, None)), true), Guidance::TooBlurry);
    }
}
