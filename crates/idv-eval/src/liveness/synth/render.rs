//! Piecewise-affine warping of a portrait over a triangulation of control points (the 468 mesh points, a
//! ring around the head that moves with it, a fixed outer ring and the picture's border), rasterised with a
//! depth buffer so a turned head hides its far side, plus the overlays a real capture has: the inside of an
//! open mouth, the light of the screen, sensor noise.

use idv_vision::DecodedImage;

/// A triangulated set of control points over a source picture.
#[derive(Debug, Clone)]
pub struct WarpMesh {
    pub src: Vec<[f32; 2]>,
    pub triangles: Vec<[usize; 3]>,
}

impl WarpMesh {
    /// Delaunay triangulation of the source control points.
    pub fn new(src: Vec<[f32; 2]>) -> Self {
        let pts: Vec<delaunator::Point> =
            src.iter().map(|p| delaunator::Point { x: f64::from(p[0]), y: f64::from(p[1]) }).collect();
        let t = delaunator::triangulate(&pts);
        let triangles = t.triangles.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        Self { src, triangles }
    }

    /// Renders `img` with every control point moved to `dst[i]` at depth `z[i]` (smaller is nearer).
    pub fn warp(&self, img: &DecodedImage, dst: &[[f32; 2]], z: &[f32], out_w: u32, out_h: u32) -> Vec<u8> {
        let (w, h) = (out_w as usize, out_h as usize);
        let mut out = vec![0u8; w * h * 3];
        let mut zbuf = vec![f32::INFINITY; w * h];
        for t in &self.triangles {
            let [a, b, c] = t.map(|i| dst[i]);
            let det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
            if det.abs() < 1e-6 {
                continue;
            }
            let [sa, sb, sc] = t.map(|i| self.src[i]);
            let [za, zb, zc] = t.map(|i| z[i]);
            let x0 = (a[0].min(b[0]).min(c[0]).floor().max(0.0)) as usize;
            let x1 = (a[0].max(b[0]).max(c[0]).ceil().min(w as f32 - 1.0)).max(0.0) as usize;
            let y0 = (a[1].min(b[1]).min(c[1]).floor().max(0.0)) as usize;
            let y1 = (a[1].max(b[1]).max(c[1]).ceil().min(h as f32 - 1.0)).max(0.0) as usize;
            for y in y0..=y1 {
                let py = y as f32 + 0.5;
                for x in x0..=x1 {
                    let px = x as f32 + 0.5;
                    // Barycentric coordinates of the pixel centre in the destination triangle.
                    let l1 = ((px - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (py - a[1])) / det;
                    let l2 = ((b[0] - a[0]) * (py - a[1]) - (px - a[0]) * (b[1] - a[1])) / det;
                    let l0 = 1.0 - l1 - l2;
                    const EPS: f32 = -1e-4;
                    if l0 < EPS || l1 < EPS || l2 < EPS {
                        continue;
                    }
                    let depth = l0 * za + l1 * zb + l2 * zc;
                    let k = y * w + x;
                    if depth >= zbuf[k] {
                        continue;
                    }
                    zbuf[k] = depth;
                    let sx = l0 * sa[0] + l1 * sb[0] + l2 * sc[0];
                    let sy = l0 * sa[1] + l1 * sb[1] + l2 * sc[1];
                    let p = img.bilinear(sx - 0.5, sy - 0.5);
                    for ch in 0..3 {
                        out[k * 3 + ch] = p[ch].round().clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
        out
    }
}

/// Even-odd point-in-polygon test.
pub fn inside(poly: &[[f32; 2]], p: [f32; 2]) -> bool {
    let mut c = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0] {
            c = !c;
        }
        j = i;
    }
    c
}

/// Fills a polygon with a dark mouth-interior shade, darker towards its middle.
pub fn fill_mouth(rgb: &mut [u8], w: usize, h: usize, poly: &[[f32; 2]]) {
    if poly.len() < 3 {
        return;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in poly {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let (cy, half) = ((y0 + y1) / 2.0, ((y1 - y0) / 2.0).max(1.0));
    for y in (y0.floor().max(0.0) as usize)..=(y1.ceil().min(h as f32 - 1.0).max(0.0) as usize) {
        for x in (x0.floor().max(0.0) as usize)..=(x1.ceil().min(w as f32 - 1.0).max(0.0) as usize) {
            if inside(poly, [x as f32 + 0.5, y as f32 + 0.5]) {
                let d = 1.0 - ((y as f32 + 0.5 - cy) / half).abs().min(1.0);
                let shade = [70.0 - 45.0 * d, 30.0 - 18.0 * d, 32.0 - 20.0 * d];
                let k = (y * w + x) * 3;
                for c in 0..3 {
                    rgb[k + c] = shade[c] as u8;
                }
            }
        }
    }
}

/// Light of a screen showing `colour` (0..1 per channel): each pixel gains `k·colour` of its own albedo, with
/// `k` = `face` inside the ellipse (centre, semi-axes) feathered over its outer 25%, `background` elsewhere;
/// the exposure is then renormalised by the mean gain the way auto-exposure would.
pub fn tint(rgb: &mut [u8], w: usize, colour: [f32; 3], ellipse: ([f32; 2], [f32; 2]), face: f32, background: f32) {
    let ([cx, cy], [ax, ay]) = ellipse;
    let mean = (colour[0] + colour[1] + colour[2]) / 3.0;
    for (i, px) in rgb.chunks_exact_mut(3).enumerate() {
        let (x, y) = ((i % w) as f32 + 0.5, (i / w) as f32 + 0.5);
        let r = (((x - cx) / ax.max(1.0)).powi(2) + ((y - cy) / ay.max(1.0)).powi(2)).sqrt();
        let wgt = ((1.0 - r) / 0.25 + 1.0).clamp(0.0, 1.0);
        let k = background + (face - background) * wgt;
        let norm = 1.0 + k * mean;
        for c in 0..3 {
            px[c] = (f32::from(px[c]) * (1.0 + k * colour[c]) / norm).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Sensor noise (σ per channel) and a small random exposure change (σ 0.4%).
pub fn noise(rgb: &mut [u8], rng: &mut super::rng::Rng, sigma: f32) {
    let gain = 1.0 + 0.004 * rng.normal();
    for v in rgb.iter_mut() {
        *v = (f32::from(*v) * gain + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8;
    }
}
