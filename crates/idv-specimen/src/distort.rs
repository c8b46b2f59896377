//! Photo-like degradations of a rendered page, each driven by the specimen's seed.

use image::imageops::FilterType;
use image::{Rgb, RgbImage, Rgba, RgbaImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// What a photo of the document may suffer. Magnitudes are maxima or exact values as documented per field;
/// signs and positions are drawn from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distortion {
    /// Preset name this was built from (for reports), or "custom".
    pub name: String,
    /// Place the page in a photo of a textured surface. Implied by rotation or perspective.
    pub scene: bool,
    /// Photo size when `scene` is on.
    pub scene_size: [u32; 2],
    /// Fraction of the photo's width the page spans (before rotation).
    pub fill: f32,
    /// In-plane rotation in degrees; the sign is drawn from the seed.
    pub rotation_deg: f32,
    /// Corner displacement as a fraction of the page width (0 = none, 0.06 = a strong tilt).
    pub perspective: f32,
    /// Surface under the document: 0 wood, 1 grey desk, 2 dark cloth, 3 pale paper (low contrast).
    pub texture: u8,
    /// Strength of uneven illumination (0..1).
    pub light: f32,
    pub blur_sigma: f32,
    /// Standard deviation of additive Gaussian noise, in 8-bit levels.
    pub noise_sigma: f32,
    /// Re-encode as JPEG with this quality.
    pub jpeg_quality: Option<u8>,
    /// Final resolution factor (1 = as rendered, 0.5 = half the pixels per side).
    pub scale: f32,
}

impl Default for Distortion {
    fn default() -> Self {
        Distortion {
            name: "clean".into(),
            scene: false,
            scene_size: [1280, 960],
            fill: 0.82,
            rotation_deg: 0.0,
            perspective: 0.0,
            texture: 0,
            light: 0.0,
            blur_sigma: 0.0,
            noise_sigma: 0.0,
            jpeg_quality: None,
            scale: 1.0,
        }
    }
}

impl Distortion {
    /// Named conditions used by tests, the evaluation and the CLI.
    pub const PRESETS: [&'static str; 11] =
        ["clean", "blur", "jpeg", "half", "third", "rotate", "perspective", "light", "noise", "phone", "pale-desk"];

    pub fn preset(name: &str) -> Option<Distortion> {
        let base = Distortion { name: name.to_string(), ..Distortion::default() };
        Some(match name {
            "clean" => base,
            "blur" => Distortion { blur_sigma: 1.6, ..base },
            "jpeg" => Distortion { jpeg_quality: Some(25), ..base },
            "half" => Distortion { scale: 0.5, ..base },
            "third" => Distortion { scale: 1.0 / 3.0, ..base },
            "rotate" => Distortion { scene: true, rotation_deg: 4.0, ..base },
            "perspective" => Distortion { scene: true, rotation_deg: 2.0, perspective: 0.06, texture: 1, ..base },
            "light" => Distortion { light: 0.6, ..base },
            "noise" => Distortion { noise_sigma: 12.0, ..base },
            // A hand-held phone photo: tilt, texture, shade, focus blur, sensor noise, JPEG.
            "phone" => Distortion {
                scene: true,
                rotation_deg: 3.0,
                perspective: 0.04,
                texture: 2,
                light: 0.45,
                blur_sigma: 0.9,
                noise_sigma: 5.0,
                jpeg_quality: Some(70),
                ..base
            },
            // Pale card on a pale surface: the edges barely show, which defeats contour-based localisation.
            "pale-desk" => Distortion { scene: true, rotation_deg: 2.5, texture: 3, ..base },
            _ => return None,
        })
    }
}

/// The values actually drawn for one specimen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub rotation_deg: f32,
    /// Page corners (top-left, top-right, bottom-right, bottom-left) in output pixels.
    pub corners: [[f32; 2]; 4],
}

pub struct Output {
    pub image: RgbImage,
    /// The encoded JPEG when one was applied (the image is its decoded form).
    pub jpeg: Option<Vec<u8>>,
    pub applied: Applied,
}

pub fn apply(page: &RgbImage, d: &Distortion, rng: &Rng) -> Output {
    let (pw, ph) = (page.width() as f32, page.height() as f32);
    let mut corners = [[0.0, 0.0], [pw, 0.0], [pw, ph], [0.0, ph]];
    let mut rotation = 0.0;
    let mut img = if d.scene || d.rotation_deg != 0.0 || d.perspective > 0.0 {
        let mut r = rng.fork(1);
        let (sw, sh) = (d.scene_size[0] as f32, d.scene_size[1] as f32);
        rotation = d.rotation_deg * if r.below(2) == 0 { -1.0 } else { 1.0 } * r.range(0.7, 1.0);
        // Shrink the page first so the warp samples it near 1:1 (bilinear warping of a much larger image
        // aliases fine print).
        let target_w = (sw * d.fill).min(pw);
        let k = target_w / pw;
        let small = image::imageops::resize(
            page,
            (pw * k).round().max(1.0) as u32,
            (ph * k).round().max(1.0) as u32,
            FilterType::Triangle,
        );
        let (w, h) = (small.width() as f32, small.height() as f32);
        let (sin, cos) = rotation.to_radians().sin_cos();
        let c = [sw / 2.0 + r.signed() * sw * 0.03, sh / 2.0 + r.signed() * sh * 0.03];
        let jitter = d.perspective * w;
        let src = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
        let mut dst = [(0.0f32, 0.0f32); 4];
        for (i, &(x, y)) in src.iter().enumerate() {
            let (dx, dy) = (x - w / 2.0, y - h / 2.0);
            dst[i] =
                (c[0] + dx * cos - dy * sin + r.signed() * jitter, c[1] + dx * sin + dy * cos + r.signed() * jitter);
        }
        match Projection::from_control_points(src, dst) {
            Some(proj) => {
                let mut scene = texture(d.scene_size, d.texture, &mut r);
                let mut rgba = RgbaImage::new(small.width(), small.height());
                for (x, y, p) in small.enumerate_pixels() {
                    rgba.put_pixel(x, y, Rgba([p.0[0], p.0[1], p.0[2], 255]));
                }
                let mut layer = RgbaImage::new(d.scene_size[0], d.scene_size[1]);
                warp_into(&rgba, proj, Interpolation::Bilinear, Border::Constant(Rgba([0, 0, 0, 0])), &mut layer);
                for (s, l) in scene.pixels_mut().zip(layer.pixels()) {
                    let a = l.0[3] as f32 / 255.0;
                    for k in 0..3 {
                        s.0[k] = (s.0[k] as f32 * (1.0 - a) + l.0[k] as f32 * a).round() as u8;
                    }
                }
                for (i, p) in dst.iter().enumerate() {
                    corners[i] = [p.0, p.1];
                }
                scene
            }
            // Unreachable for a jittered rotated rectangle; the flat page keeps image and corners consistent.
            None => {
                rotation = 0.0;
                page.clone()
            }
        }
    } else {
        page.clone()
    };

    if d.light > 0.0 {
        uneven_light(&mut img, d.light, &mut rng.fork(2));
    }
    if d.blur_sigma > 0.0 {
        img = imageproc::filter::gaussian_blur_f32(&img, d.blur_sigma);
    }
    if d.noise_sigma > 0.0 {
        let mut r = rng.fork(3);
        for p in img.pixels_mut() {
            for k in 0..3 {
                p.0[k] = (p.0[k] as f32 + r.gauss() * d.noise_sigma).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    if (d.scale - 1.0).abs() > 1e-3 {
        let (w, h) = (img.width(), img.height());
        let nw = ((w as f32 * d.scale).round() as u32).max(1);
        let nh = ((h as f32 * d.scale).round() as u32).max(1);
        img = image::imageops::resize(&img, nw, nh, FilterType::Triangle);
        let (kx, ky) = (nw as f32 / w as f32, nh as f32 / h as f32);
        for c in corners.iter_mut() {
            c[0] *= kx;
            c[1] *= ky;
        }
    }
    let mut jpeg = None;
    if let Some(q) = d.jpeg_quality {
        let mut buf = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, q);
        if img.write_with_encoder(enc).is_ok()
            && let Ok(dec) = image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
        {
            img = dec.to_rgb8();
            jpeg = Some(buf);
        }
    }
    Output { image: img, jpeg, applied: Applied { rotation_deg: rotation, corners } }
}

/// A gradient in a random direction times a soft radial fall-off, plus one highlight: shade between about
/// `1 - strength` and a little over 1.
fn uneven_light(img: &mut RgbImage, strength: f32, r: &mut Rng) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let angle = r.range(0.0, std::f32::consts::TAU);
    let (dx, dy) = (angle.cos(), angle.sin());
    let spot = [r.range(0.2, 0.8) * w, r.range(0.2, 0.8) * h];
    let spot_r = r.range(0.15, 0.3) * w.max(h);
    let diag = (w * w + h * h).sqrt();
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32, y as f32);
        let t = (((fx - w / 2.0) * dx + (fy - h / 2.0) * dy) / diag + 0.5).clamp(0.0, 1.0);
        let rr = (((fx - w / 2.0).powi(2) + (fy - h / 2.0).powi(2)).sqrt() / (diag / 2.0)).min(1.0);
        let s2 = ((fx - spot[0]).powi(2) + (fy - spot[1]).powi(2)) / (spot_r * spot_r);
        let gain = 1.0 - strength * (0.75 * t + 0.25 * rr * rr) + 0.12 * strength * (-s2).exp();
        for k in 0..3 {
            p.0[k] = (p.0[k] as f32 * gain).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Value noise (a few octaves of a smoothly interpolated random lattice) tinted like a surface.
fn texture(size: [u32; 2], kind: u8, r: &mut Rng) -> RgbImage {
    let (w, h) = (size[0], size[1]);
    let lattice = |r: &mut Rng, n: usize| -> Vec<f32> { (0..n * n).map(|_| r.unit()).collect() };
    let octaves: Vec<(usize, Vec<f32>, f32)> =
        [(5usize, 0.5f32), (17, 0.3), (61, 0.2)].iter().map(|&(n, a)| (n, lattice(r, n + 1), a)).collect();
    let sample = |grid: &[f32], n: usize, u: f32, v: f32| -> f32 {
        let (gx, gy) = (u * (n - 1) as f32, v * (n - 1) as f32);
        let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
        let (tx, ty) = (gx - x0 as f32, gy - y0 as f32);
        let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let at = |i: usize, j: usize| grid[j.min(n) * (n + 1) + i.min(n)];
        let top = at(x0, y0) * (1.0 - sx) + at(x0 + 1, y0) * sx;
        let bot = at(x0, y0 + 1) * (1.0 - sx) + at(x0 + 1, y0 + 1) * sx;
        top * (1.0 - sy) + bot * sy
    };
    let (base, var, stripes): ([f32; 3], f32, f32) = match kind {
        0 => ([150.0, 105.0, 70.0], 50.0, 1.0),
        1 => ([120.0, 122.0, 126.0], 30.0, 0.0),
        2 => ([45.0, 50.0, 62.0], 25.0, 0.0),
        _ => ([226.0, 226.0, 220.0], 10.0, 0.0),
    };
    let phase = r.range(0.0, 10.0);
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        let mut n = 0.0;
        for (k, grid, a) in &octaves {
            n += a * sample(grid, *k, u, v);
        }
        let grain = if stripes > 0.0 { 0.5 + 0.5 * (v * 90.0 + n * 12.0 + phase).sin() } else { 0.5 };
        let t = (n - 0.5) + (grain - 0.5) * 0.6;
        let f = |c: f32| (c + t * var).clamp(0.0, 255.0) as u8;
        Rgb([f(base[0]), f(base[1]), f(base[2])])
    })
}
