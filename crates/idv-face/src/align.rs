//! Similarity-transform alignment of a face to the 112x112 template SFace (and ArcFace-style recognisers)
//! were trained on.

use idv_vision::DecodedImage;

use crate::detect::Landmarks;

/// Side of the aligned crop.
pub const ALIGNED_SIZE: usize = 112;

/// Where the five landmarks land in the aligned crop (the standard ArcFace template, also OpenCV's).
pub const TEMPLATE: Landmarks =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// A 2x3 affine matrix `[a, b, tx; c, d, ty]` mapping picture coordinates to crop coordinates.
pub type Affine = [[f64; 3]; 2];

/// Least-squares similarity transform (rotation, uniform scale, translation; no reflection) taking `src`
/// onto `dst`. This is Umeyama's solution restricted to proper rotations, which in 2-D has a closed form:
/// with centred points p, q, `s·cosθ = Σ p·q / Σ|p|²` and `s·sinθ = Σ p×q / Σ|p|²`. For landmarks of a real
/// face (never mirrored relative to the template) it equals OpenCV's FaceRecognizerSF::alignCrop matrix.
pub fn similarity_transform(src: &Landmarks, dst: &Landmarks) -> Affine {
    let n = src.len() as f64;
    let mean = |pts: &Landmarks| {
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |(x, y), p| (x + f64::from(p[0]), y + f64::from(p[1])));
        (sx / n, sy / n)
    };
    let (mx, my) = mean(src);
    let (nx, ny) = mean(dst);
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for (p, q) in src.iter().zip(dst) {
        let (px, py) = (f64::from(p[0]) - mx, f64::from(p[1]) - my);
        let (qx, qy) = (f64::from(q[0]) - nx, f64::from(q[1]) - ny);
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
        norm += px * px + py * py;
    }
    if norm <= f64::EPSILON {
        // Degenerate landmarks (all at one point): map that point to the template centre at unit scale.
        return [[1.0, 0.0, nx - mx], [0.0, 1.0, ny - my]];
    }
    let a = dot / norm;
    let b = cross / norm;
    [[a, -b, nx - (a * mx - b * my)], [b, a, ny - (b * mx + a * my)]]
}

/// Applies an affine matrix to a point.
pub fn apply(m: &Affine, p: [f32; 2]) -> [f32; 2] {
    let (x, y) = (f64::from(p[0]), f64::from(p[1]));
    [(m[0][0] * x + m[0][1] * y + m[0][2]) as f32, (m[1][0] * x + m[1][1] * y + m[1][2]) as f32]
}

/// Warps the picture into a `ALIGNED_SIZE`² RGB crop with bilinear sampling; pixels outside the picture
/// are black, as with OpenCV's warpAffine default border, so the recogniser sees what it saw in training.
pub fn warp(img: &DecodedImage, m: &Affine) -> Vec<u8> {
    let [[a, b, tx], [c, d, ty]] = *m;
    let det = a * d - b * c;
    if !det.is_finite() || det.abs() < 1e-12 {
        // Only degenerate landmarks collapse the transform; without an inverse there is nothing to sample.
        return vec![0u8; ALIGNED_SIZE * ALIGNED_SIZE * 3];
    }
    // Inverse map: crop pixel -> picture coordinate.
    let (ia, ib, ic, id) = (d / det, -b / det, -c / det, a / det);
    let (itx, ity) = (-(ia * tx + ib * ty), -(ic * tx + id * ty));
    let mut out = vec![0u8; ALIGNED_SIZE * ALIGNED_SIZE * 3];
    for v in 0..ALIGNED_SIZE {
        for u in 0..ALIGNED_SIZE {
            let (uf, vf) = (u as f64, v as f64);
            let x = ia * uf + ib * vf + itx;
            let y = ic * uf + id * vf + ity;
            let acc = img.bilinear(x as f32, y as f32);
            let o = (v * ALIGNED_SIZE + u) * 3;
            for ch in 0..3 {
                out[o + ch] = acc[ch].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity() {
        // Rotate the template by 20 degrees, scale by 2.5, shift; the fit must undo exactly that.
        let (s, t) = (2.5f64, 20f64.to_radians());
        let src: Landmarks = TEMPLATE.map(|[x, y]| {
            let (x, y) = (f64::from(x), f64::from(y));
            [(s * (t.cos() * x - t.sin() * y) + 300.0) as f32, (s * (t.sin() * x + t.cos() * y) + 120.0) as f32]
        });
        let m = similarity_transform(&src, &TEMPLATE);
        for (p, q) in src.iter().zip(TEMPLATE) {
            let r = apply(&m, *p);
            assert!((r[0] - q[0]).abs() < 1e-3 && (r[1] - q[1]).abs() < 1e-3, "{r:?} vs {q:?}");
        }
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let mut rgb = vec![0u8; ALIGNED_SIZE * ALIGNED_SIZE * 3];
        for (i, v) in rgb.iter_mut().enumerate() {
            *v = (i * 7 % 251) as u8;
        }
        let img = DecodedImage::from_rgb(112, 112, rgb.clone()).unwrap();
        let m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        assert_eq!(warp(&img, &m), rgb);
    }
}
