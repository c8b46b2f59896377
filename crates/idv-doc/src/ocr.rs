//! PP-OCR text detection (DB) and recognition (CTC) through the shared inference runtime.

use std::sync::Arc;

use idv_vision::{Model, TensorView};
use image::{GrayImage, Luma, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};
use imageproc::point::Point;
use imageproc::region_labelling::{Connectivity, connected_components};

use crate::DocError;
use crate::mrz_read::{ALPHABET, LineRead};

/// A detected text region: corners top-left, top-right, bottom-right, bottom-left in image pixels.
#[derive(Clone, Debug)]
pub struct TextBox {
    pub quad: [[f32; 2]; 4],
    pub score: f32,
}

impl TextBox {
    pub fn width(&self) -> f32 {
        dist(self.quad[0], self.quad[1]).max(dist(self.quad[3], self.quad[2]))
    }
    pub fn height(&self) -> f32 {
        dist(self.quad[0], self.quad[3]).max(dist(self.quad[1], self.quad[2]))
    }
    pub fn center(&self) -> [f32; 2] {
        let x = self.quad.iter().map(|p| p[0]).sum::<f32>() / 4.0;
        let y = self.quad.iter().map(|p| p[1]).sum::<f32>() / 4.0;
        [x, y]
    }
    pub fn left(&self) -> f32 {
        self.quad.iter().map(|p| p[0]).fold(f32::MAX, f32::min)
    }
    pub fn top(&self) -> f32 {
        self.quad.iter().map(|p| p[1]).fold(f32::MAX, f32::min)
    }
    pub fn bottom(&self) -> f32 {
        self.quad.iter().map(|p| p[1]).fold(f32::MIN, f32::max)
    }
    pub fn right(&self) -> f32 {
        self.quad.iter().map(|p| p[0]).fold(f32::MIN, f32::max)
    }
}

pub(crate) fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn contract(model: &dyn Model, detail: impl Into<String>) -> DocError {
    DocError::Model(format!("{}: {}", model.name(), detail.into()))
}

/// DB text detector (PP-OCRv6 det).
pub struct TextDetector {
    model: Arc<dyn Model>,
    /// Longest side of the network input; bounds the detector's cost whatever the photo's size.
    pub max_side: u32,
    pub thresh: f32,
    pub box_thresh: f32,
    pub unclip_ratio: f32,
}

impl TextDetector {
    pub fn new(model: Arc<dyn Model>) -> Result<Self, DocError> {
        if model.input_names().len() != 1 || model.output_names().is_empty() {
            return Err(contract(model.as_ref(), "expected one input and an output"));
        }
        Ok(TextDetector { model, max_side: 960, thresh: 0.3, box_thresh: 0.55, unclip_ratio: 1.6 })
    }

    pub fn detect(&self, img: &RgbImage) -> Result<Vec<TextBox>, DocError> {
        self.detect_max(img, self.max_side)
    }

    /// Detect with the network input's longest side at most `max_side` (never enlarged).
    pub fn detect_max(&self, img: &RgbImage, max_side: u32) -> Result<Vec<TextBox>, DocError> {
        let (w, h) = img.dimensions();
        if w < 8 || h < 8 {
            return Ok(Vec::new());
        }
        let k = (max_side as f32 / w.max(h) as f32).min(1.0);
        let rw = (((w as f32 * k) / 32.0).round() as u32).max(1) * 32;
        let rh = (((h as f32 * k) / 32.0).round() as u32).max(1) * 32;
        let resized = image::imageops::resize(img, rw, rh, image::imageops::FilterType::Triangle);
        let plane = (rw * rh) as usize;
        let mut input = vec![0f32; 3 * plane];
        for (i, p) in resized.pixels().enumerate() {
            // The network was trained on BGR input scaled to [-1, 1].
            input[i] = p.0[2] as f32 / 127.5 - 1.0;
            input[plane + i] = p.0[1] as f32 / 127.5 - 1.0;
            input[2 * plane + i] = p.0[0] as f32 / 127.5 - 1.0;
        }
        let shape = [1, 3, rh as usize, rw as usize];
        let name = self.model.input_names()[0].clone();
        let out = self.model.run(&[(&name, TensorView::new(&shape, &input)?)])?;
        let out_name = self.model.output_names()[0].clone();
        let prob = out.get(&out_name)?;
        let n = prob.data.len();
        if n != plane {
            return Err(contract(self.model.as_ref(), format!("probability map has {n} values, expected {plane}")));
        }
        let (sx, sy) = (w as f32 / rw as f32, h as f32 / rh as f32);
        Ok(self.boxes(&prob.data, rw, rh, sx, sy))
    }

    fn boxes(&self, prob: &[f32], w: u32, h: u32, sx: f32, sy: f32) -> Vec<TextBox> {
        let mut bin = GrayImage::from_fn(w, h, |x, y| Luma([u8::from(prob[(y * w + x) as usize] > self.thresh) * 255]));
        // A 2×2 dilation joins characters whose gaps the map leaves open, as PP-OCR does.
        let src = bin.clone();
        for y in 0..h {
            for x in 0..w {
                if src.get_pixel(x, y).0[0] == 0
                    && ((x > 0 && src.get_pixel(x - 1, y).0[0] > 0)
                        || (y > 0 && src.get_pixel(x, y - 1).0[0] > 0)
                        || (x > 0 && y > 0 && src.get_pixel(x - 1, y - 1).0[0] > 0))
                {
                    bin.put_pixel(x, y, Luma([255]));
                }
            }
        }
        let labels = connected_components(&bin, Connectivity::Eight, Luma([0u8]));
        let mut comps: Vec<(Vec<Point<i32>>, f32)> = Vec::new();
        for (x, y, l) in labels.enumerate_pixels() {
            let id = l.0[0] as usize;
            if id == 0 {
                continue;
            }
            if comps.len() < id {
                comps.resize_with(id, || (Vec::new(), 0.0));
            }
            comps[id - 1].0.push(Point::new(x as i32, y as i32));
            comps[id - 1].1 += prob[(y * w + x) as usize];
        }
        let mut out = Vec::new();
        for (pts, sum) in comps.into_iter().filter(|(p, _)| p.len() >= 12) {
            let score = sum / pts.len() as f32;
            if score < self.box_thresh {
                continue;
            }
            let rect = imageproc::geometry::min_area_rect(&pts);
            let mut q: Vec<[f32; 2]> = rect.iter().map(|p| [p.x as f32, p.y as f32]).collect();
            let (rw, rh) = (dist(q[0], q[1]), dist(q[1], q[2]));
            if rw.min(rh) < 2.0 {
                continue;
            }
            // Unclip: the map marks a shrunk text core; grow by area·ratio/perimeter on every side.
            // The +1 accounts for pixel centres vs pixel extents.
            let (rw, rh) = (rw + 1.0, rh + 1.0);
            let d = rw * rh * self.unclip_ratio / (2.0 * (rw + rh));
            // Each corner moves outward along both of its edges, which offsets every side by d.
            let orig = q.clone();
            for i in 0..4 {
                let (p, prev, next) = (orig[i], orig[(i + 3) % 4], orig[(i + 1) % 4]);
                let unit = |a: [f32; 2], b: [f32; 2]| {
                    let l = dist(a, b).max(1e-3);
                    [(a[0] - b[0]) / l, (a[1] - b[1]) / l]
                };
                let (u1, u2) = (unit(p, prev), unit(p, next));
                q[i] = [(p[0] + (u1[0] + u2[0]) * (d + 0.5)) * sx, (p[1] + (u1[1] + u2[1]) * (d + 0.5)) * sy];
            }
            out.push(TextBox { quad: order_quad([q[0], q[1], q[2], q[3]]), score });
        }
        out
    }
}

/// Corners in reading order (top-left, top-right, bottom-right, bottom-left) for text that is roughly
/// upright (within ±45°): the more horizontal pair of edges gives the reading direction.
pub fn order_quad(q: [[f32; 2]; 4]) -> [[f32; 2]; 4] {
    let c = [q.iter().map(|p| p[0]).sum::<f32>() / 4.0, q.iter().map(|p| p[1]).sum::<f32>() / 4.0];
    let e1 = [q[1][0] - q[0][0], q[1][1] - q[0][1]];
    let e2 = [q[2][0] - q[1][0], q[2][1] - q[1][1]];
    let mut d = if e1[0].abs() * e2[1].abs() >= e2[0].abs() * e1[1].abs() || e2 == [0.0, 0.0] { e1 } else { e2 };
    if d[0] < 0.0 {
        d = [-d[0], -d[1]];
    }
    let len = (d[0] * d[0] + d[1] * d[1]).sqrt();
    if len < 1e-6 {
        return q;
    }
    let d = [d[0] / len, d[1] / len];
    let n = [-d[1], d[0]];
    let mut r = q;
    for p in q {
        let (u, v) = ((p[0] - c[0]) * d[0] + (p[1] - c[1]) * d[1], (p[0] - c[0]) * n[0] + (p[1] - c[1]) * n[1]);
        let slot = match (u < 0.0, v < 0.0) {
            (true, true) => 0,
            (false, true) => 1,
            (false, false) => 2,
            (true, false) => 3,
        };
        r[slot] = p;
    }
    r
}

/// One recognised crop.
#[derive(Clone, Debug)]
pub struct Recognized {
    /// Greedy CTC decode over the full dictionary.
    pub text: String,
    /// Mean probability of the emitted characters.
    pub score: f32,
    /// The same frames decoded over the MRZ alphabet only.
    pub mrz: LineRead,
}

/// CRNN/SVTR recogniser with CTC output (PP-OCRv6 rec).
pub struct TextRecognizer {
    model: Arc<dyn Model>,
    /// Class index → string; index 0 is the CTC blank.
    dict: Vec<String>,
    /// Class index of each MRZ symbol.
    mrz_classes: [usize; 37],
    pub height: u32,
    pub batch: usize,
}

impl TextRecognizer {
    /// `character` is the ONNX metadata value: one symbol per line, classes 1..; a trailing space class is
    /// appended when the network has one more output than the list.
    pub fn new(model: Arc<dyn Model>, character: &str) -> Result<Self, DocError> {
        let mut dict: Vec<String> = vec![String::new()];
        dict.extend(character.split('\n').map(|s| s.trim_end_matches('\r').to_string()));
        dict.push(" ".to_string());
        let mut mrz_classes = [0usize; 37];
        for (i, &c) in ALPHABET.iter().enumerate() {
            let s = (c as char).to_string();
            mrz_classes[i] = dict
                .iter()
                .position(|d| *d == s)
                .ok_or_else(|| contract(model.as_ref(), format!("dictionary lacks MRZ symbol {s:?}")))?;
        }
        Ok(TextRecognizer { model, dict, mrz_classes, height: 48, batch: 8 })
    }

    /// Cut the quad out of `img` as a horizontal strip of the network's height.
    pub fn crop(&self, img: &RgbImage, quad: &[[f32; 2]; 4]) -> RgbImage {
        self.crop_squeezed(img, quad, 1.0)
    }

    /// As [`crop`](Self::crop), with the strip's width scaled by `squeeze`. MRZ lines are set at a wide fixed
    /// pitch, so they stay legible squeezed, and the recogniser's cost grows faster than linearly with width.
    pub fn crop_squeezed(&self, img: &RgbImage, quad: &[[f32; 2]; 4], squeeze: f32) -> RgbImage {
        let h = self.height as f32;
        let (qw, qh) =
            (dist(quad[0], quad[1]).max(dist(quad[3], quad[2])), dist(quad[0], quad[3]).max(dist(quad[1], quad[2])));
        let tw = ((qw / qh.max(1.0)) * h * squeeze).round().clamp(8.0, 48.0 * 60.0) as u32;
        let mut out = RgbImage::from_pixel(tw, self.height, image::Rgb([255, 255, 255]));
        let src =
            [(quad[0][0], quad[0][1]), (quad[1][0], quad[1][1]), (quad[2][0], quad[2][1]), (quad[3][0], quad[3][1])];
        let dst = [(0.0, 0.0), (tw as f32, 0.0), (tw as f32, h), (0.0, h)];
        if let Some(p) = Projection::from_control_points(src, dst) {
            warp_into(img, p, Interpolation::Bilinear, Border::Replicate, &mut out);
        }
        out
    }

    /// Recognise strips (each `height` pixels tall), batched by similar width.
    pub fn recognize(&self, strips: &[RgbImage]) -> Result<Vec<Recognized>, DocError> {
        let mut order: Vec<usize> = (0..strips.len()).collect();
        order.sort_by_key(|&i| strips[i].width());
        let mut results: Vec<Option<Recognized>> = vec![None; strips.len()];
        let h = self.height as usize;
        let name = self.model.input_names()[0].clone();
        let out_name = self.model.output_names()[0].clone();
        for chunk in order.chunks(self.batch.max(1)) {
            let bw = chunk.iter().map(|&i| strips[i].width()).max().unwrap_or(8).max(8) as usize;
            let mut input = vec![0f32; chunk.len() * 3 * h * bw];
            for (b, &i) in chunk.iter().enumerate() {
                let s = &strips[i];
                let base = b * 3 * h * bw;
                for (x, y, p) in s.enumerate_pixels() {
                    let o = y as usize * bw + x as usize;
                    input[base + o] = p.0[2] as f32 / 127.5 - 1.0;
                    input[base + h * bw + o] = p.0[1] as f32 / 127.5 - 1.0;
                    input[base + 2 * h * bw + o] = p.0[0] as f32 / 127.5 - 1.0;
                }
            }
            let shape = [chunk.len(), 3, h, bw];
            let out = self.model.run(&[(&name, TensorView::new(&shape, &input)?)])?;
            let t = out.get(&out_name)?;
            if t.shape.len() != 3 || t.shape[0] != chunk.len() || t.shape[2] != self.dict.len() {
                return Err(contract(
                    self.model.as_ref(),
                    format!("output shape {:?}, expected [{}, T, {}]", t.shape, chunk.len(), self.dict.len()),
                ));
            }
            let (steps, c) = (t.shape[1], t.shape[2]);
            for (b, &i) in chunk.iter().enumerate() {
                let frames = &t.data[b * steps * c..(b + 1) * steps * c];
                results[i] = Some(self.decode(frames, steps, c));
            }
        }
        Ok(results.into_iter().map(|r| r.unwrap_or_else(empty_rec)).collect())
    }

    fn decode(&self, frames: &[f32], steps: usize, c: usize) -> Recognized {
        let mut text = String::new();
        let mut score_sum = 0.0;
        let mut n = 0usize;
        let mut prev = 0usize;
        // MRZ-restricted decode: the blank competes with the 37 MRZ classes only.
        let mut mrz_probs: Vec<[f32; 37]> = Vec::new();
        let mut mrz_prev = usize::MAX;
        let mut mrz_peak = 0.0f32;
        for t in 0..steps {
            let f = &frames[t * c..(t + 1) * c];
            let (mut best, mut bv) = (0usize, f32::MIN);
            for (k, &v) in f.iter().enumerate() {
                if v > bv {
                    bv = v;
                    best = k;
                }
            }
            if best != 0 && best != prev {
                text.push_str(&self.dict[best]);
                score_sum += bv;
                n += 1;
            }
            prev = best;

            let mut p = [0f32; 37];
            let (mut mb, mut mv) = (usize::MAX, f[0]);
            for (j, &k) in self.mrz_classes.iter().enumerate() {
                p[j] = f[k];
                if f[k] > mv {
                    mv = f[k];
                    mb = j;
                }
            }
            if mb == usize::MAX {
                mrz_prev = usize::MAX;
                continue;
            }
            if mb != mrz_prev {
                mrz_probs.push(p);
                mrz_peak = mv;
            } else if mv > mrz_peak {
                // Keep the frame where the symbol is clearest.
                if let Some(last) = mrz_probs.last_mut() {
                    *last = p;
                }
                mrz_peak = mv;
            }
            mrz_prev = mb;
        }
        Recognized { text, score: if n > 0 { score_sum / n as f32 } else { 0.0 }, mrz: LineRead { probs: mrz_probs } }
    }
}

fn empty_rec() -> Recognized {
    Recognized { text: String::new(), score: 0.0, mrz: LineRead { probs: Vec::new() } }
}
