//! Finding the document in a photo and flattening it.
//!
//! Classical pipeline (no registry package ships document-corner weights): downscale, grey, blur, then two
//! binarisations (Otsu, and Canny edges closed by a dilation), outer contours, convex hull, Douglas-Peucker
//! to four corners, a plausibility test on area and aspect ratio, and a perspective warp. When no
//! quadrilateral passes, the caller falls back to text geometry (see [`from_text_boxes`]).

use image::{GrayImage, RgbImage};
use imageproc::contours::{BorderType, find_contours};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};
use imageproc::point::Point;

use crate::ocr::{TextBox, dist, order_quad};

/// Pixels per millimetre of the flattened page handed to OCR.
pub const PAGE_PX_PER_MM: f32 = 10.0;

/// ID-1 (TD1) and TD3 page sizes in mm.
pub const TD1_MM: (f32, f32) = (85.6, 54.0);
pub const TD3_MM: (f32, f32) = (125.0, 88.0);

/// A located document: its corners in the photo (top-left, top-right, bottom-right, bottom-left).
#[derive(Clone, Debug)]
pub struct Located {
    pub corners: [[f32; 2]; 4],
    pub method: &'static str,
}

/// Classical localisation. Returns `None` when no plausible card outline is visible.
pub fn find_card(img: &RgbImage) -> Option<Located> {
    let (w, h) = img.dimensions();
    let k = (640.0 / w.max(h) as f32).min(1.0);
    let (sw, sh) = (((w as f32 * k).round() as u32).max(1), ((h as f32 * k).round() as u32).max(1));
    let small = image::imageops::resize(img, sw, sh, image::imageops::FilterType::Triangle);
    let grey = image::imageops::grayscale(&small);
    let blurred = imageproc::filter::gaussian_blur_f32(&grey, 1.5);
    let area = (sw * sh) as f32;

    let otsu = imageproc::contrast::otsu_level(&blurred);
    let bright = imageproc::contrast::threshold(&blurred, otsu, imageproc::contrast::ThresholdType::Binary);
    let dark = imageproc::contrast::threshold(&blurred, otsu, imageproc::contrast::ThresholdType::BinaryInverted);
    let edges = imageproc::edges::canny(&blurred, 20.0, 50.0);
    let closed = imageproc::morphology::dilate(&edges, imageproc::distance_transform::Norm::LInf, 2);

    let mut best: Option<([[f32; 2]; 4], f32)> = None;
    for bin in [&bright, &dark, &closed] {
        if let Some((q, score)) = best_quad(bin, area)
            && best.as_ref().is_none_or(|b| score > b.1)
        {
            best = Some((q, score));
        }
    }
    let (q, _) = best?;
    let inv = 1.0 / k;
    let corners = q.map(|p| [p[0] * inv, p[1] * inv]);
    Some(Located { corners: landscape(corners), method: "contour" })
}

fn best_quad(bin: &GrayImage, area: f32) -> Option<([[f32; 2]; 4], f32)> {
    let mut best: Option<([[f32; 2]; 4], f32)> = None;
    for c in find_contours::<i32>(bin) {
        if c.border_type != BorderType::Outer || c.points.len() < 20 {
            continue;
        }
        let hull = imageproc::geometry::convex_hull(c.points.clone());
        if hull.len() < 4 {
            continue;
        }
        let hull_area = polygon_area(&hull);
        // The card must be a sizeable part of the photo but not the whole frame (that is the border).
        if hull_area < area * 0.12 || hull_area > area * 0.985 {
            continue;
        }
        let perim = imageproc::geometry::arc_length(&hull, true);
        let mut quad = None;
        for eps in [0.01, 0.02, 0.035, 0.05] {
            let poly = imageproc::geometry::approximate_polygon_dp(&hull, perim * eps, true);
            if poly.len() == 4 {
                quad = Some(poly);
                break;
            }
        }
        let Some(poly) = quad else { continue };
        let q: [[f32; 2]; 4] = [0, 1, 2, 3].map(|i| [poly[i].x as f32, poly[i].y as f32]);
        let qa = polygon_area(&poly);
        // The four corners must explain the outline (a blob with a bite out of it is not a card).
        if qa < hull_area * 0.9 || qa > hull_area * 1.12 {
            continue;
        }
        let o = order_quad(q);
        let (tw, bw) = (dist(o[0], o[1]), dist(o[3], o[2]));
        let (lh, rh) = (dist(o[0], o[3]), dist(o[1], o[2]));
        let (long, short) = ((tw + bw) / 2.0, (lh + rh) / 2.0);
        let aspect = long.max(short) / long.min(short).max(1.0);
        if !(1.2..=1.85).contains(&aspect) {
            continue;
        }
        let score = qa / area - 0.5 * (aspect - 1.5).abs();
        if best.as_ref().is_none_or(|b| score > b.1) {
            best = Some((q, score));
        }
    }
    best
}

fn polygon_area(p: &[Point<i32>]) -> f32 {
    let n = p.len();
    let mut s = 0i64;
    for i in 0..n {
        let (a, b) = (p[i], p[(i + 1) % n]);
        s += a.x as i64 * b.y as i64 - b.x as i64 * a.y as i64;
    }
    (s.abs() as f32) / 2.0
}

/// Order corners so the long side runs left to right along the top.
fn landscape(q: [[f32; 2]; 4]) -> [[f32; 2]; 4] {
    let o = order_quad(q);
    if dist(o[0], o[1]) >= dist(o[1], o[2]) { o } else { [o[3], o[0], o[1], o[2]] }
}

/// The aspect ratio (long/short) of the located quadrilateral.
pub fn aspect(c: &[[f32; 2]; 4]) -> f32 {
    let long = (dist(c[0], c[1]) + dist(c[3], c[2])) / 2.0;
    let short = (dist(c[0], c[3]) + dist(c[1], c[2])) / 2.0;
    long / short.max(1.0)
}

/// Flatten the quadrilateral to a page of `size_mm` at [`PAGE_PX_PER_MM`].
pub fn rectify(img: &RgbImage, corners: &[[f32; 2]; 4], size_mm: (f32, f32)) -> Option<RgbImage> {
    let (w, h) = (size_mm.0 * PAGE_PX_PER_MM, size_mm.1 * PAGE_PX_PER_MM);
    let src = corners.map(|p| (p[0], p[1]));
    let dst = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let proj = Projection::from_control_points(src, dst)?;
    let mut out = RgbImage::new(w.round() as u32, h.round() as u32);
    // Shrinking a large photo in one bilinear step aliases fine print; pre-blur in proportion.
    let shrink = dist(corners[0], corners[1]) / w;
    if shrink > 1.6 {
        let blurred = imageproc::filter::gaussian_blur_f32(img, 0.45 * shrink);
        warp_into(&blurred, proj, Interpolation::Bilinear, Border::Constant(image::Rgb([255, 255, 255])), &mut out);
    } else {
        warp_into(img, proj, Interpolation::Bilinear, Border::Constant(image::Rgb([255, 255, 255])), &mut out);
    }
    Some(out)
}

/// Page corners implied by the MRZ's text boxes (top to bottom), from the ICAO geometry: the MRZ's cells
/// span `width × 2.54 mm` starting `left_mm` from the page's left edge, the last line sits `bottom_mm` above
/// the bottom edge. Only rotation and scale are recovered, not perspective, which the OCR tolerates.
pub fn from_mrz_boxes(
    boxes: &[&TextBox],
    chars: usize,
    page_mm: (f32, f32),
    left_mm: f32,
    bottom_mm: f32,
) -> Option<Located> {
    let first = boxes.first()?;
    let last = boxes.last()?;
    // Reading direction from the longest box's top edge.
    let longest = boxes.iter().max_by(|a, b| a.width().total_cmp(&b.width()))?;
    let (dx, dy) = (longest.quad[1][0] - longest.quad[0][0], longest.quad[1][1] - longest.quad[0][1]);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1.0 {
        return None;
    }
    let (ux, uy) = (dx / len, dy / len);
    let (nx, ny) = (-uy, ux);
    // Box width includes the detector's margin (about half a line height each side); take it off.
    let margin = longest.height() * 0.3;
    let px_per_mm = (longest.width() - 2.0 * margin) / (chars as f32 * crate::MRZ_PITCH_MM);
    if px_per_mm <= 0.5 {
        return None;
    }
    let left_pt = [
        (first.quad[0][0] + last.quad[3][0]) / 2.0 + ux * margin,
        (first.quad[0][1] + last.quad[3][1]) / 2.0 + uy * margin,
    ];
    // Bottom of the last line (text baseline region), then to the page's bottom-left corner.
    let base = [last.quad[3][0] - nx * margin * 0.8, last.quad[3][1] - ny * margin * 0.8];
    let along = (base[0] - left_pt[0]) * ux + (base[1] - left_pt[1]) * uy;
    let base = [base[0] - ux * along, base[1] - uy * along];
    let bl = [
        base[0] - ux * left_mm * px_per_mm + nx * bottom_mm * px_per_mm,
        base[1] - uy * left_mm * px_per_mm + ny * bottom_mm * px_per_mm,
    ];
    let (pw, ph) = (page_mm.0 * px_per_mm, page_mm.1 * px_per_mm);
    let br = [bl[0] + ux * pw, bl[1] + uy * pw];
    let tl = [bl[0] - nx * ph, bl[1] - ny * ph];
    let tr = [br[0] - nx * ph, br[1] - ny * ph];
    Some(Located { corners: [tl, tr, br, bl], method: "mrz" })
}

/// Page corners from the extent of all text, padded: the last resort for a side without an MRZ.
pub fn from_text_boxes(boxes: &[TextBox], pad: f32) -> Option<Located> {
    if boxes.len() < 4 {
        return None;
    }
    let mut angles: Vec<f32> = boxes
        .iter()
        .filter(|b| b.width() > 3.0 * b.height())
        .map(|b| (b.quad[1][1] - b.quad[0][1]).atan2(b.quad[1][0] - b.quad[0][0]))
        .collect();
    if angles.len() < 3 {
        return None;
    }
    angles.sort_by(f32::total_cmp);
    let a = angles[angles.len() / 2];
    let (ux, uy) = (a.cos(), a.sin());
    let (nx, ny) = (-uy, ux);
    let (mut u0, mut u1, mut v0, mut v1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for b in boxes {
        for p in b.quad {
            let (u, v) = (p[0] * ux + p[1] * uy, p[0] * nx + p[1] * ny);
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
    }
    let padw = (u1 - u0) * pad;
    let padh = (v1 - v0) * pad;
    let (u0, u1, v0, v1) = (u0 - padw, u1 + padw, v0 - padh, v1 + padh);
    let pt = |u: f32, v: f32| [u * ux + v * nx, u * uy + v * ny];
    Some(Located { corners: [pt(u0, v0), pt(u1, v0), pt(u1, v1), pt(u0, v1)], method: "text" })
}

/// Text rows of a horizontal band (a flattened page's MRZ band) found by a projection profile: dark pixels
/// by local contrast, rows whose dark count is a fair share of the width, grouped into lines of plausible
/// height, each boxed from its leftmost to rightmost ink with a margin. Top to bottom.
pub fn text_rows(grey: &GrayImage, px_per_mm: f32) -> Vec<[[f32; 2]; 4]> {
    let (w, h) = grey.dimensions();
    if w < 32 || h < 8 {
        return Vec::new();
    }
    let radius = ((1.5 * px_per_mm) as u32).max(2);
    let bin = imageproc::contrast::adaptive_threshold(grey, radius, 12);
    let (xa, xb) = (w / 40, w - w / 40);
    let dark = |x: u32, y: u32| bin.get_pixel(x, y).0[0] == 0;
    let profile: Vec<u32> = (0..h).map(|y| (xa..xb).filter(|&x| dark(x, y)).count() as u32).collect();
    let min_count = ((xb - xa) as f32 * 0.05) as u32;
    let (min_h, max_h) = ((1.5 * px_per_mm) as u32, (5.0 * px_per_mm) as u32);
    let mut rows = Vec::new();
    let mut y = 0;
    while y < h {
        if profile[y as usize] < min_count {
            y += 1;
            continue;
        }
        let start = y;
        while y < h && profile[y as usize] >= min_count {
            y += 1;
        }
        let (y0, y1) = (start, y);
        if !(min_h..=max_h).contains(&(y1 - y0)) {
            continue;
        }
        // Columns holding ink in this row (specks need not apply), grouped into runs that tolerate the gap
        // of a space; the widest run is the line (edges of the card or the desk are separate runs).
        let lh = (y1 - y0) as f32;
        let need = ((y1 - y0) / 6).max(2) as usize;
        let ink: Vec<bool> = (0..w).map(|x| (y0..y1).filter(|&yy| dark(x, yy)).count() >= need).collect();
        // A run of fillers or a faint stroke can leave a gap of a cell or two inside a line.
        let gap = (lh * 3.0) as u32;
        let mut best: Option<(u32, u32)> = None;
        let mut cur: Option<(u32, u32)> = None;
        for x in 0..w {
            if !ink[x as usize] {
                continue;
            }
            cur = match cur {
                Some((a, b)) if x - b <= gap => Some((a, x)),
                _ => Some((x, x)),
            };
            if let Some((a, b)) = cur
                && best.is_none_or(|(c, d)| b - a > d - c)
            {
                best = Some((a, b));
            }
        }
        let Some((x0, x1)) = best else { continue };
        let (mx, my) = (lh * 0.6, lh * 0.3);
        let (l, r) = ((x0 as f32 - mx).max(0.0), (x1 as f32 + 1.0 + mx).min(w as f32));
        let (t, b) = ((y0 as f32 - my).max(0.0), (y1 as f32 + my).min(h as f32));
        // MRZ lines span most of the page; shorter rows are other print that strayed into the band.
        if r - l > 8.0 * lh && r - l > 0.5 * w as f32 {
            rows.push([[l, t], [r, t], [r, b], [l, b]]);
        }
    }
    rows
}
